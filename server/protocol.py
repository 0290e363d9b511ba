r"""The wire protocol: how bytes from a client become requests, and how answers and errors are framed.
Bare framing (the seed: one recv is one request, answer without newline) and line framing (n\n, pipelined).
"""

NOT_AN_INTEGER = "not_an_integer"
N_TOO_SMALL = "n_too_small"
N_TOO_LARGE = "n_too_large"
REQUEST_TOO_LONG = "request_too_long"
TOO_MANY_CONNECTIONS = "too_many_connections"
WORKER_FAILED = "worker_failed"


class ProtocolError(Exception):
    """A request that gets an `ERR <reason>` line; `reason` is the metric label."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason

    def reply(self):
        return b"ERR " + str(self).encode() + b"\n"


def too_many_connections():
    return ProtocolError(TOO_MANY_CONNECTIONS, "too many connections")


def parse_n(raw, max_n):
    """ASCII decimal n, surrounding whitespace allowed, 1 <= n <= max_n; else ProtocolError."""
    if raw.isdigit():  # the seed client's b"1": the fast path
        n = int(raw)
    else:
        text = raw.strip()
        digits = text[1:] if text[:1] in (b"+", b"-") else text
        if not digits.isdigit():  # bytes.isdigit is ASCII-only: no underscores, no other scripts
            raise ProtocolError(NOT_AN_INTEGER, "not an integer")
        n = int(text)
    if n < 1:
        raise ProtocolError(N_TOO_SMALL, "n must be >= 1")
    if n > max_n:
        raise ProtocolError(N_TOO_LARGE, f"n above maximum {max_n}")
    return n


class Framer:
    """Splits a connection's byte stream into requests.

    - A chunk without a newline, on a connection that has sent no newline yet, is one bare request
      (the seed's framing: the client sends b"1" and waits); its answer carries no newline.
    - Once a newline is seen the connection is in line mode: each line is a request, partial lines wait
      for the rest, and answers end in a newline. Several lines in one send are answered in order.
    - A request longer than max_bytes gets one `ERR request too long`, and the rest of it is skipped up to
      and including its newline, so the connection stays usable. A bare chunk that long has no end the
      server could see: it is taken as the start of an over-long line, and the connection goes on in line
      mode after the next newline (a 10 KiB line sent in one go gets one error, not one per recv).
    feed() returns a list of (raw bytes or ProtocolError, newline_wanted).
    """

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self.line_mode = False
        self.buffer = b""
        self.skipping = False  # inside an over-long line, until its newline

    def feed(self, data):
        if not self.line_mode and b"\n" not in data:
            if len(data) > self.max_bytes:
                self.line_mode = self.skipping = True
                return [(ProtocolError(REQUEST_TOO_LONG, "request too long"), False)]
            return [(data, False)]
        self.line_mode = True
        requests = []
        lines = (self.buffer + data).split(b"\n")
        self.buffer = lines.pop()
        for line in lines:
            if self.skipping:
                self.skipping = False
                continue
            if len(line) > self.max_bytes:
                requests.append((ProtocolError(REQUEST_TOO_LONG, "request too long"), True))
            else:
                requests.append((line, True))
        if len(self.buffer) > self.max_bytes:
            if not self.skipping:
                requests.append((ProtocolError(REQUEST_TOO_LONG, "request too long"), True))
            self.skipping = True
            self.buffer = b""
        return requests

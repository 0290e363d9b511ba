"""A raw-TCP Locust client for the prime server: one persistent connection, one round trip per request.
Every request (success or failure) fires environment.events.request, so stats, CSV, HTML and metrics see it.
"""
from __future__ import annotations

import logging
import socket
import time
from typing import TYPE_CHECKING

from loadgen.answers import expected_answer

if TYPE_CHECKING:
    from locust.event import Events

REQUEST_TYPE = "TCP"
FRAMINGS = ("bare", "line")
log = logging.getLogger("loadgen")


class RequestFailed(Exception):
    """Base of the failures shown in Locust's failure table (their text is the table's row)."""


class WrongAnswer(RequestFailed):
    pass


class ServerError(RequestFailed):
    pass


class ConnectionLost(RequestFailed):
    pass


class RequestTimeout(RequestFailed):
    pass


class _OutageLog:
    """One log line when a process starts failing and one when it recovers, instead of a line per request."""
    failing = False

    @classmethod
    def failed(cls, error):
        if not cls.failing:
            cls.failing = True
            log.warning("requests are failing (recorded in Locust's failure table, reconnecting with backoff): %s",
                        error)

    @classmethod
    def succeeded(cls):
        if cls.failing:
            cls.failing = False
            log.info("requests are succeeding again")


class PrimeClient:
    """Asks the server for the nth prime, over and over, on one connection; checks every answer."""

    def __init__(self, events: Events, host: str, port: int, name: str, n: int, timeout: float,
                 connect_timeout: float = 5.0, framing: str = "bare", backoff_max: float = 2.0,
                 backoff_first: float = 0.05) -> None:
        if framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")
        self._fire = events.request.fire
        self.address = (host, port)
        self.name = name
        self.n = n
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.line = framing == "line"
        self.payload = str(n).encode() + (b"\n" if self.line else b"")
        answer = expected_answer(n)
        self.expected = None if answer is None else answer + (b"\n" if self.line else b"")
        self.backoff_max = backoff_max
        self.backoff_first = backoff_first
        self.failures_in_a_row = 0
        self.sock = None
        self._context = {}

    def connect(self) -> None:
        sock = socket.create_connection(self.address, timeout=self.connect_timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.timeout)
        self.sock = sock

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            sock.close()

    def ask(self) -> bool:
        """One request, one round trip, one request event. Returns True on a correct answer."""
        start = time.perf_counter()
        try:
            if self.sock is None:
                self.connect()
            sock = self.sock
            sent = sock.send(self.payload)  # a few bytes: one send() takes them all (sendall costs more in gevent)
            if sent != len(self.payload):
                sock.sendall(self.payload[sent:])
            answer = sock.recv(4096)
            if answer == self.expected:  # the fast path: a correct answer in one read
                self._fire(request_type=REQUEST_TYPE, name=self.name,
                           response_time=(time.perf_counter() - start) * 1000.0,
                           response_length=len(answer), exception=None, context=self._context)
                if self.failures_in_a_row:
                    self._recovered()
                return True
            if self.line:
                while answer and not answer.endswith(b"\n"):
                    more = sock.recv(4096)
                    if not more:
                        break
                    answer += more
            error = self._judge(answer)
        except socket.timeout:
            error = RequestTimeout(f"no answer within {self.timeout:g} s (n={self.n})")
        except OSError as exc:
            error = ConnectionLost(f"{self.address[0]}:{self.address[1]}: {exc.strerror or exc}")
        elapsed = (time.perf_counter() - start) * 1000.0
        if error is None:
            self._fire(request_type=REQUEST_TYPE, name=self.name, response_time=elapsed,
                       response_length=len(answer), exception=None, context=self._context)
            if self.failures_in_a_row:
                self._recovered()
            return True
        self._fire(request_type=REQUEST_TYPE, name=self.name, response_time=elapsed,
                   response_length=0, exception=error, context=self._context)
        self._failed(error)
        return False

    def _judge(self, answer):
        """None if the answer is right, else the failure to record."""
        if not answer:
            return ConnectionLost("server closed the connection")
        text = answer.strip()
        if text.startswith(b"ERR "):
            return ServerError(f"server answered {text.decode(errors='replace')!r}")
        if self.expected is None and text.isdigit():
            return None  # n too large to check here: any decimal answer counts
        if self.expected is not None and text == self.expected.strip():
            return None  # e.g. a line answer split over two reads
        shown = answer[:40].decode(errors="replace")
        want = "a decimal integer" if self.expected is None else self.expected.strip().decode()
        return WrongAnswer(f"wrong answer {shown!r} for n={self.n}, expected {want}")

    def _failed(self, error):
        # After a failure the connection may be out of step (or gone): start afresh, after a bounded backoff.
        keep = isinstance(error, ServerError) and "too many connections" not in str(error)
        if not keep:
            self.close()
        _OutageLog.failed(error)
        self.failures_in_a_row += 1
        delay = min(self.backoff_max, self.backoff_first * 2 ** min(self.failures_in_a_row - 1, 16))
        time.sleep(delay)  # gevent-patched under Locust: other users keep running

    def _recovered(self):
        self.failures_in_a_row = 0
        _OutageLog.succeeded()

"""The control endpoint: read or change the running server's switch interval over HTTP, without a restart.

The HTTP side runs in the exporter process, which has its own GIL: a hog holding the server's GIL cannot slow
down reading the request. A change travels to the server's main thread (server/control_link.py), which needs
the server's GIL once to apply it, so at a long switch interval with a hog running a change takes about one
interval. Requests are bounded in number, size and reading time.
`python -m server.control switch-interval [SECONDS]` is its command-line client.
"""
import argparse
import http.server
import json
import os
import queue
import socket
import sys
import threading
import urllib.error
import urllib.request

from server.config import DEFAULT_CONTROL_PORT, check_switch_interval, env_name
from server.control_link import CONTROL_SIGNAL

MAX_BODY_BYTES = 1024
MAX_CONCURRENT_REQUESTS = 8  # more at once get 503 at once, without a thread
READ_DEADLINE_S = 5.0  # to send the whole request: a slow or stalled client loses its connection
START_WAIT_S = 10.0  # a request that arrives while the server is still starting waits this long for it


def parse_interval(text):
    """Seconds from a request body: a bare number, or {"switch_interval_s": <JSON number>}; else ValueError."""
    text = text.strip()
    try:
        if text.startswith("{"):
            value = json.loads(text)["switch_interval_s"]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError
            seconds = float(value)
        else:
            seconds = float(text)
    except (ValueError, KeyError, TypeError, OverflowError):
        raise ValueError(f"not a number of seconds: {text[:40]!r}") from None
    return check_switch_interval(seconds)


class ServerGone(Exception):
    pass


class ServerLink:
    """The exporter's end of the link to the server: applies a change there and knows the current interval."""

    def __init__(self, sock, slot, server_pid):
        self.sock = sock
        self.slot = slot
        self.server_pid = server_pid
        self.started = threading.Event()  # the server has finished starting
        self.interval = None
        self._replies = queue.Queue()
        self._lock = threading.Lock()  # one change in flight: it owns the slot until its reply comes
        # Numbered after our pid: a reply meant for an exporter that died before reading it is never taken for ours.
        self._number = os.getpid() << 32

    def run(self):
        """Read the server's lines until it closes the link (it is stopping) or dies."""
        for line in self.sock.makefile("rb"):
            word, _, rest = line.decode("ascii", "replace").strip().partition(" ")
            if word == "started":
                self.interval = float(rest)
                self.started.set()
            else:
                number, _, text = rest.partition(" ")
                self._replies.put((word, number, text))

    def set(self, seconds):
        """Apply a switch interval in the server; returns the interval it now has (ValueError if refused)."""
        with self._lock:
            self._number += 1
            self.slot.write(self._number, seconds)
            try:
                os.kill(self.server_pid, CONTROL_SIGNAL)
            except OSError as error:  # the server is gone (we die with it in a moment)
                raise ServerGone(str(error)) from None
            while True:
                word, number, text = self._replies.get()
                if number == str(self._number):
                    break
        if word != "ok":
            raise ValueError(text)
        self.interval = float(text)
        return self.interval


class ControlHandler(http.server.BaseHTTPRequestHandler):
    server_version = "gil-lab-control"
    timeout = READ_DEADLINE_S  # per socket operation; the deadline below bounds the whole request

    def setup(self):
        super().setup()
        self._deadline = threading.Timer(READ_DEADLINE_S, self._expire)
        self._deadline.daemon = True
        self._deadline.start()

    def _expire(self):
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # wakes the blocked read with end-of-file
        except OSError:
            pass

    def finish(self):
        self._deadline.cancel()
        super().finish()

    def do_GET(self):
        self._deadline.cancel()
        link = self.server.link
        if self.path not in ("/healthz", "/switch-interval"):
            return self._error(404, "unknown path; try /switch-interval")
        if not link.started.wait(START_WAIT_S):
            return self._error(503, "the server is still starting")
        if self.path == "/healthz":
            return self._send(200, "text/plain", b"ok\n")
        return self._send_interval(link.interval)

    def do_PUT(self):
        if self.path != "/switch-interval":
            return self._error(404, "unknown path; try /switch-interval")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return self._error(400, "bad Content-Length")
        if not 0 < length <= MAX_BODY_BYTES:
            return self._error(400, "send the interval in seconds as the body, e.g. 0.002")
        body = self.rfile.read(length)
        self._deadline.cancel()
        if len(body) < length:
            return self._error(400, "the body is shorter than its Content-Length")
        try:
            seconds = parse_interval(body.decode("utf-8", "replace"))
        except ValueError as error:
            return self._error(400, str(error))
        link = self.server.link
        if not link.started.wait(START_WAIT_S):
            return self._error(503, "the server is still starting")
        try:
            value = link.set(seconds)  # about one switch interval: the server's GIL, once
        except ValueError as error:
            return self._error(400, str(error))
        except ServerGone:
            return self._error(503, "the server is gone")
        return self._send_interval(value)

    do_POST = do_PUT

    def _send_interval(self, seconds):
        return self._send(200, "application/json", json.dumps({"switch_interval_s": seconds}).encode() + b"\n")

    def _error(self, status, message):
        return self._send(status, "application/json", json.dumps({"error": message}).encode() + b"\n")

    def _send(self, status, content_type, body):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client left, or its deadline closed the connection

    def log_message(self, format, *args):  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # the server logs each change itself


class ControlServer(http.server.ThreadingHTTPServer):
    """The HTTP endpoint, in the exporter: a thread per request, at most MAX_CONCURRENT_REQUESTS at once."""

    daemon_threads = True
    REFUSAL = json.dumps({"error": "too many control requests at once; try again"}).encode() + b"\n"

    def __init__(self, address, link, max_requests=MAX_CONCURRENT_REQUESTS):
        super().__init__(address, ControlHandler)
        self.link = link
        self._slots = threading.BoundedSemaphore(max_requests)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            return self._refuse(request)
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def _refuse(self, request):
        try:
            request.setblocking(False)
            request.send(b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(self.REFUSAL) + self.REFUSAL)
            request.recv(65536)  # what the client already sent, so that closing sends FIN, not RST
        except OSError:
            pass
        self.shutdown_request(request)

    def start(self):
        threading.Thread(target=self.serve_forever, name="control", daemon=True).start()


def main(argv=None):
    default_url = os.environ.get("PRIMES_CONTROL_URL") or (
        f"http://127.0.0.1:{os.environ.get(env_name('--control-port')) or DEFAULT_CONTROL_PORT}")
    parser = argparse.ArgumentParser(prog="python -m server.control",
                                     description="Read or change a running prime server's switch interval.")
    parser.add_argument("--url", default=default_url,
                        help="the server's control endpoint [env PRIMES_CONTROL_URL] (default: %(default)s)")
    parser.add_argument("--timeout", type=float, default=90.0,
                        help="seconds to wait: a change takes about one switch interval of the running server "
                             "(up to a minute), since the server needs its GIL once to apply it")
    commands = parser.add_subparsers(dest="command", required=True)
    interval = commands.add_parser("switch-interval", help="print the switch interval, or set it to SECONDS")
    interval.add_argument("seconds", nargs="?", help="new switch interval in seconds, e.g. 0.002")
    args = parser.parse_args(argv)

    url = args.url.rstrip("/") + "/switch-interval"
    request = urllib.request.Request(url)
    if args.seconds is not None:
        request = urllib.request.Request(url, data=args.seconds.encode(), method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout) as response:
            print(json.loads(response.read())["switch_interval_s"])
            return 0
    except urllib.error.HTTPError as error:
        try:
            reason = json.loads(error.read())["error"]
        except (ValueError, KeyError, TypeError):
            reason = f"HTTP {error.code} {error.reason}"
        print(f"error: {reason}", file=sys.stderr)
    except (urllib.error.URLError, OSError) as error:
        print(f"error: cannot reach the control endpoint at {args.url}: {error}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

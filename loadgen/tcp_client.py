"""A raw-TCP Locust client for the prime server: one persistent connection, one round trip per request.

Every request (success or failure) fires environment.events.request, so stats, CSV, HTML and metrics see it.

The connection is an OS socket, waited on with gevent's loop directly: one io watcher per connection and one
lazily re-armed deadline timer. gevent's cooperative socket would, per request, first try a recv that fails
with EAGAIN (a syscall and an exception), then start and stop a new timeout timer: together about a third of
the client's CPU per cheap request (docs/benchmarks.md).

Two measures keep one user from being the limit of what it measures:
- A user alone in its process (`wait_blocking`) first waits for an answer in a blocking recv() of at most
  BLOCKING_WAIT_S, as the seed's client does: no other user can be held up by it, and a cheap answer comes
  well within it. Only a slower answer goes through gevent's loop (the trip through the loop costs as much CPU
  as the raw client's whole request).
- In a run of requests (`ask(hold=True)`), a correct answer's event is fired just after the next request is
  sent, so Locust's bookkeeping runs while the server works. The server still sees one request at a time, each
  event carries its own response time, and a held event is fired before anything else is (flush()).
"""
from __future__ import annotations

import logging
import socket
import struct
import time
from typing import TYPE_CHECKING

from gevent import get_hub, getcurrent
from gevent.monkey import get_original
from gevent.socket import wait_write

from loadgen.answers import expected_answer

if TYPE_CHECKING:
    from locust.event import Events

OsSocket = get_original("socket", "socket")  # the unpatched class, also when Locust has monkey-patched socket

REQUEST_TYPE = "TCP"
BLOCKING_WAIT_S = 0.001  # a lone user's blocking wait for an answer (SO_RCVTIMEO) before it yields to gevent
_TIMEVAL = struct.Struct("ll")  # struct timeval: seconds, microseconds
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


class _Deadline:
    """The request timeout without a timer per request: the client notes when its wait began; one timer checks.

    The timer fires at most every `seconds`; if the wait it finds began `seconds` ago or more, it throws
    RequestTimeout into the waiting greenlet (as gevent.Timeout does), else it re-arms for what is left.
    """

    def __init__(self, seconds, greenlet, what):
        self.seconds = seconds
        self.greenlet = greenlet
        self.what = what
        self.waiting_since = None  # perf_counter() when the current wait's request began; None: not waiting
        self.timer = None
        self._arm(seconds)

    def _arm(self, after):
        # ref=False: this timer alone does not keep the event loop alive.
        self.timer = get_hub().loop.timer(max(after, 0.001), ref=False)
        self.timer.start(self._check)

    def _check(self):
        self.timer.close()
        since = self.waiting_since
        left = self.seconds if since is None else self.seconds - (time.perf_counter() - since)
        if left <= 0:
            self.waiting_since = None
            self._arm(self.seconds)
            self.greenlet.throw(RequestTimeout(f"no answer within {self.seconds:g} s ({self.what})"))
        else:
            self._arm(left)

    def close(self):
        if self.timer is not None:
            self.timer.close()
            self.timer = None


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
        self._readable = None
        self._deadline = None
        self._wait = get_hub().wait
        self._context = {}
        self._held = None  # (response time ms, length) of a correct answer whose event waits for the next send
        self.wait_blocking = False  # set by the user: True when it is the only user in its process

    def connect(self) -> None:
        cooperative = socket.create_connection(self.address, timeout=self.connect_timeout)  # gevent's, under Locust
        sock = OsSocket(fileno=cooperative.detach())
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Blocking mode with a kernel receive timeout, so recv() waits at most BLOCKING_WAIT_S; every other
        # call passes MSG_DONTWAIT and never blocks.
        sock.setblocking(True)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, _TIMEVAL.pack(0, int(BLOCKING_WAIT_S * 1e6)))
        self._readable = get_hub().loop.io(sock.fileno(), 1)
        self._deadline = _Deadline(self.timeout, getcurrent(), f"n={self.n}")
        self.sock = sock

    def flush(self) -> None:
        """Fire the event of a held answer now (the end of a run of requests)."""
        held, self._held = self._held, None
        if held is not None:
            self._fire(request_type=REQUEST_TYPE, name=self.name, response_time=held[0], response_length=held[1],
                       exception=None, context=self._context)

    def close(self) -> None:
        # Called from the user's own greenlet (on_stop, or after a failure), never while it waits on the watcher.
        self.flush()
        sock, self.sock = self.sock, None
        watcher, self._readable = self._readable, None
        if watcher is not None:
            watcher.close()
        deadline, self._deadline = self._deadline, None
        if deadline is not None:
            deadline.close()
        if sock is not None:
            sock.close()

    def _recv(self, start):
        """The next bytes of the answer (b"" when the server closed): wait until readable, then one recv.

        Raises RequestTimeout once `timeout` seconds have passed since `start`, the request's perf_counter()."""
        if self.wait_blocking:
            try:
                return self.sock.recv(4096)  # blocks at most BLOCKING_WAIT_S
            except BlockingIOError:
                pass  # not yet: wait in gevent's loop, where other greenlets run
        while True:
            deadline = self._deadline
            deadline.waiting_since = start
            try:
                self._wait(self._readable)
            finally:
                deadline.waiting_since = None
            try:
                return self.sock.recv(4096, socket.MSG_DONTWAIT)
            except BlockingIOError:  # a spurious wake-up: wait again
                continue

    def _send_rest(self, data):
        # Only if the kernel's send buffer is full, which a few bytes on an idle connection never meet.
        while data:
            try:
                data = data[self.sock.send(data, socket.MSG_DONTWAIT):]
            except BlockingIOError:
                wait_write(self.sock.fileno(), timeout=self.timeout,
                           timeout_exc=TimeoutError(f"could not send within {self.timeout:g} s"))

    def ask(self, hold: bool = False) -> bool:
        """One request, one round trip, one request event. Returns True on a correct answer.

        hold=True: a correct answer's event waits until the next ask() has sent its request, or flush()."""
        start = time.perf_counter()
        try:
            if self.sock is None:
                self.connect()
            sock = self.sock
            try:
                sent = sock.send(self.payload, socket.MSG_DONTWAIT)  # a few bytes: one send() takes them all
            except BlockingIOError:
                sent = 0
            if sent != len(self.payload):
                self._send_rest(self.payload[sent:])
            if self._held is not None:
                self.flush()  # the previous answer's event, while the server works on this request
            answer = self._recv(start)
            if answer == self.expected:  # the fast path: a correct answer in one read
                elapsed = (time.perf_counter() - start) * 1000.0
                if hold:
                    self._held = (elapsed, len(answer))
                else:
                    self._fire(request_type=REQUEST_TYPE, name=self.name, response_time=elapsed,
                               response_length=len(answer), exception=None, context=self._context)
                if self.failures_in_a_row:
                    self._recovered()
                return True
            if self.line:
                while answer and not answer.endswith(b"\n"):
                    more = self._recv(start)
                    if not more:
                        break
                    answer += more
            error = self._judge(answer)
        except RequestTimeout as timeout:
            error = timeout
        except TimeoutError:  # connecting (socket.timeout)
            error = RequestTimeout(f"no answer within {self.timeout:g} s (n={self.n})")
        except OSError as exc:
            error = ConnectionLost(f"{self.address[0]}:{self.address[1]}: {exc.strerror or exc}")
        elapsed = (time.perf_counter() - start) * 1000.0
        self.flush()  # events stay in order: a held answer's before this one's
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

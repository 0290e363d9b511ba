"""A client that leaves while its request computes cancels it, whatever it sent before it left.

Every model, bare and line framing: unread bytes (a later request, a partial line) in front of the
end-of-stream must not hide it. A client that pipelines behind a long request and stays must not be
cancelled, and the disconnect watcher must not spin on such a readable socket.
"""
import socket
import struct
import time

import pytest

from tests.support import ask, epoll_waiting_threads, run_server, thread_activity, wait_until

pytestmark = pytest.mark.reliability

MODELS = ["thread", "pool", "process", "serial"]
LONG = 200000  # with the seed's naive loop: many minutes, so only a cancel ends it within the test


@pytest.fixture(scope="module", params=MODELS)
def server(request):
    with run_server("--model", request.param, "--workers", "2", "--algorithm", "naive", "--no-monitor") as s:
        s.model = request.param
        yield s


def expensive_in_progress(server):
    return server.metric("primes_requests_in_progress", kind="expensive")


def start_long_request(server, first):
    sock = server.connect()
    sock.sendall(first)
    wait_until(lambda: expensive_in_progress(server) == 1)
    return sock


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    sock.close()


def half_close(sock):
    sock.shutdown(socket.SHUT_WR)
    return sock


# (first bytes, bytes sent 0.3 s into the computation, how the client leaves)
CASES = {
    "line, then a request": (b"%d\n" % LONG, b"1\n", socket.socket.close),
    "line, then a partial line": (b"%d\n" % LONG, b"12", socket.socket.close),
    "bare, then a request": (b"%d" % LONG, b"1", socket.socket.close),
    "bare, then nothing": (b"%d" % LONG, b"", socket.socket.close),
    "line, then a request, reset": (b"%d\n" % LONG, b"1\n", reset),
    "bare, then a request, reset": (b"%d" % LONG, b"5", reset),
    "line, then a request, half-close": (b"%d\n" % LONG, b"7\n", half_close),
}


@pytest.mark.parametrize("case", CASES)
def test_leaving_cancels_within_a_second(server, case):
    first, later, leave = CASES[case]
    cancelled = server.metric("primes_cancelled_total", kind="expensive")
    sock = start_long_request(server, first)
    time.sleep(0.3)
    if later:
        sock.sendall(later)
        time.sleep(0.1)  # the bytes are in the server's receive queue before the end-of-stream
    left = time.monotonic()
    leave(sock)
    wait_until(lambda: expensive_in_progress(server) == 0, timeout=10)
    took = time.monotonic() - left
    sock.close()
    print(f"{server.model} / {case}: cancelled {took:.3f}s after the client left")
    assert took < 1.0
    assert server.metric("primes_cancelled_total", kind="expensive") == cancelled + 1
    with server.connect() as other:
        assert ask(other, b"10\n") == b"29\n"


def test_a_pipelining_client_that_stays_is_not_cancelled(server):
    cancelled = server.metric("primes_cancelled_total", kind="expensive")
    # The watcher may still be handling the previous test's hang-up (or waiting for the GIL to): until it is
    # back in epoll_wait, no thread is.
    watcher = wait_until(lambda: epoll_waiting_threads(server.proc.pid), timeout=10)
    assert len(watcher) == 1
    with start_long_request(server, b"%d\n1\n" % LONG) as sock:
        sock.sendall(b"2\n3")  # more requests and a partial one wait, unread, behind the computation
        before = thread_activity(server.proc.pid, watcher)
        time.sleep(2.0)
        assert expensive_in_progress(server) == 1
        assert server.metric("primes_cancelled_total", kind="expensive") == cancelled
        # Readable bytes must not wake the watcher (it would spin): it slept through all of it.
        after = thread_activity(server.proc.pid, watcher)
        assert after[0] - before[0] <= 1 and after[1] - before[1] <= 2, (before, after)
    wait_until(lambda: expensive_in_progress(server) == 0, timeout=5)
    assert server.metric("primes_cancelled_total", kind="expensive") == cancelled + 1
    assert "Traceback" not in server.log()

"""Pipelined requests are answered without waiting for Nagle, and the seed's ping-pong path is unchanged.

Speed figures (p50/p99 of a 10-request pipeline next to a single request) come from bench_pipelining.py;
here only the qualitative effect is asserted: no round waits for the client's delayed ACK (~40 ms).
"""
import re
import signal
import subprocess
import time

import pytest

from tests.support import ask, need_strace, run_server, wait_until

pytestmark = pytest.mark.reliability

DEPTH = 10
ROUNDS = 150


def expected(n_values):
    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    return b"".join(b"%d\n" % primes[n - 1] for n in n_values)


def round_trips(sock, send):
    """Seconds per round: `send` writes DEPTH requests, then all DEPTH replies are read and checked."""
    times = []
    want = expected([i % 10 + 1 for i in range(DEPTH)])
    for _ in range(ROUNDS):
        started = time.perf_counter()
        send(sock)
        got = b""
        while len(got) < len(want):
            got += sock.recv(4096)
        times.append(time.perf_counter() - started)
        assert got == want
    return sorted(times)


def one_send(sock):
    sock.sendall(b"".join(b"%d\n" % (i % 10 + 1) for i in range(DEPTH)))


def one_send_per_request(sock):
    for i in range(DEPTH):
        sock.sendall(b"%d\n" % (i % 10 + 1))


def stalled(times):
    return sum(1 for t in times if t >= 0.030)


@pytest.mark.parametrize("send", [one_send, one_send_per_request])
@pytest.mark.parametrize("model", ["thread", "process"])
def test_a_pipeline_does_not_wait_for_the_delayed_ack(model, send):
    with run_server("--model", model, "--no-monitor") as server, server.connect() as sock:
        times = round_trips(sock, send)
        median = times[len(times) // 2]
        print(f"{model}, {send.__name__}: median {median * 1e3:.2f} ms, p99 {times[int(len(times) * 0.99)] * 1e3:.2f} "
              f"ms, {stalled(times)} of {ROUNDS} rounds >= 30 ms")
        # With Nagle nearly every round took about 44 ms; a busy machine may stretch some rounds, not most.
        assert median < 0.010
        assert stalled(times) < ROUNDS // 4


def handler_calls(trace):
    """The system calls, in order, of the one traced thread that sent replies (the connection's handler)."""
    calls = {}
    for line in trace.read_text().splitlines():
        match = re.match(r"(\d+)\s+(\w+)\(", line)
        if match:
            calls.setdefault(match.group(1), []).append(match.group(2))
    handlers = [names for names in calls.values() if "sendto" in names]
    assert len(handlers) == 1, calls
    return handlers[0]


@pytest.mark.parametrize("model", ["thread", "pool"])
def test_the_seed_ping_pong_is_one_recv_and_one_send_per_request(model, tmp_path):
    """The seed client's path, as the kernel sees it: per request exactly one recvfrom and one sendto in the
    connection's thread, and nothing else there that could let the GIL go (no poll for a timeout)."""
    need_strace()
    requests = 200
    trace = tmp_path / "trace"
    with run_server("--model", model, "--no-monitor") as server, server.connect() as sock:
        assert ask(sock, b"1") == b"2"  # the handler thread exists before the trace starts
        tracer = subprocess.Popen(["strace", "-f", "-qq", "-o", str(trace), "-p", str(server.proc.pid),
                                   "-e", "trace=!futex,clock_gettime,clock_nanosleep,getpid,gettid"])
        try:
            wait_until(lambda: trace.exists() and trace.stat().st_size > 0 or tracer.poll() is not None, timeout=10)
            time.sleep(0.5)  # attached to every thread
            for _ in range(requests):
                assert ask(sock, b"1") == b"2"
            time.sleep(0.3)
        finally:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=10)
    handler = handler_calls(trace)
    # A latency sample takes its receive with recvmsg (the kernel's receive timestamp comes with the data) in
    # place of recvfrom: still one receive per request (how many are sampled depends on the pace, which
    # strace itself slows).
    receives = ["recvfrom" if name == "recvmsg" else name for name in handler]
    # the last recvfrom may still be waiting for the next request when the trace ends
    assert receives in (["recvfrom", "sendto"] * requests, ["recvfrom", "sendto"] * requests + ["recvfrom"]), \
        handler


def test_the_process_model_sends_a_pipeline_to_one_worker_in_one_task(tmp_path):
    """One round trip to a worker per pipeline, not one per request: each costs far more than a cheap answer
    (p99 of a 10-request pipeline 1.2 ms one by one, 0.55 ms in one task, bench_pipelining.py)."""
    need_strace()
    pipelines = 20
    trace = tmp_path / "trace"
    with run_server("--model", "process", "--workers", "1", "--no-monitor") as server, server.connect() as sock:
        assert ask(sock, b"1\n") == b"2\n"  # the handler thread exists before the trace starts
        tracer = subprocess.Popen(["strace", "-qq", "-o", str(trace), "-p", str(server.proc.pid), "-f",
                                   "-e", "trace=write,sendto"])
        try:
            time.sleep(1.0)  # attached to every thread (nothing is traced before the first pipeline)
            assert tracer.poll() is None, "strace exited"
            want = expected([i % 10 + 1 for i in range(DEPTH)])
            for _ in range(pipelines):
                one_send(sock)
                got = b""
                while len(got) < len(want):
                    got += sock.recv(4096)
                assert got == want
            time.sleep(0.3)
        finally:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(timeout=10)
    handler = handler_calls(trace)
    writes_per_pipeline = handler.count("write") / pipelines
    assert handler.count("sendto") == pipelines  # the replies of a pipeline in one send
    assert writes_per_pipeline <= 3, handler  # one task (a length header and its data); one by one it was 10+


def test_the_process_model_answers_bad_requests_in_a_pipeline_in_place():
    with run_server("--model", "process", "--workers", "2", "--no-monitor") as server, server.connect() as sock:
        sock.sendall(b"1\nx\n3\n0\n5\n")
        got = b""
        while got.count(b"\n") < 5:
            got += sock.recv(4096)
        lines = got.split(b"\n")
        assert len(lines) == 6 and lines[5] == b"", got
        assert [lines[0], lines[2], lines[4]] == [b"2", b"5", b"11"], got
        assert lines[1].startswith(b"ERR ") and lines[3].startswith(b"ERR "), got
        wait_until(lambda: server.metric("primes_requests_total", kind="cheap") == 3, timeout=5)
        assert sum(server.metric("primes_errors_total", reason=reason) or 0
                   for reason in ("not_an_integer", "n_too_small")) == 2


def test_a_pipeline_cancelled_in_a_worker_stops_at_once():
    """A client gone while its pipeline computes in one worker task: the task stops within a second and the
    worker serves the next client."""
    with run_server("--model", "process", "--workers", "1", "--no-monitor") as server:
        with server.connect() as sock:
            sock.sendall(b"1\n100000\n1\n")
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="cheap") == 1
                       or server.metric("primes_requests_in_progress", kind="expensive") == 1, timeout=5)
            time.sleep(0.3)
        left = time.monotonic()
        wait_until(lambda: server.metric("primes_cancelled_total", kind="expensive") == 1, timeout=5)
        assert time.monotonic() - left < 2.0
        with server.connect() as sock:  # the one worker is free again
            assert ask(sock, b"1\n") == b"2\n"
        wait_until(lambda: server.metric("primes_requests_total", kind="cheap") == 2, timeout=5)

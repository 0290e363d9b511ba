"""Process model: a pipeline (requests read together) goes to one worker as one task, and is answered as the
thread model answers it: replies in order with errors in place, exactly the same metrics, cancelled midway
when the client leaves (nothing after that counts), `ERR worker failed` when its worker dies mid-pipeline, and
retried on another worker when its worker was already dead. The one task itself is traced in
test_pipelining.py; here it is timed, as a ratio to a single request measured side by side.
"""
import os
import signal
import time

import pytest

from tests.support import run_server, wait_until, worker_pids

pytestmark = pytest.mark.reliability

DEPTH = 10
PIPELINE = b"".join(b"%d\n" % (i % 10 + 1) for i in range(DEPTH))
PIPELINE_ANSWER = b"".join(b"%d\n" % p for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29))
LONG = 200000  # with the seed's naive loop: many minutes, so only a cancel or a kill ends it within the test


def round_trip(sock, payload, answer):
    started = time.perf_counter()
    sock.sendall(payload)
    got = b""
    while len(got) < len(answer):
        got += sock.recv(4096)
    took = time.perf_counter() - started
    assert got == answer
    return took


def test_a_pipeline_costs_about_what_one_request_costs():
    """Timed as a ratio measured side by side: 10-request pipelines and single requests alternate on one
    connection. With a pipe round trip per request a pipeline's median took 6-12 times a single request's."""
    rounds = 1000
    with run_server("--model", "process", "--no-monitor") as server, server.connect() as sock:
        single, pipelined = [], []
        for _ in range(rounds):
            single.append(round_trip(sock, b"4\n", b"7\n"))
            pipelined.append(round_trip(sock, PIPELINE, PIPELINE_ANSWER))
    single.sort()
    pipelined.sort()
    ratio = pipelined[rounds // 2] / single[rounds // 2]
    print(f"process model, p50 / p99: one request {single[rounds // 2] * 1e3:.3f} / "
          f"{single[int(rounds * 0.99)] * 1e3:.3f} ms, 10-request pipeline {pipelined[rounds // 2] * 1e3:.3f} / "
          f"{pipelined[int(rounds * 0.99)] * 1e3:.3f} ms, median ratio {ratio:.2f}")
    assert ratio < 4


@pytest.mark.parametrize("model", ["thread", "process"])
def test_bad_requests_inside_a_pipeline_are_answered_in_place_and_counted_like_the_rest(model):
    sent = b"1\nabc\n2\n0\n" + b"9" * 80 + b"\n3\n6000\n1000\n\n4\n"
    want = (b"2\nERR not an integer\n3\nERR n must be >= 1\nERR request too long\n5\nERR n above maximum 5000\n"
            b"7919\nERR not an integer\n7\n")
    with run_server("--model", model, "--no-monitor", "--max-n", "5000") as server:
        with server.connect() as sock:
            assert round_trip(sock, sent, want) >= 0
            assert round_trip(sock, sent, want) >= 0
        wait_until(lambda: server.metric("primes_connections_active") == 0)
        assert server.metric("primes_requests_total", kind="cheap") == 8
        assert server.metric("primes_requests_total", kind="expensive") == 2
        assert server.metric("primes_request_duration_seconds_count", kind="cheap") == 8
        assert server.metric("primes_request_duration_seconds_count", kind="expensive") == 2
        assert server.metric("primes_errors_total", reason="not_an_integer") == 4
        assert server.metric("primes_errors_total", reason="n_too_small") == 2
        assert server.metric("primes_errors_total", reason="n_too_large") == 2
        assert server.metric("primes_errors_total", reason="request_too_long") == 2
        assert server.metric("primes_cancelled_total") == 0


@pytest.mark.parametrize("model", ["thread", "process"])
def test_a_pipeline_cancelled_midway_counts_what_was_computed_and_nothing_after(model):
    with run_server("--model", model, "--algorithm", "naive", "--no-monitor") as server:
        with server.connect() as sock:
            sock.sendall(b"1\n2\nabc\n%d\n3\nxyz\n" % LONG)
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
        left = time.monotonic()
        wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 0, timeout=10)
        took = time.monotonic() - left
        wait_until(lambda: server.metric("primes_connections_active") == 0)
        print(f"{model}: cancelled {took:.3f}s after the client left")
        assert took < 1.0
        assert server.metric("primes_cancelled_total", kind="expensive") == 1
        assert server.metric("primes_cancelled_total", kind="cheap") == 0
        assert server.metric("primes_requests_total", kind="cheap") == 2  # 1 and 2; 3 was never started
        assert server.metric("primes_requests_total", kind="expensive") == 0
        assert server.metric("primes_errors_total", reason="not_an_integer") == 1  # abc; xyz never reached
        with server.connect() as sock:  # the worker is free again
            assert round_trip(sock, PIPELINE, PIPELINE_ANSWER) >= 0
        assert "Traceback" not in server.log()


def test_a_worker_killed_mid_pipeline_fails_the_pipeline_with_errors_in_place():
    with run_server("--model", "process", "--workers", "1", "--algorithm", "naive", "--no-monitor") as server:
        with server.connect() as sock:
            assert round_trip(sock, PIPELINE, PIPELINE_ANSWER) >= 0  # the worker is up
            [worker] = worker_pids(server.proc.pid)
            sock.sendall(b"1\nabc\n%d\n3\n" % LONG)
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            os.kill(worker, signal.SIGKILL)
            sock.settimeout(10)
            want = b"ERR worker failed\nERR not an integer\nERR worker failed\nERR worker failed\n"
            got = b""
            while len(got) < len(want):
                got += sock.recv(4096)
            assert got == want
            assert round_trip(sock, PIPELINE, PIPELINE_ANSWER) >= 0  # the same connection carries on
        wait_until(lambda: server.metric("primes_connections_active") == 0)
        assert server.metric("primes_errors_total", reason="worker_failed") == 3
        assert server.metric("primes_errors_total", reason="not_an_integer") == 1
        assert server.metric("primes_requests_total") == 2 * DEPTH
        assert "Traceback" not in server.log()


def test_a_pipeline_sent_to_a_worker_already_dead_goes_to_another():
    workers = 2
    with run_server("--model", "process", "--workers", str(workers), "--no-monitor") as server:
        for round_ in range(2):
            alive = wait_until(lambda: len(w := worker_pids(server.proc.pid)) == workers and w)
            os.kill(alive[round_ % workers], signal.SIGKILL)
            for _ in range(2 * workers):  # at once, before the server may have noticed: the dead one too
                with server.connect() as sock:
                    assert round_trip(sock, PIPELINE, PIPELINE_ANSWER) >= 0
        wait_until(lambda: server.metric("primes_connections_active") == 0)
        assert server.metric("primes_errors_total", reason="worker_failed") == 0
        assert server.metric("primes_requests_total") == 2 * 2 * workers * DEPTH

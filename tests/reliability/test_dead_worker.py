"""Process model: a worker killed while idle costs no request (a request that never reached a worker goes to
another one), is reaped at once (no zombie) and replaced; a worker killed mid-computation fails only its request.
"""
import os
import re
import signal
import time

import pytest

from tests.support import ask, child_pids, process_state, run_server, wait_until, worker_pids

pytestmark = pytest.mark.reliability
WORKERS = 3


def zombies(server):
    return [pid for pid in child_pids(server.proc.pid) if process_state(pid) == "Z"]


def test_an_idle_worker_killed_costs_no_request_and_is_reaped_and_replaced_at_once():
    with run_server("--model", "process", "--workers", str(WORKERS)) as server:
        for round_ in range(3):
            workers = wait_until(lambda: len(w := worker_pids(server.proc.pid)) == WORKERS and w)
            victim = workers[round_ % WORKERS]
            os.kill(victim, signal.SIGKILL)
            # At once, before the server may have noticed: every worker gets a request, the dead one too.
            for _ in range(2 * WORKERS):
                with server.connect() as sock:
                    assert ask(sock, b"5\n") == b"11\n"
            with server.connect() as sock:
                assert [ask(sock, b"6\n") for _ in range(2 * WORKERS)] == [b"13\n"] * (2 * WORKERS)
            wait_until(lambda: victim not in child_pids(server.proc.pid), timeout=5)
        assert server.metric("primes_errors_total", reason="worker_failed") == 0
        # (a replacement killed while it still starts up is logged as one that did not start)
        assert len(re.findall(r"worker process \d+ (was|did not start \(it was) killed by SIGKILL", server.log())) == 3


def test_a_killed_idle_worker_is_reaped_without_waiting_for_a_request():
    with run_server("--model", "process", "--workers", "2") as server:
        victim = wait_until(lambda: len(w := worker_pids(server.proc.pid)) == 2 and w)[0]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        wait_until(lambda: victim not in child_pids(server.proc.pid), timeout=5, interval=0.005)  # no request
        assert zombies(server) == []
        wait_until(lambda: len(worker_pids(server.proc.pid)) == 2, timeout=5, interval=0.005)
        print(f"killed idle worker reaped and replaced after {(time.monotonic() - killed) * 1000:.0f} ms")


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError):
        return 0


def busy_worker(server):
    """The worker that computes: over a second, the only one whose CPU time grows (by a few ticks at least,
    however loaded the machine is; an idle worker blocked in read gets none)."""
    workers = worker_pids(server.proc.pid)
    before = {pid: cpu_ticks(pid) for pid in workers}
    time.sleep(1.0)
    grew = sorted(workers, key=lambda pid: cpu_ticks(pid) - before[pid], reverse=True)
    deltas = [cpu_ticks(pid) - before[pid] for pid in grew]
    return grew[0] if len(grew) == 2 and deltas[0] >= 3 and deltas[1] <= 1 else None


def test_a_worker_killed_mid_computation_fails_only_its_own_request():
    with run_server("--model", "process", "--workers", "2") as server:
        for _ in range(4):  # every worker has started and answered: only the computing one uses CPU
            with server.connect() as sock:
                assert ask(sock, b"5\n") == b"11\n"
        with server.connect() as hog:
            hog.sendall(b"100000\n")
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            victim = wait_until(lambda: busy_worker(server), timeout=10)
            os.kill(victim, signal.SIGKILL)
            hog.settimeout(10)
            assert hog.recv(4096) == b"ERR worker failed\n"
            assert ask(hog, b"5\n") == b"11\n"  # the same connection carries on
        wait_until(lambda: victim not in child_pids(server.proc.pid), timeout=5)
        wait_until(lambda: len(worker_pids(server.proc.pid)) == 2, timeout=5)
        for _ in range(4):
            with server.connect() as sock:
                assert ask(sock, b"5\n") == b"11\n"
        assert server.metric("primes_errors_total", reason="worker_failed") == 1
        assert server.metric("primes_requests_in_progress", kind="expensive") == 0
        assert zombies(server) == []
        assert "Traceback" not in server.log()


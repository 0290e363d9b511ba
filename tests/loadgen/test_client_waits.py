"""How the Locust client waits for an answer (loadgen/tcp_client.py), with the real client in a gevent-patched
process of its own and the real server: a held event fires after the next send and never out of order, a lone
user's blocking wait gives way to gevent within milliseconds, and a lone user's cheap stream does not go through
gevent's loop (counted with strace).
"""
import json
import re
import subprocess
import sys

import pytest

from tests.loadgen.conftest import locust_command, locust_env
from tests.support import REPO_ROOT, need_strace, run_server


def probe(port, *args, prefix=(), timeout=60):
    result = subprocess.run([*prefix, sys.executable, "-m", "tests.loadgen.client_probe", str(port), *map(str, args)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def sends_and_loop_waits(trace):
    """(sendto calls, epoll_wait calls) in an strace output file, all threads."""
    calls = [match.group(1) for match in re.finditer(r"^\d+\s+(\w+)\(", trace.read_text(), re.M)]
    return calls.count("sendto"), calls.count("epoll_wait")


def test_a_held_event_fires_after_the_next_send_and_before_a_failure():
    with run_server("--no-monitor") as server:
        result = probe(server.port, "hold")
    # After the first ask its event waits; the second ask's send fires it; flush() fires the second.
    assert result["counts"] == [0, 1, 2]
    # A held success is reported before the failure that follows it, never after or lost.
    assert result["events"] == ["NoneType", "NoneType", "NoneType", "ConnectionLost"]


def test_a_lone_users_blocking_wait_gives_way_to_other_greenlets():
    # About 1 s of computation: a blocking wait for the whole answer would starve the ticker.
    with run_server("--no-monitor", "--algorithm", "sqrt") as server:
        result = probe(server.port, "lone-wait", 20000)
    assert result["correct"]
    assert result["seconds"] > 0.1
    # A 10 ms ticker keeps ticking while the answer is computed (bounded below by half its ideal count).
    assert result["ticks"] >= result["seconds"] / 0.01 / 2, result


@pytest.mark.parametrize("lone", [True, False])
def test_a_lone_users_cheap_stream_skips_gevents_loop(lone, tmp_path):
    need_strace()
    requests = 500
    trace = tmp_path / "trace"
    with run_server("--no-monitor") as server:
        result = probe(server.port, "loop", 1, requests, int(lone),
                       prefix=("strace", "-f", "-qq", "-e", "trace=epoll_wait,sendto", "-o", str(trace)))
    assert result == {"events": requests, "failures": 0}
    sends, loop_waits = sends_and_loop_waits(trace)
    assert sends >= requests
    if lone:
        # The answer comes within the blocking wait almost always; a slow machine may miss a few.
        assert loop_waits < requests / 5, (sends, loop_waits)
    else:
        assert loop_waits >= requests, (sends, loop_waits)  # with company, every wait is gevent's


def test_a_lone_locust_user_skips_gevents_loop_but_lets_it_run_between_tasks(tmp_path):
    """Through real Locust: one user in its process takes the blocking wait (far fewer loop waits than
    requests), yet the loop still polls sockets and timers after each task of 64 requests (the web UI, a
    worker's heartbeats and the run timer depend on it; Locust's own sleep(0) between tasks may not poll)."""
    need_strace()
    trace = tmp_path / "trace"
    with run_server("--no-monitor") as server:
        result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=epoll_wait,sendto", "-o", str(trace),
                                 *locust_command("--headless", "-u", "1", "-r", "1", "-t", "3s", "--host",
                                                 f"127.0.0.1:{server.port}", "--only-summary")],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120, env=locust_env())
    assert result.returncode == 0, result.stderr[-3000:]
    sends, loop_waits = sends_and_loop_waits(trace)
    assert sends > 640, sends
    assert loop_waits < sends / 5, (sends, loop_waits)  # alone: the answers come within the blocking wait
    assert loop_waits > sends / 128, (sends, loop_waits)  # and the loop runs at least every other task

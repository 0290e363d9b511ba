"""Failure paths: no server, the server killed mid-run, the server answering ERR. Each gives failures in
Locust's statistics (not a crash or a traceback flood), a bounded retry rate, and a run that ends on time.
"""
import os
import time

from tests.loadgen.conftest import assert_clean_exit, read_failures, read_final, run_locust, start_locust
from tests.support import free_port, run_server, wait_until


def test_server_not_running(workdir):
    prefix = os.path.join(workdir, "down")
    started = time.monotonic()
    result = run_locust("--headless", "-u", "3", "-r", "10", "-t", "4s", "--host", f"127.0.0.1:{free_port()}",
                        "--csv", prefix, "--json-file", prefix, "--only-summary", cwd=workdir, timeout=60)
    assert time.monotonic() - started < 30  # ends on time (Locust's start-up included)
    assert result.returncode == 1  # Locust's exit status when requests failed
    assert_clean_exit(result)
    requests, failures = read_final(prefix)["cheap"]
    assert failures == requests > 0
    # Backoff (0.05 s doubling to 2 s) bounds the retries: 3 users over 4 s make well under 100 attempts.
    assert failures < 100
    messages = " ".join(row["Error"] for row in read_failures(prefix))
    assert "Connection refused" in messages


def test_server_killed_mid_run(workdir):
    prefix = os.path.join(workdir, "killed")
    with run_server("--no-monitor") as server:
        started = time.monotonic()
        proc = start_locust("--headless", "-u", "2", "-r", "10", "-t", "6s", "--host", f"127.0.0.1:{server.port}",
                            "--csv", prefix, "--json-file", prefix, "--only-summary", cwd=workdir, log_name="locust.log")
        try:
            # Kill once the load is really flowing: a fixed sleep races Locust's start on a busy machine.
            wait_until(lambda: server.metric("primes_requests_total", kind="cheap") > 600, timeout=30)
            server.stop()  # SIGTERM: the server closes every connection and exits
            assert proc.wait(60) == 1
        finally:
            if proc.poll() is None:
                proc.kill()
    assert time.monotonic() - started < 40
    assert_clean_exit(open(os.path.join(workdir, "locust.log")).read())
    requests, failures = read_final(prefix)["cheap"]
    assert requests - failures > 500  # it worked before the kill
    assert 0 < failures < 100  # then failed, retrying with backoff
    errors = " ".join(row["Error"] for row in read_failures(prefix))
    assert "Connection refused" in errors


def test_server_answering_err(workdir):
    prefix = os.path.join(workdir, "err")
    with run_server("--no-monitor", "--max-n", "50") as server:
        result = run_locust("--headless", "-u", "1", "-r", "10", "-t", "4s", "--host", f"127.0.0.1:{server.port}",
                            "--cheap-n", "60", "--csv", prefix, "--json-file", prefix, "--only-summary", cwd=workdir, timeout=60)
        server_errors = server.metric("primes_errors_total", reason="n_too_large")
        server_connections = server.metric("primes_connections_total")
    assert result.returncode == 1
    assert_clean_exit(result)
    requests, failures = read_final(prefix)["cheap"]
    assert failures == requests > 0
    assert 0 <= server_errors - failures <= 1
    assert failures < 50  # backoff, not a spin
    assert server_connections == 1  # after an ERR the connection stays usable: no reconnect
    (row,) = read_failures(prefix)
    assert "ERR n above maximum 50" in row["Error"] and row["Name"] == "cheap"


def test_bad_field_from_the_web_form(workdir):
    """The web form's fields skip argparse's checks: a bad one stops that user class with one clear line."""
    from tests.loadgen.conftest import start_web_locust, stop_process
    from tests.support import wait_until
    with run_server("--no-monitor") as server:
        locust = start_web_locust(cwd=workdir)
        try:
            locust.swarm(user_count=2, spawn_rate=10, host=f"127.0.0.1:{server.port}", expensive_users=1,
                         expensive_n=0)
            wait_until(lambda: locust.stats()[0].get("cheap", (0, 0))[0] > 100, timeout=20)
            time.sleep(1)
            rows, state = locust.stats()
            assert "expensive" not in rows and rows["cheap"][1] == 0 and state == "running"
            # The next run from the form repeats the mistake: it is logged again, once.
            locust.stop_swarm()
            wait_until(lambda: locust.stats()[1] == "stopped", timeout=15)
            locust.swarm(user_count=2, spawn_rate=10, host=f"127.0.0.1:{server.port}", expensive_users=1,
                         expensive_n=0)
            wait_until(lambda: locust.stats()[0].get("cheap", (0, 0))[0] > 100, timeout=20)
        finally:
            stop_process(locust.proc)
    log = locust.log()
    assert log.count("--expensive-n 0: must be >= 1, got 0: ExpensiveUser not started") == 2, log[-3000:]
    assert_clean_exit(log)


def test_bad_flag_on_the_command_line(workdir):
    result = run_locust("--headless", "-t", "5s", "--expensive-n", "0", cwd=workdir, timeout=60)
    assert result.returncode == 2 and "--expensive-n" in result.stderr
    assert "Traceback" not in result.stderr

"""Headless Locust runs against the real server: Locust's counts agree with the server's /metrics, the CSV and
HTML report land in the folder asked for, and the expensive stream completes with correct answers.
"""
import os

import pytest

from tests.loadgen.conftest import assert_clean_exit, read_failures, read_final, read_stats, run_locust
from tests.support import run_server


@pytest.mark.parametrize("users", [1, 2])  # one alone in its process waits differently (loadgen/tcp_client.py)
def test_cheap_counts_agree_with_the_server(workdir, users):
    reports = os.path.join(workdir, "reports")
    with run_server("--no-monitor") as server:
        result = run_locust("--headless", "-u", str(users), "-r", "10", "-t", "4s", "--host", f"127.0.0.1:{server.port}",
                            "--csv", os.path.join(reports, "run"), "--html", os.path.join(reports, "run.html"),
                            "--json-file", os.path.join(reports, "final"), "--only-summary", cwd=workdir, timeout=60)
        server_cheap = server.metric("primes_requests_total", kind="cheap")
        server_connections = server.metric("primes_connections_total")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_clean_exit(result)
    # The final statistics (the CSV is rewritten every second, so it can miss the last one).
    locust_cheap, locust_failures = read_final(os.path.join(reports, "final"))["cheap"]
    assert locust_failures == 0
    assert 0 < int(read_stats(os.path.join(reports, "run"))["cheap"]["Request Count"]) <= locust_cheap
    assert locust_cheap > 1000, "cheap users for 4 s should manage thousands of requests"
    # A request in flight when a user is stopped is answered by the server but never recorded by Locust.
    assert 0 <= server_cheap - locust_cheap <= users, (server_cheap, locust_cheap)
    assert server_connections == users  # one persistent connection per user, no reconnects
    assert "expensive" not in read_stats(os.path.join(reports, "run"))  # --expensive-users defaults to 0
    html = open(os.path.join(reports, "run.html")).read()
    assert "cheap" in html and "Locust" in html


def test_expensive_stream_completes_with_correct_answers(workdir):
    prefix = os.path.join(workdir, "expensive")
    with run_server("--no-monitor", "--algorithm", "sqrt") as server:
        result = run_locust("--headless", "-u", "2", "-r", "10", "-t", "5s", "--host", f"tcp://127.0.0.1:{server.port}",
                            "--expensive-users", "1", "--expensive-n", "5000", "--framing", "line",
                            "--csv", prefix, "--json-file", prefix, "--only-summary", cwd=workdir, timeout=60)
        server_expensive = server.metric("primes_requests_total", kind="expensive")
        server_errors = server.metric("primes_errors_total")
    assert result.returncode == 0, result.stderr[-3000:]
    final = read_final(prefix)
    expensive_requests, expensive_failures = final["expensive"]
    # Every answer was checked against the 5000th prime (48611, ~0.1 s each here, so a loaded machine still
    # completes many in 5 s); a wrong one would be a failure.
    assert expensive_requests >= 3 and expensive_failures == 0
    assert final["cheap"][0] > 0 and final["cheap"][1] == 0
    assert 0 <= server_expensive - expensive_requests <= 1
    assert server_errors == 0
    assert read_failures(prefix) == []

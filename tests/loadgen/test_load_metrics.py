"""The Locust side's /metrics (on the web UI's port): requests, failures, response times by kind and users by
class agree with Locust's own statistics and with the server's, and stay monotonic across test runs.
"""
from loadgen import metrics
from tests.loadgen.conftest import assert_clean_exit, sample, start_web_locust, stop_process
from tests.support import run_server, wait_until


def run_and_stop(locust, seconds=3.0, **form):
    import time
    locust.swarm(**form)
    wait_until(lambda: sample(locust.metrics(), metrics.USERS) == int(form["user_count"]), timeout=15)
    during = locust.metrics()
    time.sleep(seconds)
    locust.stop_swarm()
    wait_until(lambda: locust.stats()[1] == "stopped", timeout=15)
    return during


def test_metrics_agree_with_locust_and_the_server(workdir):
    # --max-n 50 and an "expensive" n of 60: every expensive request is answered with ERR, a failure.
    with run_server("--no-monitor", "--max-n", "50") as server:
        locust = start_web_locust(cwd=workdir)
        try:
            form = dict(user_count=2, spawn_rate=10, host=f"127.0.0.1:{server.port}", expensive_users=1,
                        expensive_n=60)
            during = run_and_stop(locust, **form)
            assert sample(during, metrics.USERS, user_class="CheapUser") == 1
            assert sample(during, metrics.USERS, user_class="ExpensiveUser") == 1
            rows, _ = locust.stats()
            after = locust.metrics()
            for kind in ("cheap", "expensive"):
                requests, failures = rows[kind]
                assert sample(after, metrics.REQUESTS_TOTAL, kind=kind) == requests
                assert sample(after, metrics.FAILURES_TOTAL, kind=kind) == failures
                assert sample(after, metrics.RESPONSE_TIME + "_count", kind=kind) == requests
                assert sample(after, metrics.RESPONSE_TIME + "_bucket", kind=kind, le="+Inf") == requests
            assert rows["cheap"][1] == 0 and rows["cheap"][0] > 500
            assert rows["expensive"][0] == rows["expensive"][1] > 0
            assert 0 <= server.metric("primes_requests_total", kind="cheap") - rows["cheap"][0] <= 1
            # As for cheap: a request in flight when its user stopped is answered (here: refused) by the server but
            # never recorded by Locust.
            assert 0 <= server.metric("primes_errors_total", reason="n_too_large") - rows["expensive"][1] <= 1
            assert sample(after, metrics.USERS) == 0

            # A second run: Locust clears its statistics, the Prometheus counters keep counting.
            run_and_stop(locust, **dict(form, expensive_users=0, user_count=1))
            second, _ = locust.stats()
            again = locust.metrics()
            assert sample(again, metrics.REQUESTS_TOTAL, kind="cheap") == rows["cheap"][0] + second["cheap"][0]
            assert sample(again, metrics.FAILURES_TOTAL, kind="expensive") == rows["expensive"][1]
            assert "expensive" not in second  # --expensive-users 0 from the form: only CheapUser ran
        finally:
            stop_process(locust.proc)
    assert_clean_exit(locust.log())

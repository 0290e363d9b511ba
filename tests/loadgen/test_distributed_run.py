"""A distributed run on loopback: a Locust master and two worker processes against the real server.
The master's totals (its stats and its /metrics) equal the sum of what each worker says it sent.
"""
import time

from loadgen import metrics
from tests.loadgen.conftest import (assert_clean_exit, sample, scrape, start_locust, start_web_locust,
                                    stop_process)
from tests.support import free_port, run_server, wait_until


def test_master_totals_are_the_sum_of_two_workers(workdir):
    master_port = free_port()
    worker_ports = [free_port(), free_port()]
    with run_server("--no-monitor") as server:
        master = start_web_locust("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", master_port,
                                  cwd=workdir, log_name="master.log")
        workers = [start_locust("--worker", "--master-host", "127.0.0.1", "--master-port", master_port,
                                "--prometheus-port", port, cwd=workdir, log_name=f"worker{i}.log")
                   for i, port in enumerate(worker_ports)]
        try:
            wait_until(lambda: master.get_json("/stats/requests").get("worker_count") == 2, timeout=30)
            master.swarm(user_count=4, spawn_rate=10, host=f"127.0.0.1:{server.port}")
            wait_until(lambda: sample(master.metrics(), metrics.USERS, user_class="CheapUser") == 4, timeout=20)
            # Each worker runs users of its own: the master spread them.
            per_worker = [sample(scrape(f"http://127.0.0.1:{p}/metrics"), metrics.USERS) for p in worker_ports]
            assert per_worker == [2, 2]
            time.sleep(3)
            master.stop_swarm()
            wait_until(lambda: master.stats()[1] == "stopped", timeout=20)

            def totals_agree():
                worker_sum = sum(sample(scrape(f"http://127.0.0.1:{p}/metrics"), metrics.REQUESTS_TOTAL, kind="cheap")
                                 for p in worker_ports)
                rows, _ = master.stats()
                master_metric = sample(master.metrics(), metrics.REQUESTS_TOTAL, kind="cheap")
                return worker_sum == rows["cheap"][0] == master_metric and (worker_sum, rows["cheap"])

            # Workers report every 3 s: wait for their last report after the stop.
            total, (requests, failures) = wait_until(totals_agree, timeout=20, interval=0.5)
            assert failures == 0 and total > 1000
            assert 0 <= server.metric("primes_requests_total", kind="cheap") - total <= 4
            assert server.metric("primes_connections_total") == 4
        finally:
            stop_process(master.proc)
            for worker in workers:
                stop_process(worker)
    for log in ["master.log", "worker0.log", "worker1.log"]:
        assert_clean_exit(open(f"{workdir}/{log}").read())

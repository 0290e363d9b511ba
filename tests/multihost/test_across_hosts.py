"""The lab across hosts: the server, the Locust master and two workers each in a network namespace of its own,
started with docs/multi-host.md's commands as written (only the addresses are the test's).

Workers start before their master (they wait, one log line each way), both connect, the load's request count
is the server's, and a worker killed mid-run is reported missing while the master and the other worker go on.
"""
import time

import pytest

from server.config import DEFAULT_PORT as SERVER_PORT
from tests.multihost.roles import (
    LOCUST_WEB_PORT,
    MasterApi,
    requests_of,
    server_requests,
    start_role,
    wait_port,
)
from tests.support import wait_until

pytestmark = pytest.mark.slow

USERS = 4  # two per worker


def read(path):
    with open(path) as f:
        return f.read()


def workers_by_state(report):
    states = {}
    for worker in report.get("workers", []):
        states.setdefault(worker["state"], []).append(worker)
    return states


def test_server_master_and_two_workers_on_four_hosts(lab_factory, tmp_path):
    lab = lab_factory(["server", "control", "load1", "load2"])
    server, control = lab["server"], lab["control"]
    values = {"SERVER_BIND": server.address, "SERVER_ADDRESS": server.address,
              "LOCUST_MASTER_BIND": control.address, "LOCUST_MASTER_ADDRESS": control.address}
    logs = {role: str(tmp_path / f"{role}.log") for role in ("server", "control", "load1", "load2")}

    start_role(server, "server", values, logs["server"])
    wait_port(control, server.address, SERVER_PORT)

    # The workers first: their master is not up yet.
    workers = {name: start_role(lab[name], "load", values, logs[name]) for name in ("load1", "load2")}
    for name in workers:
        wait_until(lambda log=logs[name]: "not reachable" in read(log), timeout=30,
                   what=f"{name} says its master is not up")
    time.sleep(2)  # a few more probes: still one line
    master = start_role(control, "control", values, logs["control"])
    api = MasterApi(control)
    wait_port(control, "127.0.0.1", LOCUST_WEB_PORT)
    wait_until(lambda: api.report().get("worker_count") == 2, timeout=60, what="both workers connected")
    for name in workers:
        text = read(logs[name])
        assert text.count("not reachable") == 1 and text.count("is up after") == 1, text
        assert "Traceback" not in text, text

    # Load through both workers, then stop: Locust's count and the server's.
    server_before = server_requests(control, server.address)
    api.swarm(user_count=USERS, spawn_rate=10, host=f"tcp://{server.address}:{SERVER_PORT}")
    wait_until(lambda: [w["user_count"] for w in api.report()["workers"]] == [2, 2], timeout=30,
               what="two users on each worker")
    time.sleep(3)
    api.stop()
    wait_until(lambda: api.report()["state"] == "stopped", timeout=30, what="the run stopped")
    served = server_requests(control, server.address) - server_before

    # Workers report every 3 s: wait for the last reports. The server may count up to one answer per user
    # that Locust stopped before reading (its user was stopped in flight); never fewer than Locust.
    def counts_agree():
        sent = requests_of(api.report())
        return 0 <= served - sent <= USERS and sent
    sent = wait_until(counts_agree, timeout=20, what=f"Locust's count agrees with the server's {served}")
    failures = {row["name"]: row["num_failures"] for row in api.report()["stats"]}
    assert sent > 1000 and failures.get("cheap") == 0, failures

    # Again, and kill one worker the hard way (no goodbye): the master marks it missing and goes on.
    api.swarm(user_count=USERS, spawn_rate=10, host=f"tcp://{server.address}:{SERVER_PORT}")
    wait_until(lambda: [w["user_count"] for w in api.report()["workers"]] == [2, 2], timeout=30,
               what="two users on each worker")
    workers["load2"].kill()
    workers["load2"].wait(timeout=10)

    def one_missing_one_running():
        report = api.report()
        states = {state: len(found) for state, found in workers_by_state(report).items()}
        return report["state"] == "running" and report["worker_count"] == 1 and states == {"missing": 1,
                                                                                            "running": 1}
    # A loaded machine can delay a live worker's heartbeats too (it heals): wait for the settled picture.
    wait_until(one_missing_one_running, timeout=30, interval=0.5, what="one worker missing, the other running")
    assert master.poll() is None

    # The rest of the load goes on: the server keeps answering, and the master keeps counting.
    server_then, sent_then = server_requests(control, server.address), requests_of(api.report())
    time.sleep(4)  # more than one 3 s report from the remaining worker
    assert server_requests(control, server.address) - server_then > 500
    assert requests_of(api.report()) - sent_then > 500
    assert master.poll() is None and workers["load1"].poll() is None
    api.stop()

    for name in ("control", "load1"):
        assert "Traceback" not in read(logs[name]), read(logs[name])

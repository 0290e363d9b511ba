"""End to end in the real Docker engine: build the images, start the stack without Grafana (no Grafana image can
be had here), drive load through the Locust master's REST API, and check the live Prometheus answers.
"""
import json
import os
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from tests.stack.files import (WITHOUT_GRAFANA, compose_defaults, concrete, dashboard_queries, load_dashboard,
                               recording_rules)
from tests.stack.images import require_image
from tests.stack.promtool import prometheus_image
from tests.stack.stack import Prometheus, Stack, finite_values

pytestmark = [pytest.mark.docker, pytest.mark.slow]
CHEAP_USERS = 4
EXPENSIVE_N = 2000  # naive n=2000 takes about a second: the expensive stream completes within the test


def locust(stack, path, **form):
    data = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(stack.url("LOCUST_WEB_PORT", path), data=data, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.load(response)
    assert body.get("success"), body
    return body


def swarm(stack, users, expensive_users):
    # A new run (not a re-swarm) applies the user mix: the lab reads --expensive-users at test start.
    return locust(stack, "/swarm", user_count=users, spawn_rate=users, host="server:25000",
                  expensive_users=expensive_users, expensive_n=EXPENSIVE_N)


def totals(prometheus):
    ok = 'sum(locust_requests_total{{kind="{0}"}}) - sum(locust_failures_total{{kind="{0}"}})'
    return {"server cheap": prometheus.value('sum(primes_requests_total{kind="cheap"})'),
            "locust cheap ok": prometheus.value(ok.format("cheap")),
            "server expensive": prometheus.value('sum(primes_requests_total{kind="expensive"})'),
            "locust expensive ok": prometheus.value(ok.format("expensive"))}


def settled_totals(prometheus):
    """Both sides' counts once Locust's side has stopped moving.

    Workers report to the master every 3 s: settled means unchanged for longer than that. (The server's
    side keeps growing slowly: its health check asks for "1" every few seconds.)
    """
    previous, unchanged_since, current = None, None, None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(1)
        current = totals(prometheus)
        client_side = (current["locust cheap ok"], current["locust expensive ok"])
        if client_side != previous:
            previous, unchanged_since = client_side, time.monotonic()
        elif time.monotonic() - unchanged_since >= 7:
            return current
    raise AssertionError(f"Locust's counts never settled: {current}")


def assert_counts_agree(counts):
    # The server also answers its health check's "1" every few seconds; a stop may drop one request in flight.
    assert abs(counts["server cheap"] - counts["locust cheap ok"]) <= max(100, 0.02 * counts["server cheap"]), counts
    assert abs(counts["server expensive"] - counts["locust expensive ok"]) <= 2, counts


@pytest.fixture(scope="module")
def stack(docker_engine, empty_env_file, artifacts_dir):
    require_image(os.environ.get("PYTHON_IMAGE") or compose_defaults()["PYTHON_IMAGE"], "the server and Locust images")
    require_image(prometheus_image(), "the Prometheus service")
    lab = Stack(empty_env_file, SERVER_CPUS=1, LOCUST_WORKERS=1, PROMETHEUS_IMAGE=prometheus_image())
    lab.started = time.monotonic()
    try:
        yield lab
    finally:
        logs = lab.compose("logs", "--no-color", "--tail", "60", check=False).stdout
        with open(os.path.join(artifacts_dir, "stack-e2e-logs.txt"), "w") as f:
            f.write(logs)
        lab.compose("down", "-v", "--rmi", "local", "--remove-orphans", check=False)


def test_the_stack_end_to_end(stack, artifacts_dir):
    report = []
    timings = {}

    def note(line):
        print(line)
        report.append(line)

    began = time.monotonic()
    stack.compose("build", timeout=900)
    timings["build"] = time.monotonic() - began

    began = time.monotonic()
    stack.compose("up", "-d", "--wait", "--wait-timeout", "240", *WITHOUT_GRAFANA, timeout=300)
    timings["up --wait"] = time.monotonic() - began
    assert not stack.container_ids("grafana")

    # Every container runs as a non-root user.
    for container in stack.container_ids():
        rows = subprocess.run(["docker", "top", container, "-o", "pid,uid"], capture_output=True, text=True,
                              check=True).stdout.splitlines()[1:]
        uids = [row.split()[1] for row in rows]
        assert uids and "0" not in uids, f"{container} runs processes as root: {uids}"

    prometheus = Prometheus(stack.url("PROMETHEUS_PORT"))
    deadline = time.monotonic() + 60
    while prometheus.targets_up() != {"server": "up", "locust": "up", "prometheus": "up"}:
        assert time.monotonic() < deadline, prometheus.targets_up()
        time.sleep(1)
    # Without the free-threaded profile there is no server-ft target at all (not one that is down for good).
    assert prometheus.label_values("instance", 'up{job="server"}') == ["server:8000"]

    # Phase 1: cheap users only, so the "no expensive request" reference exists.
    load_started = time.time()
    swarm(stack, CHEAP_USERS, 0)
    cheap, _ = prometheus.wait_value('sum(kind:primes_requests:rate5s{kind="cheap"})', lambda v: v > 0, timeout=60)
    note(f"server cheap rate first seen: {cheap:.1f} req/s")
    prometheus.wait_value("sum(instance:primes_cheap_requests_without_expensive:rate5s)", lambda v: v > 0,
                          timeout=30)

    # The CPU limit follows `docker update` within a scrape or two (it is read from the cgroup per scrape).
    (server_container,) = stack.container_ids("server")
    assert prometheus.value("max(primes_cpu_limit_cores)") == 1.0
    subprocess.run(["docker", "update", "--cpus", "0.5", server_container], check=True, capture_output=True)
    _, waited = prometheus.wait_value("max(primes_cpu_limit_cores)", lambda v: v == 0.5, timeout=15, interval=0.2)
    note(f"CPU limit 1 -> 0.5 seen by Prometheus after {waited:.1f}s")

    # Pinned CPUs and the quota are exported apart; a cpuset change shows in the very first scrape after it.
    assert prometheus.value("max(primes_cpu_cpuset_cores)") == 1.0  # SERVER_CPUSET's default: CPU 0
    assert prometheus.value("max(primes_cpu_quota_cores)") == 0.5
    subprocess.run(["docker", "update", "--cpuset-cpus", "0-1", server_container], check=True, capture_output=True)
    changed_at = time.time()
    _, waited = prometheus.wait_value("max(primes_cpu_cpuset_cores)", lambda v: v == 2, timeout=15, interval=0.2)
    time.sleep(2.5)  # a few more scrapes to look at
    samples = [(float(t), float(v)) for series in prometheus.query("primes_cpu_cpuset_cores[10s]")
               for t, v in series["values"] if float(t) >= changed_at]
    # Prometheus stamps a sample with its scrape's start, and the exporter reads the cgroup on every scrape:
    # every scrape that began after `docker update` returned already reports the new cpuset.
    assert samples and all(value == 2 for _, value in samples), (changed_at, samples)
    note(f"cpuset 0 -> 0-1 seen by Prometheus after {waited:.1f}s; scrapes since the change: {samples}")
    subprocess.run(["docker", "update", "--cpu-quota", "-1", server_container], check=True, capture_output=True)
    deadline = time.monotonic() + 15
    while prometheus.query("primes_cpu_quota_cores"):  # no quota: the gauge is absent, not 0
        assert time.monotonic() < deadline, prometheus.query("primes_cpu_quota_cores")
        time.sleep(0.2)
    assert prometheus.value("max(primes_cpu_limit_cores)") == 2.0  # without a quota: the CPUs it may run on

    # The switch interval follows the documented control command.
    changed = stack.compose("exec", "-T", "server", "python", "-m", "server.control", "switch-interval", "0.001")
    assert changed.stdout.strip() == "0.001", changed.stdout
    _, waited = prometheus.wait_value("max(primes_switch_interval_seconds)", lambda v: v == 0.001, timeout=15,
                                      interval=0.2)
    note(f"switch interval 0.005 -> 0.001 seen by Prometheus after {waited:.1f}s")

    # Phase 2: the same cheap users plus one expensive user, until expensive answers are counted.
    locust(stack, "/stop")
    counts = settled_totals(prometheus)
    note(f"totals after the cheap phase: {counts}")
    assert counts["server cheap"] > 1000
    assert_counts_agree(counts)
    swarm(stack, CHEAP_USERS + 1, 1)
    prometheus.wait_value('sum(kind:primes_requests:rate5s{kind="expensive"})', lambda v: v > 0, timeout=90)
    prometheus.wait_value('sum(locust_users{user_class="ExpensiveUser"})', lambda v: v == 1, timeout=30)
    time.sleep(8)  # a few rate windows of the mixed load
    locust(stack, "/stop")

    settled = settled_totals(prometheus)
    note(f"totals at the end: {settled}")
    assert settled["server expensive"] >= 1
    assert_counts_agree(settled)

    # EVERY dashboard query and recording rule returns data over the run (parse errors would raise here).
    end = time.time()
    queries = [(where, concrete(expr)) for where, expr in dashboard_queries(load_dashboard())]
    queries += [(f"rule {record}", record) for record, _ in recording_rules()]
    empty = []
    for where, expr in queries:
        result = prometheus.query_range(expr, load_started - 5, end, step=1)
        values = finite_values(result)
        last = {json.dumps({k: v for k, v in series["metric"].items() if k not in ("job", "instance")}):
                series["values"][-1][1] for series in result}
        summary = (f"{len(result)} series, {len(values)} finite samples, min {min(values):.4g}, max {max(values):.4g}"
                   if values else f"{len(result)} series, NO DATA")
        note(f"{where}: {summary}; last {last}")
        if not values:
            empty.append(where)
    assert not empty, f"queries without data: {empty}"
    assert prometheus.label_values("instance", "primes_server_info") == ["server:8000"]  # the $server variable

    # Down with -v leaves nothing of the project behind.
    began = time.monotonic()
    stack.compose("down", "-v", "--rmi", "local", "--remove-orphans", timeout=180)
    timings["down -v"] = time.monotonic() - began
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
    timings["total"] = time.monotonic() - stack.started
    note("timings: " + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in timings.items()))
    with open(os.path.join(artifacts_dir, "stack-e2e-report.txt"), "w") as f:
        f.write("\n".join(report) + "\n")

"""How one cell is measured, the same way on every backend: phase "alone" (cheap stream only), then phase "with"
(cheap + expensive streams), each a warm-up and a measurement window read from the server's counters and Locust.
"""
import time

from runner import interrupts, promtext
from runner import locust_cpu as client_cpu

SPAWN_RATE = 100
START_TIMEOUT_S = 30.0  # time for the first answers / the expensive request to start (1 s intervals are slow)
IDLE_TIMEOUT_S = 30.0  # a disconnect stops a computation within 1 s; allow for a slow GIL hand-over


class PhaseError(RuntimeError):
    pass


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        interrupts.check()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise PhaseError(f"{what} (waited {timeout:g} s)")
        time.sleep(interval)


def in_flight(samples, kind):
    return samples.get_sum(promtext.IN_PROGRESS, kind=kind) or 0.0


def wait_idle(scrape, timeout=IDLE_TIMEOUT_S):
    """The verified gap: no request of either kind in flight on the server."""
    wait_for(lambda: all(in_flight(scrape(), kind) == 0 for kind in ("cheap", "expensive")), timeout,
             "requests still in flight on the server after the load stopped")


def sleep_with(seconds, tick):
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        interrupts.check()
        tick()
        time.sleep(min(0.5, left))


def no_locust_cpu():
    return None


def run_phase(target, locust, experiment, cheap_users, expensive_users, status, locust_cpu=no_locust_cpu):
    """One load phase on a ready server; returns its measurement dict.

    `locust_cpu()` gives {Locust process: CPU seconds so far} (None where the backend cannot tell)."""
    scrape = target.scrape
    start = scrape()
    locust.swarm(cheap_users, expensive_users, host=target.locust_host, spawn_rate=SPAWN_RATE,
                 cheap_n=experiment.cheap_n, expensive_n=experiment.expensive_n)
    try:
        first_cheap = start.get_sum(promtext.REQUESTS, kind="cheap") or 0.0
        status("starting")
        wait_for(lambda: (scrape().get_sum(promtext.REQUESTS, kind="cheap") or 0.0) > first_cheap,
                 START_TIMEOUT_S, "no cheap request was answered after the load started")
        if expensive_users:
            wait_for(lambda: in_flight(scrape(), "expensive") >= expensive_users, START_TIMEOUT_S,
                     f"the server never had {expensive_users} expensive request(s) in flight")
        status("warm-up")
        sleep_with(experiment.warmup_s, lambda: status("warm-up"))
        locust.reset_stats()
        before, began, cpu_before = scrape(), time.monotonic(), locust_cpu()
        status("measuring")
        sleep_with(experiment.measure_s, lambda: status("measuring"))
        after, window, cpu_after = scrape(), time.monotonic() - began, locust_cpu()
        stats = locust.stats()
    finally:
        locust.stop()
    status("waiting for idle")
    wait_idle(scrape)
    return summarise(before, after, window, stats, client_cpu.busy_cores(cpu_before, cpu_after, window))


def summarise(before, after, window, stats, locust_cores=None):
    cheap, expensive = stats.get("cheap", {}), stats.get("expensive", {})
    cheap_done = promtext.delta(before, after, promtext.REQUESTS, kind="cheap") or 0.0
    cpu = promtext.delta(before, after, promtext.SERVER_CPU)
    if cpu is None:
        cpu = promtext.delta(before, after, promtext.CGROUP_CPU)
    periods = promtext.delta(before, after, promtext.PERIODS)
    throttled = promtext.delta(before, after, promtext.THROTTLED_PERIODS)
    return {
        "window_s": window,
        "cheap_rps_server": cheap_done / window,
        "cheap_rps_locust": cheap.get("requests", 0) / window,
        "cheap_failures": cheap.get("failures", 0),
        "cheap_p50_ms": cheap.get("p50_ms"),
        "cheap_p99_ms": cheap.get("p99_ms"),
        "cheap_avg_ms": cheap.get("avg_ms"),
        "expensive_completed": promtext.delta(before, after, promtext.REQUESTS, kind="expensive") or 0.0,
        "expensive_in_flight": in_flight(after, "expensive"),
        "expensive_latency_ms": expensive.get("avg_ms") if expensive.get("requests") else None,
        "cpu_used_cores": None if cpu is None else cpu / window,
        "cpu_limit_cores": after.get_sum(promtext.CPU_LIMIT),
        "cpuset_cores": after.get_sum(promtext.CPUSET_CORES),
        "quota_cores": after.get_sum(promtext.QUOTA_CORES),
        "throttled_fraction": (throttled / periods) if periods else None,
        "switch_interval_s": after.get_sum(promtext.SWITCH_INTERVAL),
        "server_info": (after.labels_of(promtext.SERVER_INFO) or [{}])[0],
        "gil_enabled": after.get_sum(promtext.GIL_ENABLED),  # at the end of the window, i.e. under load
        # Cores each Locust process used through the window; its busiest one decides client_bound.
        "locust_cpu_cores": locust_cores or {},
        "locust_cpu_max_cores": max(locust_cores.values()) if locust_cores else None,
    }


def model_rps(switch_interval_s):
    """The lesson's simple model: a cheap request waits about two switch intervals for the GIL."""
    return 1.0 / (2.0 * switch_interval_s)


def measure_cell(target, locust, experiment, cell, status, locust_cpu=no_locust_cpu):
    """Both phases of one cell -> the record written to the cell's JSON and the CSV row."""
    wait_idle(target.scrape)  # nothing may leak in from the previous cell
    alone = run_phase(target, locust, experiment, cell.cheap_users, 0, lambda s: status(f"alone: {s}"), locust_cpu)
    with_expensive = None
    if cell.expensive_users:
        with_expensive = run_phase(target, locust, experiment, cell.cheap_users, cell.expensive_users,
                                   lambda s: status(f"with expensive: {s}"), locust_cpu)
    ratio = None
    if with_expensive is not None and alone["cheap_rps_server"] > 0:
        ratio = with_expensive["cheap_rps_server"] / alone["cheap_rps_server"]
    return {"alone": alone, "with_expensive": with_expensive, "convoy_ratio": ratio,
            "model_rps": model_rps(cell.switch_interval_s)}

"""The server's metrics as the exporter serves them: a fresh registry over the multiprocess files, exact text.

This pins the batched histograms (server/metrics.py) to what prometheus-client's own Histogram writes, and
checks that what a connection counts shows only once folded, exactly, from any number of threads."""
import math
import subprocess
import sys
import threading

import pytest

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from server.config import Config
from server.metrics import CHEAP, DURATION_BUCKETS, EXPENSIVE, LATENCY_BUCKETS, ServerMetrics
from tests.support import REPO_ROOT, parse_exposition

CHEAP_MAX_N = Config().cheap_max_n


def exposition(directory):
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry).decode()


def test_exact_exposition(tmp_path):
    metrics = ServerMetrics(str(tmp_path), CHEAP_MAX_N)
    metrics.describe_server(model="thread", algorithm="naive", workers=4, python_version="3.13.5",
                            implementation="CPython", gil_enabled=False)
    metrics.switch_interval.set(0.002)
    metrics.connections.inc()
    metrics.connections_active.inc()
    tally, hog = metrics.open_tally(), metrics.open_tally()
    for seconds in (0.00005, 0.0003, 0.0003):
        tally.computed(CHEAP, seconds)
    tally.waited(0.00004)  # latency of the last request answered
    hog.computing = CHEAP_MAX_N + 1  # an expensive n, still computing
    metrics.cancelled_by_kind[EXPENSIVE].inc()  # another one's client left
    metrics.error_reasons["n_too_large"].inc()
    before_fold = parse_exposition(exposition(str(tmp_path)))
    assert before_fold[("primes_requests_total", frozenset({("kind", "cheap")}))] == 0
    metrics.fold()

    lines = set(exposition(str(tmp_path)).splitlines())
    bounds = ("0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
              "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "120.0", "300.0", "600.0", "1800.0", "+Inf")
    cheap_buckets = {f'primes_request_duration_seconds_bucket{{kind="cheap",le="{bound}"}} '
                     f'{1.0 if bound in ("0.0001", "0.00025") else 3.0}' for bound in bounds}
    expected = {
        "# HELP primes_requests_total Requests answered with a prime, by kind",
        "# TYPE primes_requests_total counter",
        'primes_requests_total{kind="cheap"} 3.0',
        'primes_requests_total{kind="expensive"} 0.0',
        'primes_cancelled_total{kind="cheap"} 0.0',
        'primes_cancelled_total{kind="expensive"} 1.0',
        'primes_requests_in_progress{kind="cheap"} 0.0',
        'primes_requests_in_progress{kind="expensive"} 1.0',
        'primes_request_duration_seconds_count{kind="cheap"} 3.0',
        'primes_request_duration_seconds_sum{kind="cheap"} 0.00065',
        'primes_request_duration_seconds_count{kind="expensive"} 0.0',
        'primes_request_duration_seconds_sum{kind="expensive"} 0.0',
        'primes_errors_total{reason="n_too_large"} 1.0',
        'primes_errors_total{reason="not_an_integer"} 0.0',
        "primes_connections_total 1.0",
        "primes_connections_active 1.0",
        "primes_exporter_restarts_total 0.0",
        "primes_switch_interval_seconds 0.002",
        "primes_gil_enabled 0.0",
        'primes_server_info{algorithm="naive",gil_enabled="false",implementation="CPython",model="thread",'
        'python_version="3.13.5",workers="4"} 1.0',
        'primes_request_latency_seconds_bucket{kind="cheap",le="2.5e-05"} 0.0',
        'primes_request_latency_seconds_bucket{kind="cheap",le="5e-05"} 1.0',
        'primes_request_latency_seconds_count{kind="cheap"} 1.0',
        'primes_request_latency_seconds_sum{kind="cheap"} 4e-05',
        'primes_request_latency_seconds_count{kind="expensive"} 0.0',
        "# TYPE primes_request_duration_seconds histogram",
        "# TYPE primes_request_latency_seconds histogram",
        "# TYPE primes_requests_in_progress gauge",
        "# TYPE primes_switch_interval_seconds gauge",
    } | cheap_buckets
    assert expected - lines == set()
    # nothing unexpected: every sample line is one of ours, with a bounded label set (never the raw n)
    names = {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}
    assert names == {"primes_requests_total", "primes_cancelled_total", "primes_requests_in_progress",
                     "primes_request_duration_seconds_bucket", "primes_request_duration_seconds_count",
                     "primes_request_duration_seconds_sum", "primes_request_latency_seconds_bucket",
                     "primes_request_latency_seconds_count", "primes_request_latency_seconds_sum",
                     "primes_errors_total", "primes_connections_total",
                     "primes_connections_active", "primes_exporter_restarts_total",
                     "primes_switch_interval_seconds", "primes_gil_enabled", "primes_server_info"}
    sample_lines = [line for line in lines if not line.startswith("#")]
    assert len(sample_lines) == (2 * 3 + 2 * (len(DURATION_BUCKETS) + 2) + 2 * (len(LATENCY_BUCKETS) + 2)
                                 + 6 + 5 + 1)  # fixed cardinality
    metrics.close_tally(hog)
    metrics.close_tally(tally)
    assert 'primes_requests_in_progress{kind="expensive"} 0.0' in exposition(str(tmp_path))


def test_monitor_totals_follow_the_counters(tmp_path):
    metrics = ServerMetrics(str(tmp_path), CHEAP_MAX_N)
    tally = metrics.open_tally()
    for _ in range(5):
        tally.computed(CHEAP, 0.001)
    metrics.fold()
    assert metrics.completed_by_kind() == {"cheap": 5.0, "expensive": 0.0}


UPSTREAM_HISTOGRAM = """
import os, sys
from prometheus_client import Histogram, values
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
values.ValueClass = values.MultiProcessValue()
from server.metrics import DURATION_BUCKETS, DURATION_HELP, KINDS
histogram = Histogram("primes_request_duration_seconds", DURATION_HELP, ["kind"], buckets=DURATION_BUCKETS,
                      registry=None)
for kind in KINDS:
    histogram.labels(kind=kind)
for seconds in map(float, sys.argv[2:]):
    histogram.labels(kind="cheap").observe(seconds)
"""


@pytest.mark.parametrize("observations", [
    [0.00003, 0.0001, 0.00011, 0.002, 0.7, 42.0, 5000.0, 0.0001, 1.0],  # across the buckets, bounds included
    [0.00003, 0.0001, 0.000002, 0.0001],  # all in the first bucket: the fold's shortcut
], ids=["spread", "first-bucket"])
def test_batched_histogram_writes_what_upstream_histogram_writes(tmp_path, observations):
    ours, upstream = tmp_path / "ours", tmp_path / "upstream"
    ours.mkdir()
    upstream.mkdir()
    metrics = ServerMetrics(str(ours), CHEAP_MAX_N)
    tally = metrics.open_tally()
    for seconds in observations:
        tally.computed(CHEAP, seconds)
    metrics.close_tally(tally)
    # In a subprocess: prometheus-client's value class is process-wide.
    subprocess.run([sys.executable, "-c", UPSTREAM_HISTOGRAM, str(upstream), *map(str, observations)],
                   cwd=REPO_ROOT, check=True)

    def histogram(directory):
        return {sample: value for sample, value in parse_exposition(exposition(str(directory))).items()
                if sample[0].startswith("primes_request_duration_seconds")}
    ours, upstream = histogram(ours), histogram(upstream)
    assert ours.keys() == upstream.keys()
    for sample, value in ours.items():
        if sample[0] == "primes_request_duration_seconds_sum":
            # Upstream adds one observation at a time; a batch's sum (compensated on Python 3.12+) may
            # differ from that in its last bits, never more.
            assert math.isclose(value, upstream[sample], rel_tol=1e-12), sample
        else:
            assert value == upstream[sample], sample


def test_counts_from_many_threads_are_exact(tmp_path):
    """One tally per connection, one writer each, folded while they count: nothing lost (also without a GIL)."""
    metrics = ServerMetrics(str(tmp_path), CHEAP_MAX_N)
    threads_count, requests_each = 8, 20000
    folding = threading.Event()

    def connection():
        tally = metrics.open_tally()
        for _ in range(requests_each):
            tally.computed(CHEAP, 0.00002)
        metrics.close_tally(tally)

    def folder():
        while not folding.is_set():
            metrics.fold()

    fold_thread = threading.Thread(target=folder)
    fold_thread.start()
    threads = [threading.Thread(target=connection) for _ in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    folding.set()
    fold_thread.join()
    samples = parse_exposition(exposition(str(tmp_path)))
    assert samples[("primes_requests_total", frozenset({("kind", "cheap")}))] == threads_count * requests_each
    assert samples[("primes_request_duration_seconds_count", frozenset({("kind", "cheap")}))] == (
        threads_count * requests_each)

"""The server's metrics as the exporter serves them: a fresh registry over the multiprocess files, exact text.
This pins our lean value class (server/fastvalue.py) to the format prometheus-client itself reads.
"""
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from server.metrics import DURATION_BUCKETS, ServerMetrics


def exposition(directory):
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    return generate_latest(registry).decode()


def test_exact_exposition(tmp_path):
    metrics = ServerMetrics(str(tmp_path))
    metrics.describe_server(model="thread", algorithm="naive", workers=4, python_version="3.13.5",
                            implementation="CPython", gil_enabled=False)
    metrics.switch_interval.set(0.002)
    metrics.connections.inc()
    metrics.connections_active.inc()
    cheap, expensive = metrics.kinds["cheap"], metrics.kinds["expensive"]
    for seconds in (0.00005, 0.0003, 0.0003):
        cheap.started()
        cheap.finished(seconds)
    expensive.started()  # still computing
    expensive.started()
    expensive.abandoned(cancelled=True)  # its client left
    metrics.error_reasons["n_too_large"].inc()

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
        "primes_switch_interval_seconds 0.002",
        "primes_gil_enabled 0.0",
        'primes_server_info{algorithm="naive",gil_enabled="false",implementation="CPython",model="thread",'
        'python_version="3.13.5",workers="4"} 1.0',
        "# TYPE primes_request_duration_seconds histogram",
        "# TYPE primes_requests_in_progress gauge",
        "# TYPE primes_switch_interval_seconds gauge",
    } | cheap_buckets
    assert expected - lines == set()
    # nothing unexpected: every sample line is one of ours, with a bounded label set (never the raw n)
    names = {line.split("{")[0].split(" ")[0] for line in lines if not line.startswith("#")}
    assert names == {"primes_requests_total", "primes_cancelled_total", "primes_requests_in_progress",
                     "primes_request_duration_seconds_bucket", "primes_request_duration_seconds_count",
                     "primes_request_duration_seconds_sum", "primes_errors_total", "primes_connections_total",
                     "primes_connections_active", "primes_switch_interval_seconds", "primes_gil_enabled",
                     "primes_server_info"}
    sample_lines = [line for line in lines if not line.startswith("#")]
    assert len(sample_lines) == 2 * 3 + 2 * (len(DURATION_BUCKETS) + 2) + 6 + 4 + 1  # fixed cardinality


def test_monitor_totals_follow_the_counters(tmp_path):
    metrics = ServerMetrics(str(tmp_path))
    for _ in range(5):
        metrics.kinds["cheap"].started()
        metrics.kinds["cheap"].finished(0.001)
    assert metrics.completed_by_kind() == {"cheap": 5.0, "expensive": 0.0}

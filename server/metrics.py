"""The server's request metrics, written by the compute process into prometheus-client's multiprocess files.
The exporter (server/exporter.py) reads those files from another process, so a scrape never needs our GIL.
"""
import os
from bisect import bisect_left

from prometheus_client import Counter, Gauge, Histogram, values

from server.fastvalue import FastMultiProcessValue

KINDS = ("cheap", "expensive")
ERROR_REASONS = ("not_an_integer", "n_too_small", "n_too_large", "request_too_long", "too_many_connections",
                 "worker_failed")
# From a cheap request's tens of microseconds to a naive n=100000's many minutes.
DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                    1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf"))
SWITCH_INTERVAL_HELP = ("Current sys.getswitchinterval() of the server, in seconds "
                        "(a no-op for scheduling when the GIL is disabled)")


class KindMetrics:
    """The metrics of one request kind, bound once so the request path does no label look-ups.

    started()/finished() write the underlying values directly under the value class's one lock: one
    acquisition per call instead of one per metric keeps our overhead small next to a round trip
    (python -m server.benchmark). The exposition tests pin the result to what prometheus-client writes.
    """

    def __init__(self, metrics, kind):
        self.completed = metrics.requests.labels(kind=kind)
        self.duration = metrics.duration.labels(kind=kind)
        self.in_progress = metrics.in_progress.labels(kind=kind)
        self.cancelled = metrics.cancelled.labels(kind=kind)
        self._lock = values.ValueClass.lock
        self._in_progress = self.in_progress._value
        self._completed = self.completed._value
        self._sum = self.duration._sum
        self._buckets = self.duration._buckets  # per-bucket counts; the exposition makes them cumulative
        self._bounds = self.duration._upper_bounds

    def started(self):
        with self._lock:
            self._in_progress.add_locked(1)

    def finished(self, seconds):
        with self._lock:
            self._in_progress.add_locked(-1)
            self._sum.add_locked(seconds)
            self._buckets[bisect_left(self._bounds, seconds)].add_locked(1)
            self._completed.add_locked(1)

    def abandoned(self, cancelled):
        """A computation that ended without an answer: cancelled, or its worker failed."""
        with self._lock:
            self._in_progress.add_locked(-1)
        if cancelled:
            self.cancelled.inc()


class ServerMetrics:
    """Every metric the compute process writes. `multiproc_dir` is where the exporter reads them."""

    def __init__(self, multiproc_dir):
        # Read by prometheus-client's own checks; our values write their files in multiproc_dir.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
        values.ValueClass = FastMultiProcessValue(multiproc_dir)
        self.multiproc_dir = multiproc_dir

        self.requests = Counter("primes_requests_total", "Requests answered with a prime, by kind",
                                ["kind"], registry=None)
        self.duration = Histogram("primes_request_duration_seconds",
                                  "Time from the start of a request's computation to its answer (GIL waits included), by kind",
                                  ["kind"], buckets=DURATION_BUCKETS, registry=None)
        self.in_progress = Gauge("primes_requests_in_progress", "Requests being computed right now, by kind",
                                 ["kind"], multiprocess_mode="sum", registry=None)
        self.cancelled = Counter("primes_cancelled_total",
                                 "Computations stopped because their client disconnected, by kind",
                                 ["kind"], registry=None)
        self.errors = Counter("primes_errors_total", "Requests answered with ERR, by reason", ["reason"],
                              registry=None)
        self.connections_active = Gauge("primes_connections_active", "Client connections open right now",
                                        multiprocess_mode="sum", registry=None)
        self.connections = Counter("primes_connections_total", "Client connections accepted", registry=None)
        self.switch_interval = Gauge("primes_switch_interval_seconds", SWITCH_INTERVAL_HELP,
                                     multiprocess_mode="mostrecent", registry=None)
        self.gil_enabled = Gauge("primes_gil_enabled", "1 if the server's interpreter runs with the GIL, else 0",
                                 multiprocess_mode="mostrecent", registry=None)
        self.info = Gauge("primes_server_info", "The server's configuration and interpreter (value always 1)",
                          ["model", "algorithm", "workers", "python_version", "implementation", "gil_enabled"],
                          multiprocess_mode="mostrecent", registry=None)

        self.kinds = {kind: KindMetrics(self, kind) for kind in KINDS}
        self.error_reasons = {reason: self.errors.labels(reason=reason) for reason in ERROR_REASONS}
        # Every labelled series exists from the start (at 0), so rates and dashboards never see "no data".
        for reason in ERROR_REASONS:
            self.error_reasons[reason].inc(0)
        for kind in self.kinds.values():
            kind.completed.inc(0)
            kind.cancelled.inc(0)
            kind.in_progress.set(0)

    def describe_server(self, *, model, algorithm, workers, python_version, implementation, gil_enabled):
        self.gil_enabled.set(1 if gil_enabled else 0)
        self.info.labels(model=model, algorithm=algorithm, workers=str(workers), python_version=python_version,
                         implementation=implementation, gil_enabled="true" if gil_enabled else "false").set(1)

    def completed_by_kind(self):
        """Requests completed so far, by kind (for the console monitor)."""
        totals = dict.fromkeys(KINDS, 0.0)
        for family in self.requests.collect():
            for sample in family.samples:
                if sample.name == "primes_requests_total":
                    totals[sample.labels["kind"]] = sample.value
        return totals

"""Prometheus metrics of the load Locust generates (requests, failures, response times by kind; users by class).
Metric names are defined here once; other parts import them. A fresh CollectorRegistry, never the global one.
"""
from bisect import bisect_left

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

REQUESTS_TOTAL = "locust_requests_total"  # every request Locust made, failures included (Locust's own count)
FAILURES_TOTAL = "locust_failures_total"  # the failed ones (wrong answer, ERR, timeout, connection lost)
RESPONSE_TIME = "locust_response_time_seconds"  # histogram: _bucket, _sum, _count
USERS = "locust_users"  # gauge: users running now, by user_class
KIND_LABEL = "kind"
USER_CLASS_LABEL = "user_class"

# Cheap answers take well under a millisecond; naive n=100000 takes most of an hour.
BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
             60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)


class _Stream:
    __slots__ = ("requests", "failures", "buckets", "sum_s")

    def __init__(self):
        self.requests = 0
        self.failures = 0
        self.buckets = [0] * (len(BUCKETS_S) + 1)  # per bucket (not cumulative); the last one is +Inf
        self.sum_s = 0.0


class LoadMetrics:
    """Counts of the load, kept monotonic across test runs (Locust's own stats are cleared at each start).

    Fed per request where requests happen (local runner) or from the workers' periodic stats reports
    (master), so a master's numbers are the sum of its workers'.
    """

    def __init__(self, users_by_class=lambda: {}, kinds=("cheap", "expensive")):
        # Known kinds start at 0, so rate() and increase() work from the first scrape.
        self.streams = {kind: _Stream() for kind in kinds}
        self.users_by_class = users_by_class  # () -> {class name: running users}
        self.registry = CollectorRegistry()
        self.registry.register(self)

    def _stream(self, kind):
        stream = self.streams.get(kind)
        if stream is None:
            stream = self.streams[kind] = _Stream()
        return stream

    def on_request(self, request_type, name, response_time, response_length, exception=None, context=None, **_):
        """Listener for environment.events.request (response_time in ms); runs for every request.

        It names every argument Locust passes: CPython binds named keywords by identity, but matches each one
        that would land in **_ by string comparison with every parameter name, per call."""
        stream = self.streams.get(name) or self._stream(name)
        stream.requests += 1
        if exception is not None:
            stream.failures += 1
        seconds = response_time / 1000.0
        stream.sum_s += seconds
        stream.buckets[bisect_left(BUCKETS_S, seconds)] += 1

    def on_worker_report(self, client_id, data):
        """Listener for environment.events.worker_report: each report carries the worker's counts since its last."""
        for entry in data.get("stats", ()):
            stream = self._stream(entry["name"])
            stream.requests += entry["num_requests"]
            stream.failures += entry["num_failures"]
            stream.sum_s += entry["total_response_time"] / 1000.0
            for milliseconds, count in entry["response_times"].items():
                stream.buckets[_bucket_index(milliseconds / 1000.0)] += count

    def collect(self):
        requests = CounterMetricFamily(REQUESTS_TOTAL, "Requests sent by Locust (failures included), by kind",
                                       labels=[KIND_LABEL])
        failures = CounterMetricFamily(FAILURES_TOTAL, "Failed requests (wrong answer, ERR, timeout, connection "
                                       "lost), by kind", labels=[KIND_LABEL])
        times = HistogramMetricFamily(RESPONSE_TIME, "Response time seen by Locust, by kind", labels=[KIND_LABEL])
        for kind, stream in sorted(self.streams.items()):
            requests.add_metric([kind], stream.requests)
            failures.add_metric([kind], stream.failures)
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, BUCKETS_S), "+Inf"), stream.buckets):
                cumulative += count
                buckets.append((bound, cumulative))
            times.add_metric([kind], buckets, stream.sum_s)
        users = GaugeMetricFamily(USERS, "Locust users running now, by user class", labels=[USER_CLASS_LABEL])
        for user_class, count in sorted(self.users_by_class().items()):
            users.add_metric([user_class], count)
        return [requests, failures, times, users]

    def exposition(self):
        return generate_latest(self.registry)


def _bucket_index(seconds):
    """The first bucket whose bound is >= seconds (the last one, +Inf, past every bound)."""
    return bisect_left(BUCKETS_S, seconds)

"""The server's request metrics, written by the compute process into prometheus-client's multiprocess files.

The exporter (server/exporter.py) reads those files from another process, so a scrape never needs our GIL.

A request costs no shared write: the thread serving a connection appends its compute time to that
connection's own `ConnectionTally` (plain lists, one writer, so nothing is lost with or without the GIL), and
`ServerMetrics.fold()` takes what is new off in batches into prometheus-client's standard multiprocess
values. The server's monitor folds once a second, and a connection is folded as it closes, before it stops
counting as active.
Rare events (connections, errors, cancellations) are written at once through the public API.
"""
import os
import threading
from bisect import bisect_right

from prometheus_client import Counter, Gauge, values
from prometheus_client.utils import floatToGoString

KINDS = ("cheap", "expensive")
CHEAP, EXPENSIVE = 0, 1  # indexes into KINDS, used on the request path
IDLE = -1  # a tally's `answered` before any request, or after an error
NOT_COMPUTING = 0  # a tally's `computing` between requests (an n is at least 1)
ERROR_REASONS = ("not_an_integer", "n_too_small", "n_too_large", "request_too_long", "too_many_connections",
                 "worker_failed")
# From a cheap request's tens of microseconds to a naive n=100000's many minutes.
DURATION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                    1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, float("inf"))
# The same, with two finer buckets below: a cheap round trip from the kernel's receipt is tens of microseconds.
LATENCY_BUCKETS = (0.000025, 0.00005) + DURATION_BUCKETS
DURATION_HELP = ("Compute time of a request, by kind: from the start of its computation (its thread already "
                 "holds the GIL) to its result, GIL hand-offs during it included. The wait for the GIL before "
                 "it starts is in primes_request_latency_seconds")
LATENCY_HELP = ("Latency of a request, by kind: from the kernel's receipt of its bytes to its answer sent, the "
                "wait for the GIL included. Sampled: at most one receive per connection every 10 ms")
SWITCH_INTERVAL_HELP = ("Current sys.getswitchinterval() of the server, in seconds "
                        "(a no-op for scheduling when the GIL is disabled)")


class HistogramSeries:
    """One labelled series of a histogram, held as prometheus-client's multiprocess files hold a Histogram's:
    one value per bucket (not cumulative) and one for the sum; the collector derives `_count` and the
    cumulative buckets. Written in batches by add(); tests pin it to what Histogram.observe() writes."""

    def __init__(self, name, documentation, labelnames, labelvalues, bounds):
        make = values.ValueClass
        self.bounds = tuple(float(bound) for bound in bounds)
        self.buckets = [make("histogram", name, name + "_bucket", (*labelnames, "le"),
                             (*labelvalues, floatToGoString(bound)), documentation) for bound in self.bounds]
        self.sum = make("histogram", name, name + "_sum", tuple(labelnames), tuple(labelvalues), documentation)

    def add(self, observations):
        """Observe each of `observations` (seconds), as that many Histogram.observe() calls would."""
        bounds = self.bounds
        if max(observations, default=0.0) <= bounds[0]:  # the usual batch, all cheap: no per-observation Python at all
            counts = [len(observations)]
        else:  # a bucket's count is where its bound falls among the sorted observations
            ordered = sorted(observations)
            below = [bisect_right(ordered, bound) for bound in bounds]
            counts = [below[0]] + [high - low for low, high in zip(below, below[1:])]
        for value, count in zip(self.buckets, counts):
            if count:
                value.inc(count)
        total = sum(observations)  # in C; compensated on Python 3.12+, so at least as exact as upstream's
        if total:
            self.sum.inc(total)


class ConnectionTally:
    """One connection's observations since the last fold, appended only by the thread serving it.

    `durations[kind]` and `latencies[kind]` are lists of observed seconds: appending one is the whole cost
    of recording a request, and ServerMetrics.fold() takes them off in batches into the histograms.
    `computing` is the n being computed now (NOT_COMPUTING between requests; fold() tells its kind),
    `answered` the kind of the last request answered and `started` when its computation began.
    """

    __slots__ = ("durations", "latencies", "computing", "answered", "started")

    def __init__(self):
        self.durations = tuple([] for _ in KINDS)
        self.latencies = tuple([] for _ in KINDS)
        self.computing = NOT_COMPUTING
        self.answered = IDLE
        self.started = 0.0  # time.perf_counter() at the start of the last computation

    def computed(self, kind, seconds):
        self.durations[kind].append(seconds)
        self.answered = kind

    def waited(self, seconds):
        """Latency of the last request answered (none if it got an error), from the kernel's receipt."""
        if self.answered == IDLE or seconds < 0:  # < 0: the wall clock was stepped back meanwhile
            return
        self.latencies[self.answered].append(seconds)


def _take(observations):
    """The observations appended so far. Their owner may append more meanwhile; those stay for the next
    take. A copy and a deletion are each atomic on a list, with the GIL or without it."""
    taken = observations[:]
    del observations[:len(taken)]
    return taken


class ServerMetrics:
    """Every metric the compute process writes. `multiproc_dir` is where the exporter reads them; a request
    with n up to `cheap_max_n` is cheap."""

    def __init__(self, multiproc_dir, cheap_max_n):
        # Read by prometheus-client's multiprocess values when they open their files.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = multiproc_dir
        values.ValueClass = values.MultiProcessValue()
        self.multiproc_dir = multiproc_dir
        self.cheap_max_n = cheap_max_n

        self.requests = Counter("primes_requests_total", "Requests answered with a prime, by kind",
                                ["kind"], registry=None)
        self.duration = [HistogramSeries("primes_request_duration_seconds", DURATION_HELP, ("kind",), (kind,),
                                         DURATION_BUCKETS) for kind in KINDS]
        self.latency = [HistogramSeries("primes_request_latency_seconds", LATENCY_HELP, ("kind",), (kind,),
                                        LATENCY_BUCKETS) for kind in KINDS]
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
        self.exporter_restarts = Counter("primes_exporter_restarts_total",
                                         "Times the exporter process died and the server started a new one",
                                         registry=None)
        self.switch_interval = Gauge("primes_switch_interval_seconds", SWITCH_INTERVAL_HELP,
                                     multiprocess_mode="mostrecent", registry=None)
        self.gil_enabled = Gauge("primes_gil_enabled", "1 if the server's interpreter runs with the GIL, else 0",
                                 multiprocess_mode="mostrecent", registry=None)
        self.info = Gauge("primes_server_info", "The server's configuration and interpreter (value always 1)",
                          ["model", "algorithm", "workers", "python_version", "implementation", "gil_enabled"],
                          multiprocess_mode="mostrecent", registry=None)

        self.completed = [self.requests.labels(kind=kind) for kind in KINDS]
        self.computing = [self.in_progress.labels(kind=kind) for kind in KINDS]
        self.cancelled_by_kind = [self.cancelled.labels(kind=kind) for kind in KINDS]
        self.error_reasons = {reason: self.errors.labels(reason=reason) for reason in ERROR_REASONS}
        # Every labelled series exists from the start (at 0), so rates and dashboards never see "no data".
        for reason in ERROR_REASONS:
            self.error_reasons[reason].inc(0)
        for kind in KINDS:
            self.requests.labels(kind=kind).inc(0)
            self.cancelled.labels(kind=kind).inc(0)
            self.in_progress.labels(kind=kind).set(0)

        self._tallies = set()
        self._fold_lock = threading.Lock()

    def kind_of(self, n):
        """CHEAP or EXPENSIVE: the kind a request for the nth prime is counted as."""
        return CHEAP if n <= self.cheap_max_n else EXPENSIVE

    # -- per connection ----------------------------------------------------------------------------------
    def open_tally(self):
        tally = ConnectionTally()
        with self._fold_lock:
            self._tallies.add(tally)
        return tally

    def close_tally(self, tally):
        """The connection is done: fold what it counted and forget it."""
        with self._fold_lock:
            self._tallies.discard(tally)
            self._fold_locked([tally])

    # -- batches -----------------------------------------------------------------------------------------
    def fold(self):
        """Add every open connection's new counts to the shared values (called once a second)."""
        with self._fold_lock:
            self._fold_locked(list(self._tallies))

    def _fold_locked(self, tallies):
        computing = [0] * len(KINDS)
        for tally in tallies:
            for kind in range(len(KINDS)):
                observations = _take(tally.durations[kind])
                if observations:
                    self.completed[kind].inc(len(observations))
                    self.duration[kind].add(observations)
                observations = _take(tally.latencies[kind])
                if observations:
                    self.latency[kind].add(observations)
        for tally in self._tallies:
            n = tally.computing  # read once: its owner may change it meanwhile
            if n != NOT_COMPUTING:
                computing[self.kind_of(n)] += 1
        for kind, count in enumerate(computing):
            self.computing[kind].set(count)

    # -- the rest ----------------------------------------------------------------------------------------
    def describe_server(self, *, model, algorithm, workers, python_version, implementation, gil_enabled):
        self.gil_enabled.set(1 if gil_enabled else 0)
        self.info.labels(model=model, algorithm=algorithm, workers=str(workers), python_version=python_version,
                         implementation=implementation, gil_enabled="true" if gil_enabled else "false").set(1)

    def completed_by_kind(self):
        """Requests completed and folded so far, by kind (for the console monitor)."""
        totals = dict.fromkeys(KINDS, 0.0)
        for family in self.requests.collect():
            for sample in family.samples:
                if sample.name == "primes_requests_total":
                    totals[sample.labels["kind"]] = sample.value
        return totals

"""Read the prime server's /metrics: parse Prometheus text exposition into samples, and take deltas between scrapes.
The server's counters are the ground truth of what it answered; names come from the contract (server/metrics.py).
"""
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "primes_requests_total"
IN_PROGRESS = "primes_requests_in_progress"
SERVER_CPU = "primes_server_cpu_seconds_total"  # the server's processes (native hosts)
CGROUP_CPU = "primes_cpu_usage_seconds_total"  # the whole cgroup (inside a container: the server)
CPU_LIMIT = "primes_cpu_limit_cores"
CPUSET_CORES = "primes_cpu_cpuset_cores"  # CPUs the server may run on (cpuset within affinity)
QUOTA_CORES = "primes_cpu_quota_cores"  # CFS quota in cores; absent without one
PERIODS = "primes_cpu_periods_total"
THROTTLED_PERIODS = "primes_cpu_throttled_periods_total"
SWITCH_INTERVAL = "primes_switch_interval_seconds"
SERVER_INFO = "primes_server_info"
GIL_ENABLED = "primes_gil_enabled"


class Samples(dict):
    """{(name, frozenset(labels)): value}, with sums over label subsets."""

    def get_sum(self, name, **labels):
        wanted = frozenset(labels.items())
        found = [value for (sample, have), value in self.items() if sample == name and wanted <= have]
        return sum(found) if found else None

    def labels_of(self, name):
        return [dict(labels) for (sample, labels) in self if sample == name]


class NotExposition(OSError):
    """A metrics URL answered with something else than Prometheus text (an OSError: the read failed, the runner
    retries or records the cell as failed, as for a refused connection)."""


def parse(text):
    """Prometheus text exposition -> Samples (prometheus-client's parser; a malformed line raises ValueError)."""
    return Samples(((sample.name, frozenset(sample.labels.items())), float(sample.value))
                   for family in text_string_to_metric_families(text) for sample in family.samples)


def scrape(url, timeout=10.0, attempts=3):
    """One scrape; a timed-out attempt is retried (a loaded host can stall a container's exporter briefly)."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                text = response.read().decode(errors="replace")
        except TimeoutError:
            if attempt == attempts - 1:
                raise TimeoutError(f"scraping {url} timed out {attempts} times ({timeout:g} s each)") from None
            continue
        try:
            return parse(text)
        except ValueError as exc:
            raise NotExposition(f"{url} did not answer with Prometheus text exposition: {exc}") from None


def delta(before, after, name, **labels):
    """Increase of a counter between two scrapes; None where the server does not export it."""
    first, last = before.get_sum(name, **labels), after.get_sum(name, **labels)
    if first is None or last is None:
        return None
    return last - first

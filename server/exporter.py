"""The Prometheus exporter: a separate process that serves /metrics for the prime server.
It shares no GIL with the compute process, so a scrape stays fast while a request hogs the server's GIL.
"""
import argparse
import os
import signal
import sys
import time

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from server.cgroup import CgroupCpu

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CgroupCollector:
    """CPU limits (cores) and CPU accounting of the server's cgroup, read on every scrape.

    Reading on every scrape is what makes `docker update --cpus` / `--cpuset-cpus` show up within one scrape
    interval. The two limits are exported apart because they act differently on the GIL: a quota lets the
    server's threads run on every allowed core in bursts, pinned cores hold them to those cores all the time.
    """

    def __init__(self, cgroup, affinity):
        self.cgroup = cgroup
        self.affinity = affinity  # () -> the set of CPUs the server process may run on (sched_getaffinity)

    def allowed_cpus(self):
        """The cgroup's cpuset within the process's affinity (natively, affinity alone pins the server)."""
        cpuset, affinity = self.cgroup.cpuset(), set(self.affinity())
        return len(affinity & cpuset) if cpuset and affinity & cpuset else len(affinity)

    def collect(self):
        allowed = self.allowed_cpus()
        quota = self.cgroup.limit_cores()
        yield GaugeMetricFamily("primes_cpu_limit_cores",
                                "CPU limit of the server in cores: cgroup quota/period, else usable CPUs",
                                value=float(allowed) if quota is None else quota)
        yield GaugeMetricFamily("primes_cpu_cpuset_cores",
                                "CPUs the server may run on: its cgroup's cpuset (cpuset.cpus.effective) "
                                "within its CPU affinity", value=allowed)
        if quota is not None:
            yield GaugeMetricFamily("primes_cpu_quota_cores",
                                    "CFS quota of the server's cgroup in cores (cpu.max or cfs_quota_us / "
                                    "cfs_period_us); absent when there is none", value=quota)
        stat = self.cgroup.stat()
        for key, name, text in (
            ("usage_seconds", "primes_cpu_usage_seconds_total", "CPU time used by the server's cgroup"),
            ("periods", "primes_cpu_periods_total", "CFS enforcement periods of the server's cgroup"),
            ("throttled_periods", "primes_cpu_throttled_periods_total",
             "CFS periods in which the server's cgroup was throttled"),
            ("throttled_seconds", "primes_cpu_throttled_seconds_total",
             "Time the server's cgroup spent throttled by its CPU limit"),
        ):
            if key in stat:
                yield CounterMetricFamily(name.removesuffix("_total"), text, value=stat[key])


def _process_cpu_seconds(proc, pid):
    with open(os.path.join(proc, str(pid), "stat")) as f:
        text = f.read()
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _children(proc, pid):
    found = []
    try:
        for task in os.listdir(os.path.join(proc, str(pid), "task")):
            with open(os.path.join(proc, str(pid), "task", task, "children")) as f:
                found += [int(child) for child in f.read().split()]
    except OSError:
        pass
    return found


class ServerProcessCollector:
    """CPU time of the server process and its worker processes (the `process` model's pool)."""

    def __init__(self, pid, proc="/proc"):
        self.pid = pid
        self.proc = proc

    def collect(self):
        total = 0.0
        for pid in [self.pid] + _children(self.proc, self.pid):
            try:
                total += _process_cpu_seconds(self.proc, pid)
            except (OSError, ValueError, IndexError):
                pass  # a worker that just exited
        yield CounterMetricFamily("primes_server_cpu_seconds",
                                  "CPU time used by the server process and its worker processes", value=total)


def build_registry(multiproc_dir, server_pid, cgroup_root="/sys/fs/cgroup", proc="/proc"):
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry, path=multiproc_dir)
    cgroup = CgroupCpu(root=cgroup_root, proc=proc, pid=server_pid)
    registry.register(CgroupCollector(cgroup, lambda: os.sched_getaffinity(server_pid)))
    registry.register(ServerProcessCollector(server_pid, proc=proc))
    return registry


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.exporter",
                                     description="Serve the prime server's metrics (started by the server itself).")
    parser.add_argument("--multiproc-dir", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    args = parser.parse_args(argv)
    # The server blocks these signals in its threads; a child inherits that mask, so undo it.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))

    registry = build_registry(args.multiproc_dir, args.server_pid, args.cgroup_root)
    try:
        start_http_server(args.port, addr=args.host, registry=registry)
    except OSError as error:
        print(f"exporter: cannot listen on {args.host}:{args.port}: {error}", flush=True)
        return 1
    print("ready", flush=True)
    # Exit with the server, even if it was killed without a chance to stop us.
    while os.getppid() == args.server_pid:
        time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

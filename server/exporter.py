"""The exporter: a separate process that serves /metrics and the control endpoint for the prime server.

It shares no GIL with the server, so a scrape (and reading a control request) stays fast while a request hogs
the server's GIL. The server starts it, restarts it if it dies (server/exporter_supervisor.py), and stops it
by closing the control link; it dies with the server.
"""
import argparse
import os
import signal
import socket
import sys

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from server.cgroup import CgroupCpu
from server.control import ControlServer, ServerLink
from server.control_link import Slot
from server.lifeline import die_with_parent

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
                                     description="Serve the prime server's metrics and control endpoint "
                                                 "(started by the server itself).")
    parser.add_argument("--multiproc-dir", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control-host", default="127.0.0.1")
    parser.add_argument("--control-port", type=int, required=True)
    parser.add_argument("--control-fd", type=int, required=True, help="our end of the server's control link "
                                                                      "(its request slot is in --multiproc-dir)")
    parser.add_argument("--cgroup-root", default="/sys/fs/cgroup")
    args = parser.parse_args(argv)
    die_with_parent(args.server_pid)
    # Ctrl-C in a terminal, or a SIGTERM to the whole process group, is the server's to act on: were we to exit
    # first, the server would see an exporter crash and start another one while it stops. The server stops us
    # by closing the link.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})  # blocked in the server

    link = ServerLink(socket.socket(fileno=args.control_fd), Slot(args.multiproc_dir), args.server_pid)
    registry = build_registry(args.multiproc_dir, args.server_pid, args.cgroup_root)
    # The control port first: once /metrics answers, both listen (the tests and the runner rely on it).
    try:
        control = ControlServer((args.control_host, args.control_port), link)
    except OSError as error:
        print(f"exporter: cannot listen on {args.control_host}:{args.control_port}: {error}", flush=True)
        return 1
    try:
        metrics_server, _ = start_http_server(args.port, addr=args.host, registry=registry)
    except OSError as error:
        print(f"exporter: cannot listen on {args.host}:{args.port}: {error}", flush=True)
        return 1
    control.start()
    print(f"ready {metrics_server.server_address[1]} {control.server_address[1]}", flush=True)
    link.run()  # until the server closes the link (it is stopping) or dies
    os._exit(0)  # at once: no need to wait for the HTTP threads


if __name__ == "__main__":
    sys.exit(main())

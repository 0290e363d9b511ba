"""Reads the CPU limit and CPU accounting of a process's cgroup, v1 or v2, from files under a given root.
Roots are parameters (like prometheus-client's ProcessCollector(proc=...)) so tests use fixture trees.
"""
import os

V1_CPU_DIRS = ("cpu,cpuacct", "cpu", "cpuacct,cpu")
V1_CPUACCT_DIRS = ("cpu,cpuacct", "cpuacct", "cpuacct,cpu")
# Where a cpuset's CPUs are listed: v2 file, then v1's (effective first: what the kernel really allows).
V2_CPUSET_FILES = ("cpuset.cpus.effective",)
V1_CPUSET_FILES = ("cpuset.effective_cpus", "cpuset.cpus")


def parse_cpu_list(text):
    """The kernel's CPU list format ("0-3,8,10-11") -> a frozenset of CPU numbers; ValueError if malformed."""
    cpus = set()
    for part in text.strip().split(","):
        if not part:
            continue
        first, dash, last = part.partition("-")
        start, end = int(first), int(last if dash else first)
        if start < 0 or end < start:
            raise ValueError(f"bad CPU range {part!r}")
        cpus.update(range(start, end + 1))
    return frozenset(cpus)


def _read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _read_stat(path):
    text = _read(path)
    if text is None:
        return None
    stat = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            stat[key] = int(value)
        except ValueError:
            pass
    return stat


class CgroupCpu:
    """The cpu and cpuset controllers of `pid`'s cgroup: quota in cores, CPUs allowed, usage/throttling counters.

    Inside a container the cgroup file system is mounted at the container's own cgroup, so when the path
    named in /proc/<pid>/cgroup does not exist under the root, the mount root itself is the cgroup.
    """

    def __init__(self, root="/sys/fs/cgroup", proc="/proc", pid="self"):
        self.root = root
        self.proc = proc
        self.pid = pid

    @property
    def version(self):
        if os.path.exists(os.path.join(self.root, "cgroup.controllers")):
            return 2
        if any(os.path.isdir(os.path.join(self.root, d)) for d in V1_CPU_DIRS):
            return 1
        return None

    def _own_paths(self):
        """controller -> path from /proc/<pid>/cgroup ('' key for the v2 unified hierarchy)."""
        paths = {}
        text = _read(os.path.join(self.proc, str(self.pid), "cgroup")) or ""
        for line in text.splitlines():
            parts = line.split(":", 2)
            if len(parts) == 3:
                for controller in parts[1].split(","):
                    paths[controller] = parts[2].lstrip("/")
        return paths

    def _dir(self, mount_dirs, controller, probe):
        own = self._own_paths().get(controller, "")
        for mount in mount_dirs:
            base = os.path.join(self.root, mount) if mount else self.root
            for candidate in (os.path.join(base, own), base):
                if os.path.exists(os.path.join(candidate, probe)):
                    return candidate
        return None

    def limit_cores(self):
        """The CFS quota in cores, or None when the cgroup sets no limit."""
        if self.version == 2:
            directory = self._dir(("",), "", "cpu.max")
            text = _read(os.path.join(directory, "cpu.max")) if directory else None
            if not text:
                return None
            quota, _, period = text.partition(" ")
            if quota == "max":
                return None
            return int(quota) / int(period or 100000)
        if self.version == 1:
            directory = self._dir(V1_CPU_DIRS, "cpu", "cpu.cfs_quota_us")
            if directory is None:
                return None
            quota = _read(os.path.join(directory, "cpu.cfs_quota_us"))
            period = _read(os.path.join(directory, "cpu.cfs_period_us"))
            if quota is None or period is None or int(quota) <= 0:
                return None
            return int(quota) / int(period)
        return None

    def cpuset(self):
        """The CPUs the cgroup's cpuset lets the process run on (a frozenset), or None when unknown."""
        if self.version == 2:
            candidates = [("", "", name) for name in V2_CPUSET_FILES]
        elif self.version == 1:
            candidates = [("cpuset", "cpuset", name) for name in V1_CPUSET_FILES]
        else:
            return None
        for mount, controller, name in candidates:
            directory = self._dir((mount,), controller, name)
            text = _read(os.path.join(directory, name)) if directory else None
            if text:  # v2 leaves cpuset.cpus empty when unset; the effective list is never empty
                try:
                    return parse_cpu_list(text)
                except ValueError:
                    return None
        return None

    def stat(self):
        """usage_seconds, periods, throttled_periods, throttled_seconds; a key is missing when unknown."""
        result = {}
        if self.version == 2:
            directory = self._dir(("",), "", "cpu.stat")
            stat = _read_stat(os.path.join(directory, "cpu.stat")) if directory else None
            if stat:
                if "usage_usec" in stat:
                    result["usage_seconds"] = stat["usage_usec"] / 1e6
                if "nr_periods" in stat:
                    result["periods"] = stat["nr_periods"]
                    result["throttled_periods"] = stat.get("nr_throttled", 0)
                    result["throttled_seconds"] = stat.get("throttled_usec", 0) / 1e6
        elif self.version == 1:
            directory = self._dir(V1_CPU_DIRS, "cpu", "cpu.stat")
            stat = _read_stat(os.path.join(directory, "cpu.stat")) if directory else None
            if stat and "nr_periods" in stat:
                result["periods"] = stat["nr_periods"]
                result["throttled_periods"] = stat.get("nr_throttled", 0)
                result["throttled_seconds"] = stat.get("throttled_time", 0) / 1e9  # nanoseconds in v1
            directory = self._dir(V1_CPUACCT_DIRS, "cpuacct", "cpuacct.usage")
            usage = _read(os.path.join(directory, "cpuacct.usage")) if directory else None
            if usage is not None:
                result["usage_seconds"] = int(usage) / 1e9
        return result

"""Reads the CPU limit and CPU accounting of a process's cgroup, v1 or v2, from files under a given root.
Roots are parameters (like prometheus-client's ProcessCollector(proc=...)) so tests use fixture trees.
"""
import os

V1_CPU_DIRS = ("cpu,cpuacct", "cpu", "cpuacct,cpu")
V1_CPUACCT_DIRS = ("cpu,cpuacct", "cpuacct", "cpuacct,cpu")


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
    """The cpu controller of `pid`'s cgroup: limit in cores and usage/throttling counters.

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

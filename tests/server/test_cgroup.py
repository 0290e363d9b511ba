"""The cgroup readers (quota, cpuset, accounting) on fixture trees of both cgroup versions, and the collector's
exact exposition. Like prometheus-client's ProcessCollector(proc=...), the readers take their roots as parameters.
"""
import os

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from server.cgroup import CgroupCpu, parse_cpu_list
from server.exporter import CgroupCollector


def scrape(cgroup, affinity):
    """The exposition text of one scrape of `cgroup`, with `affinity` as the process's allowed CPUs."""
    registry = CollectorRegistry()
    registry.register(CgroupCollector(cgroup, affinity))
    return generate_latest(registry).decode()


def write(root, path, text):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)


@pytest.fixture
def proc(tmp_path):
    def make(cgroup_lines):
        write(tmp_path / "proc", "42/cgroup", cgroup_lines)
        return str(tmp_path / "proc")
    return make


def v1_tree(root, cpu_dir="cpu,cpuacct", acct_dir="cpu,cpuacct", path="", quota="50000", period="100000"):
    write(root, f"{cpu_dir}/{path}/cpu.cfs_quota_us", quota + "\n")
    write(root, f"{cpu_dir}/{path}/cpu.cfs_period_us", period + "\n")
    write(root, f"{cpu_dir}/{path}/cpu.stat", "nr_periods 1000\nnr_throttled 250\nthrottled_time 1500000000\n")
    write(root, f"{acct_dir}/{path}/cpuacct.usage", "12500000000\n")


def test_v1_container_root(tmp_path, proc):
    # Docker with cgroup v1 mounts the container's own cgroup at the root; /proc says /docker/<id>.
    root = str(tmp_path / "cg")
    v1_tree(root)
    cgroup = CgroupCpu(root=root, proc=proc("4:cpu,cpuacct:/docker/abc\n"), pid=42)
    assert cgroup.version == 1
    assert cgroup.limit_cores() == 0.5
    assert cgroup.stat() == {"periods": 1000, "throttled_periods": 250, "throttled_seconds": 1.5,
                             "usage_seconds": 12.5}


def test_v1_separate_mounts_and_nested_path(tmp_path, proc):
    # These machines mount cpu and cpuacct separately; the process lives in a nested cgroup.
    root = str(tmp_path / "cg")
    v1_tree(root, cpu_dir="cpu", acct_dir="cpuacct", path="lab/server", quota="150000")
    v1_tree(root, cpu_dir="cpu", acct_dir="cpuacct", quota="-1")  # the root: no limit
    cgroup = CgroupCpu(root=root, proc=proc("2:cpuacct:/lab/server\n1:cpu:/lab/server\n"), pid=42)
    assert cgroup.limit_cores() == 1.5


def test_v1_no_quota_means_no_limit(tmp_path, proc):
    root = str(tmp_path / "cg")
    v1_tree(root, quota="-1")
    assert CgroupCpu(root=root, proc=proc("1:cpu,cpuacct:/\n"), pid=42).limit_cores() is None


def test_v2_limit_and_stat(tmp_path, proc):
    root = str(tmp_path / "cg")
    write(root, "cgroup.controllers", "cpu io memory\n")
    write(root, "cpu.max", "25000 100000\n")
    write(root, "cpu.stat", "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 40\n"
                            "nr_throttled 10\nthrottled_usec 750000\n")
    cgroup = CgroupCpu(root=root, proc=proc("0::/\n"), pid=42)
    assert cgroup.version == 2
    assert cgroup.limit_cores() == 0.25
    assert cgroup.stat() == {"usage_seconds": 2.0, "periods": 40, "throttled_periods": 10,
                             "throttled_seconds": 0.75}
    write(root, "cpu.max", "max 100000\n")
    assert cgroup.limit_cores() is None


def test_collector_exposition_exact(tmp_path, proc):
    root = str(tmp_path / "cg")
    v1_tree(root)
    registry = CollectorRegistry()
    registry.register(CgroupCollector(CgroupCpu(root=root, proc=proc("1:cpu,cpuacct:/\n"), pid=42), lambda: {0, 1}))
    assert generate_latest(registry).decode() == """\
# HELP primes_cpu_limit_cores CPU limit of the server in cores: cgroup quota/period, else usable CPUs
# TYPE primes_cpu_limit_cores gauge
primes_cpu_limit_cores 0.5
# HELP primes_cpu_cpuset_cores CPUs the server may run on: its cgroup's cpuset (cpuset.cpus.effective) within its CPU affinity
# TYPE primes_cpu_cpuset_cores gauge
primes_cpu_cpuset_cores 2.0
# HELP primes_cpu_quota_cores CFS quota of the server's cgroup in cores (cpu.max or cfs_quota_us / cfs_period_us); absent when there is none
# TYPE primes_cpu_quota_cores gauge
primes_cpu_quota_cores 0.5
# HELP primes_cpu_usage_seconds_total CPU time used by the server's cgroup
# TYPE primes_cpu_usage_seconds_total counter
primes_cpu_usage_seconds_total 12.5
# HELP primes_cpu_periods_total CFS enforcement periods of the server's cgroup
# TYPE primes_cpu_periods_total counter
primes_cpu_periods_total 1000.0
# HELP primes_cpu_throttled_periods_total CFS periods in which the server's cgroup was throttled
# TYPE primes_cpu_throttled_periods_total counter
primes_cpu_throttled_periods_total 250.0
# HELP primes_cpu_throttled_seconds_total Time the server's cgroup spent throttled by its CPU limit
# TYPE primes_cpu_throttled_seconds_total counter
primes_cpu_throttled_seconds_total 1.5
"""


def test_without_a_quota_the_limit_is_the_usable_cpus(tmp_path, proc):
    root = str(tmp_path / "cg")
    v1_tree(root, quota="-1")
    text = scrape(CgroupCpu(root=root, proc=proc("1:cpu,cpuacct:/\n"), pid=42), lambda: {0, 1, 2})
    assert "primes_cpu_limit_cores 3.0" in text and "primes_cpu_cpuset_cores 3.0" in text
    assert "primes_cpu_quota_cores" not in text  # absent, not 0, when there is no quota


def test_missing_files_give_no_values(tmp_path, proc):
    cgroup = CgroupCpu(root=str(tmp_path / "nothing"), proc=proc(""), pid=42)
    assert cgroup.version is None and cgroup.limit_cores() is None and cgroup.stat() == {}
    assert cgroup.cpuset() is None


def test_cpu_lists_in_the_kernels_format():
    assert parse_cpu_list("0") == {0}
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    for bad in ("3-1", "a", "0-", "-1"):
        with pytest.raises(ValueError):
            parse_cpu_list(bad)


def test_v1_cpuset_of_a_pinned_container(tmp_path, proc):
    # `docker update --cpuset-cpus 1-2` rewrites these files; the effective list is what the kernel allows.
    root = str(tmp_path / "cg")
    v1_tree(root, quota="-1")
    write(root, "cpuset/cpuset.cpus", "1-2\n")
    write(root, "cpuset/cpuset.effective_cpus", "1-2\n")
    cgroup = CgroupCpu(root=root, proc=proc("5:cpuset:/docker/abc\n1:cpu,cpuacct:/docker/abc\n"), pid=42)
    assert cgroup.cpuset() == {1, 2} and cgroup.limit_cores() is None
    text = scrape(cgroup, lambda: {0, 1, 2, 3})
    assert "primes_cpu_cpuset_cores 2.0" in text and "primes_cpu_limit_cores 2.0" in text
    assert "primes_cpu_quota_cores" not in text


def test_v1_cpuset_in_a_nested_cgroup_falls_back_to_cpuset_cpus(tmp_path, proc):
    root = str(tmp_path / "cg")
    write(root, "cpu/cpu.cfs_quota_us", "-1\n")
    write(root, "cpuset/cpuset.cpus", "0-3\n")
    write(root, "cpuset/lab/cpuset.cpus", "3\n")  # no effective_cpus file (old kernels)
    cgroup = CgroupCpu(root=root, proc=proc("3:cpuset:/lab\n"), pid=42)
    assert cgroup.cpuset() == {3}


def test_v2_cpuset_and_quota_together(tmp_path, proc):
    root = str(tmp_path / "cg")
    write(root, "cgroup.controllers", "cpuset cpu io memory\n")
    write(root, "cpu.max", "150000 100000\n")
    write(root, "cpuset.cpus", "\n")  # unset in this cgroup: the parent's CPUs apply
    write(root, "cpuset.cpus.effective", "0-3\n")
    cgroup = CgroupCpu(root=root, proc=proc("0::/\n"), pid=42)
    assert cgroup.cpuset() == {0, 1, 2, 3} and cgroup.limit_cores() == 1.5
    text = scrape(cgroup, lambda: {0, 1, 2, 3, 4, 5, 6, 7})
    assert "primes_cpu_cpuset_cores 4.0" in text and "primes_cpu_quota_cores 1.5" in text


def test_affinity_narrower_than_the_cpuset_counts(tmp_path, proc):
    # Natively the runner pins the server with sched_setaffinity inside a cgroup that allows every core.
    root = str(tmp_path / "cg")
    write(root, "cgroup.controllers", "cpuset cpu\n")
    write(root, "cpu.max", "max 100000\n")
    write(root, "cpuset.cpus.effective", "0-15\n")
    text = scrape(CgroupCpu(root=root, proc=proc("0::/\n"), pid=42), lambda: {0})
    assert "primes_cpu_cpuset_cores 1.0" in text and "primes_cpu_limit_cores 1.0" in text
    assert "primes_cpu_quota_cores" not in text


def test_a_malformed_cpuset_falls_back_to_affinity(tmp_path, proc):
    root = str(tmp_path / "cg")
    write(root, "cgroup.controllers", "cpuset cpu\n")
    write(root, "cpuset.cpus.effective", "garbage\n")
    cgroup = CgroupCpu(root=root, proc=proc("0::/\n"), pid=42)
    assert cgroup.cpuset() is None
    registry = CollectorRegistry()
    registry.register(CgroupCollector(cgroup, lambda: {0, 1}))
    assert "primes_cpu_cpuset_cores 2.0" in generate_latest(registry).decode()

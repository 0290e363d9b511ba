"""Host metadata written next to every result: what machine, kernel, Python, Docker, cgroup and Locust measured it.
Two results folders from two hosts can only be compared if each says where it came from.
"""
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys

from runner import interpreters
from runner.backend import REPO_ROOT


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cgroup_version():
    # The host's, for the metadata; server/cgroup.py finds the server's own cgroup (the runner never imports it).
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.isdir("/sys/fs/cgroup/cpu") or os.path.isdir("/sys/fs/cgroup/cpu,cpuacct"):
        return "v1"
    return "none"


def _command(*args):
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20, cwd=REPO_ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def collect(backend_name):
    status = _command("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "collected_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_cores_usable": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "os": platform.platform(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "python_gil_enabled": interpreters.gil_enabled(sys.executable) != "false",
        "docker_version": _command("docker", "version", "--format", "{{.Server.Version}}"),
        "cgroup_version": _cgroup_version(),
        "locust_version": _version("locust"),
        "git_revision": _command("git", "rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "backend": backend_name,
    }

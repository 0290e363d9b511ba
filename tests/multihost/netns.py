"""Network-namespace "hosts" on one machine: each its own namespace with one address in 198.18.0.0/24, all
wired by veth pairs to a bridge that lives in a namespace of its own (Docker sets the root namespace's
FORWARD policy to DROP, and nothing here touches the root namespace's links or routes).

Names carry a per-run tag, so parallel or leftover runs never collide; `close()` stops every process started
here, deletes every namespace (their veth ends go with them) and checks that nothing of this run is left.
"""
import os
import shutil
import signal
import subprocess
import sys
import uuid

SUBNET_PREFIX = "198.18.0."
PREFIX_LENGTH = 24
_FIRST_HOST = 10


class NetnsError(RuntimeError):
    pass


def ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise NetnsError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def namespaces():
    """Names of the namespaces `ip netns` knows."""
    return {line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()}


def can_create_namespaces():
    """(True, "") where this process may create and wire namespaces, else (False, why not)."""
    if shutil.which("ip") is None:
        return False, "no `ip` command (iproute2)"
    probe = f"glprobe-{uuid.uuid4().hex[:8]}"
    result = ip("netns", "add", probe, check=False)
    if result.returncode != 0:
        return False, f"cannot create a network namespace: {result.stderr.strip() or 'ip netns add failed'}"
    try:
        veth = ip("-n", probe, "link", "add", "name", "a", "type", "veth", "peer", "name", "b", check=False)
        if veth.returncode != 0:
            return False, f"cannot create veth pairs: {veth.stderr.strip()}"
    finally:
        ip("netns", "del", probe, check=False)
    return True, ""


class Host:
    def __init__(self, lab, role, netns, address):
        self.lab, self.role, self.netns, self.address = lab, role, netns, address

    def command(self, argv):
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(self, argv, timeout=60, **kwargs):
        return subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout, **kwargs)

    def start(self, argv, log_path, env=None, cwd=None):
        """A background process in this host; `ip netns exec` execs it, so the pid is the process's own."""
        with open(log_path, "w") as log:
            proc = subprocess.Popen(self.command(argv), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                    start_new_session=True)
        self.lab.processes.append(proc)
        return proc

    def python(self, code, *args, timeout=60):
        """Run a Python snippet in this host with the test's interpreter; returns its stdout (raises on failure)."""
        result = self.run([sys.executable, "-c", code, *map(str, args)], timeout=timeout)
        if result.returncode != 0:
            raise NetnsError(f"in {self.role} ({self.netns}): {result.stderr.strip()[-2000:]}")
        return result.stdout


class Lab:
    """Build with Lab(["server", "control", "load1", ...]); use as a context manager (close() in a finally)."""

    def __init__(self, roles):
        self.tag = f"gl{uuid.uuid4().hex[:6]}"
        self.bridge_netns = f"{self.tag}-br"
        self.created = []
        self.processes = []
        self.hosts = {}
        try:
            self._build(roles)
        except BaseException:
            self.close()
            raise

    def _add_netns(self, name):
        ip("netns", "add", name)
        self.created.append(name)
        ip("-n", name, "link", "set", "lo", "up")

    def _build(self, roles):
        self._add_netns(self.bridge_netns)
        ip("-n", self.bridge_netns, "link", "add", "br0", "type", "bridge")
        ip("-n", self.bridge_netns, "link", "set", "br0", "up")
        for index, role in enumerate(roles):
            netns = f"{self.tag}-{role}"
            address = f"{SUBNET_PREFIX}{_FIRST_HOST + index}"
            self._add_netns(netns)
            port = f"p{index}"
            # Both ends are made directly inside their namespaces: no link of ours ever exists in the root one.
            ip("-n", netns, "link", "add", "name", "eth0", "type", "veth",
               "peer", "name", port, "netns", self.bridge_netns)
            ip("-n", self.bridge_netns, "link", "set", port, "master", "br0", "up")
            ip("-n", netns, "addr", "add", f"{address}/{PREFIX_LENGTH}", "dev", "eth0")
            ip("-n", netns, "link", "set", "eth0", "up")
            self.hosts[role] = Host(self, role, netns, address)

    def __getitem__(self, role):
        return self.hosts[role]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def stop_processes(self):
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)

    def close(self):
        """Stop our processes, delete our namespaces; raise if anything of this run is left."""
        try:
            self.stop_processes()
        finally:
            for name in reversed(self.created):
                ip("netns", "del", name, check=False)
            left = {name for name in namespaces() if name.startswith(self.tag)}
            links = [line for line in ip("-o", "link").stdout.splitlines() if self.tag in line]
            if left or links:
                raise NetnsError(f"teardown left namespaces {sorted(left)} and links {links}")

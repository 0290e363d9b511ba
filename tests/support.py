"""Shared test helpers: start the real prime server as a process on free 127.0.0.1 ports, scrape it, talk to it.
Every part's tests use these, so the server is started and stopped the same way everywhere.
"""
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from runner.backend import REPO_ROOT, free_port  # noqa: F401  (the tests' helpers too: one copy each)
from runner.promtext import parse as parse_exposition  # noqa: F401


def wait_port(port, timeout=15.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} answered")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def ask(sock, payload):
    """Send one request, read one answer (the seed client's send + recv(4096))."""
    sock.sendall(payload)
    return sock.recv(4096)


class RunningServer:
    def __init__(self, proc, port, metrics_port, control_port, log_path):
        self.proc = proc
        self.port = port
        self.metrics_port = metrics_port
        self.control_port = control_port
        self.log_path = log_path

    def scrape_text(self, timeout=10.0):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=timeout) as response:
            return response.read().decode()

    def scrape(self, timeout=10.0):
        return parse_exposition(self.scrape_text(timeout))

    def metric(self, name, **labels):
        wanted = frozenset(labels.items())
        return sum(value for (sample, found), value in self.scrape().items()
                   if sample == name and wanted <= found)

    def connect(self, timeout=10.0):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def control(self, path="/switch-interval", body=None, timeout=30.0):
        request = urllib.request.Request(f"http://127.0.0.1:{self.control_port}{path}",
                                         data=None if body is None else body.encode(),
                                         method="GET" if body is None else "PUT")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read().decode()

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Stop the server; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _start_server(flags, env, python, log_dir, attempts=3):
    """Start the server on free ports; a port taken between free_port() and the server's bind (another
    process's outgoing connection can get it) is retried on fresh ports."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PRIMES_")}
    full_env.update(env or {})
    log_dir = log_dir or os.environ.get("TMPDIR", "/tmp")
    for attempt in range(attempts):
        port, metrics_port, control_port = free_port(), free_port(), free_port()
        command = [python, "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                   "--metrics-port", str(metrics_port), "--control-port", str(control_port), *map(str, flags)]
        log_path = os.path.join(log_dir, f"primes-server-{port}.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen(command, cwd=REPO_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
        server = RunningServer(proc, port, metrics_port, control_port, log_path)
        try:
            # Not the TCP port: a probe connection there would count in primes_connections_total. The exporter
            # starts after the TCP listener is bound, and /healthz answers once the server has fully started.
            wait_port(metrics_port, proc=proc)
            server.control("/healthz")
            return server
        except Exception:
            server.stop()
            if "Address already in use" in server.log() and attempt < attempts - 1:
                continue
            print(f"--- server log ({log_path}) ---\n{server.log()}", file=sys.stderr)
            raise


@contextlib.contextmanager
def run_server(*flags, env=None, python=sys.executable, log_dir=None):
    """Run `python -m server` on free 127.0.0.1 ports until the block ends; yields a RunningServer."""
    server = _start_server(flags, env, python, log_dir)
    try:
        yield server
    except Exception:
        print(f"--- server log ({server.log_path}) ---\n{server.log()}", file=sys.stderr)
        raise
    finally:
        server.stop()


def cheap_rate(port, seconds=2.0, payload=b"1", expect=b"2"):
    """The seed's run_simple_client for `seconds`: answers per second (wrong answers raise)."""
    with socket.create_connection(("127.0.0.1", port), timeout=max(30.0, seconds * 4)) as sock:
        count = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            sock.sendall(payload)
            answer = sock.recv(4096)
            if answer != expect:
                raise AssertionError(f"answer {answer!r} to {payload!r}, expected {expect!r}")
            count += 1
    return count / seconds


@contextlib.contextmanager
def expensive_request(port, n=100000):
    """The seed's run_long_request, once: an expensive request in flight until the block ends."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        sock.sendall(str(n).encode() + b"\n")
        yield sock
    finally:
        sock.close()


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll `predicate` until it returns a truthy value; returns it, or raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout}s (last: {value!r})")
        time.sleep(interval)


def skip_or_fail(reason):
    """A missing requirement: the test is skipped with the reason, or under CI=true it fails."""
    import pytest
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: {reason}")
    pytest.skip(reason)


def need_strace():
    """Tests that count system calls with strace: skipped without a working strace, failed under CI=true."""
    if shutil.which("strace") is None:
        skip_or_fail("needs strace: no strace command")
        return
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=none", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        skip_or_fail(f"needs strace: strace cannot trace here: {probe.stderr.strip()}")


def docker(*args, check=True, timeout=1200):
    """Run the docker CLI; a failure raises with its stderr (tests need the reason, not just the status)."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:4])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def build_image(context, tag, **build_args):
    """docker build of one of our contexts; the stand-in base images exported by ../shared/docker/setup
    (PYTHON_IMAGE, DEBIAN_IMAGE) are passed on where set, the Dockerfile's pinned official tags otherwise."""
    args = []
    for name in ("PYTHON_IMAGE", "DEBIAN_IMAGE"):
        if os.environ.get(name):
            args += ["--build-arg", f"{name}={os.environ[name]}"]
    for name, value in build_args.items():
        args += ["--build-arg", f"{name}={value}"]
    docker("build", "-q", "-t", tag, *args, os.path.join(REPO_ROOT, context))
    return tag


def answers(port):
    """True when a server on 127.0.0.1:port answers the first prime (a readiness probe for containers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return ask(sock, b"1\n") == b"2\n"
    except OSError:
        return False


# -- the server process as the kernel sees it (reliability tests: leaks, spinning threads) --------------------
_EPOLL_WAIT_SYSCALLS = {"232", "281", "441"}  # epoll_wait, epoll_pwait, epoll_pwait2 (x86_64 numbers)


def epoll_waiting_threads(pid):
    """Thread ids of `pid` blocked in epoll_wait right now (the server's disconnect watcher is its only
    epoll user): ask while it is quiet, then follow those threads with thread_wakeups."""
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall") as f:
                if f.read().split()[0] in _EPOLL_WAIT_SYSCALLS:
                    found.append(tid)
        except (OSError, IndexError):
            continue  # the thread ended meanwhile
    return found


def thread_activity(pid, tids):
    """(wake-ups, CPU clock ticks) of these threads of `pid` so far. A thread that sleeps in one system call
    until an event adds one wake-up (voluntary context switch) per event and next to no CPU; one that spins
    adds wake-ups by hundreds where it has to wait for the GIL, CPU ticks by tens where it does not."""
    wakeups = ticks = 0
    for tid in tids:
        with open(f"/proc/{pid}/task/{tid}/status") as f:
            wakeups += next(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches:"))
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime + stime
    return wakeups, ticks


def process_footprint(pid):
    """(resident KiB, threads, open fds) of one process, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads, len(os.listdir(f"/proc/{pid}/fd"))


def child_pids(pid):
    """The pids of a process's children (of all its threads), [] once it is gone."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(child) for child in f.read().split()]
        except OSError:
            pass
    return found


def process_state(pid):
    """The one-letter state of a process (R, S, Z, ...), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def command_line(pid):
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            return f.read().replace("\0", " ")
    except OSError:
        return ""


def exporter_pid(server_pid):
    """The live exporter process of a running server, or None."""
    found = [pid for pid in child_pids(server_pid)
             if "server.exporter" in command_line(pid) and process_state(pid) not in (None, "Z")]
    return found[0] if len(found) == 1 else None


def worker_pids(server_pid):
    """The process model's live worker processes (multiprocessing spawn children, not its resource tracker)."""
    return [pid for pid in child_pids(server_pid)
            if "spawn_main" in command_line(pid) and process_state(pid) not in (None, "Z")]

"""Native backend: for each cell a fresh `python -m server` on free 127.0.0.1 ports, pinned to whole cores by CPU
affinity (placement pinned; no quota), loaded by Locust (web API on 127.0.0.1) pinned to the remaining cores: one
local process, or a master and --locust-workers worker processes (each worker one core at most: gevent runs users
on one thread).
"""
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request

from runner import interpreters, promtext
from runner.backend import REPO_ROOT, BackendError, free_port
from runner.locust_api import LocustController
from runner.locust_cpu import proc_cpu_seconds
from runner.spec import ALL_CORES, FREE_THREADED, QUOTA

LOCUSTFILE = os.path.join(REPO_ROOT, "loadgen", "locustfile.py")
STOP_TIMEOUT_S = 10.0
WORKERS_TIMEOUT_S = 60.0  # for every worker to connect to the master


def stop_group(proc, timeout=STOP_TIMEOUT_S):
    """SIGTERM the process and its session (server workers, exporter), then SIGKILL whatever is left."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children that outlived their parent share its session
    except ProcessLookupError:
        pass
    proc.wait()


def pin_all_threads(pid, cores):
    """Affinity is per thread on Linux: set it on every thread of a running process."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), cores)
        except (ProcessLookupError, OSError):
            pass


class NativeTarget:
    def __init__(self, proc, port, metrics_port, control_port, cores):
        self.proc = proc
        self.port = port
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self.control_url = f"http://127.0.0.1:{control_port}"
        self.locust_host = f"127.0.0.1:{port}"
        self.cores = cores

    def scrape(self):
        return promtext.scrape(self.metrics_url)


class NativeBackend:
    name = "native"

    def __init__(self, experiment, out_dir, locust_workers=0):
        # python value -> (interpreter, problem), resolved once per distinct value.
        self.interpreters = {p: interpreters.resolve(p) for p in dict.fromkeys(c.python for c in experiment.cells)}
        # Free-threaded cells without a free-threaded interpreter here are skipped with one note (lesson.yaml
        # carries them for the compose backend); every other unusable interpreter is an error.
        problem = self.interpreters.get(FREE_THREADED, (None, None))[1]
        kept = tuple(c for c in experiment.cells if not (problem and c.python == FREE_THREADED))
        self.skip_note = None
        if problem and kept:
            self.skip_note = (f"skipping {len(experiment.cells) - len(kept)} free-threaded cell(s): {problem}; "
                              f"--backend compose runs them in the free-threaded image")
            experiment = dataclasses.replace(experiment, cells=kept)
        self.experiment = experiment
        self.logs = os.path.join(out_dir, "logs")
        self.cores = sorted(os.sched_getaffinity(0))
        self.locust_workers = locust_workers  # 0: one local Locust process; N: a master and N workers
        self.locust_proc = None
        self.worker_procs = []
        self.locust = None
        self.server = None

    def connect(self):
        """Nothing to reach: the server and Locust run on this host."""

    def problems(self):
        """What this backend cannot run, one message each (checked before any load)."""
        found = []
        if self.locust_workers < 0:
            found.append(f"--locust-workers {self.locust_workers}: must be >= 0 (0: one Locust process)")
        if not os.path.exists(LOCUSTFILE):
            found.append(f"the locustfile {LOCUSTFILE} is missing")
        for cell in self.experiment.cells:
            if cell.placement == QUOTA:
                found.append(f"cell {cell.label}: the native backend pins whole cores with CPU affinity and cannot "
                             f"set a CPU quota (placement quota needs --backend compose)")
            elif cell.cpus != ALL_CORES:
                if cell.cpus != int(cell.cpus):
                    found.append(f"cell {cell.label}: cpus {cell.cpus:g} is fractional; the native backend limits "
                                 f"CPUs with affinity, whole cores only (use --backend compose for quotas)")
                elif cell.cpus > len(self.cores):
                    found.append(f"cell {cell.label}: cpus {cell.cpus:g} but only {len(self.cores)} core(s) "
                                 f"are available here")
            if problem := self.interpreters[cell.python][1]:
                found.append(f"cell {cell.label}: {problem}")
        return list(dict.fromkeys(found))

    def server_cores(self, cell):
        count = len(self.cores) if cell.cpus == ALL_CORES else int(cell.cpus)
        return set(self.cores[:count])

    def open(self):
        os.makedirs(self.logs, exist_ok=True)
        web_port = free_port()
        command = [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--web-host", "127.0.0.1",
                   "--web-port", str(web_port), "--host", "127.0.0.1:1", "--loglevel", "WARNING",
                   "--cheap-n", str(self.experiment.cheap_n), "--expensive-n", str(self.experiment.expensive_n)]
        if self.locust_workers:
            master_port = free_port()
            command += ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(master_port)]
        self.locust_proc = self._start_locust(command, "locust.log")
        for index in range(1, self.locust_workers + 1):
            self.worker_procs.append(self._start_locust(
                [sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--worker", "--master-host", "127.0.0.1",
                 "--master-port", str(master_port), "--loglevel", "WARNING"], f"locust-worker-{index}.log"))
        self.locust = LocustController(f"http://127.0.0.1:{web_port}")
        self.locust.wait_ready(alive=self._locust_alive)
        if self.locust_workers:
            self._wait_workers()

    def _start_locust(self, command, log_name):
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        with open(os.path.join(self.logs, log_name), "ab") as log:
            return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def _locust_alive(self):
        return all(proc.poll() is None for proc in [self.locust_proc, *self.worker_procs])

    def _wait_workers(self):
        deadline = time.monotonic() + WORKERS_TIMEOUT_S
        while (count := self.locust.worker_count() or 0) < self.locust_workers:
            if not self._locust_alive():
                raise BackendError(f"a Locust process exited before all workers connected (see {self.logs})")
            if time.monotonic() > deadline:
                raise BackendError(f"only {count} of {self.locust_workers} Locust workers connected to the master "
                                   f"within {WORKERS_TIMEOUT_S:g} s (see {self.logs})")
            time.sleep(0.2)

    def locust_processes(self):
        """{name: pid} of the Locust processes: "locust" alone, or "master" and "worker-1".."worker-N"."""
        if not self.worker_procs:
            return {"locust": self.locust_proc.pid}
        return {"master": self.locust_proc.pid,
                **{f"worker-{index}": proc.pid for index, proc in enumerate(self.worker_procs, 1)}}

    def locust_cpu_seconds(self):
        """{Locust process: CPU seconds so far}, from /proc."""
        return {name: proc_cpu_seconds(pid) for name, pid in self.locust_processes().items()}

    def start_cell(self, cell, name):
        cores = self.server_cores(cell)
        # Locust on the cores the server may not use, so the load generator does not eat the server's CPU.
        for pid in self.locust_processes().values():
            pin_all_threads(pid, set(self.cores) - cores or set(self.cores))
        port, metrics_port, control_port = free_port(), free_port(), free_port()
        command = [self.interpreters[cell.python][0], "-m", "server", "--host", "127.0.0.1", "--port", str(port),
                   "--metrics-port", str(metrics_port), "--control-port", str(control_port),
                   "--model", cell.model, "--workers", str(cell.workers), "--algorithm", cell.algorithm,
                   "--switch-interval", repr(cell.switch_interval_s), "--no-monitor"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRIMES_")}
        log_path = os.path.join(self.logs, f"server-{name}.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=lambda: os.sched_setaffinity(0, cores))
        self.server = NativeTarget(proc, port, metrics_port, control_port, sorted(cores))
        try:
            self._wait_started(self.server, log_path)
        except Exception:
            self.end_cell()
            raise
        return self.server

    def _wait_started(self, target, log_path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if target.proc.poll() is not None:
                with open(log_path, errors="replace") as f:
                    tail = f.read()[-800:]
                raise BackendError(f"the server exited with status {target.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(target.control_url + "/healthz", timeout=2) as response:
                    response.read()
                target.scrape()
                return
            except OSError:
                time.sleep(0.1)
        raise BackendError(f"the server did not answer on its control and metrics ports within {timeout:g} s")

    def end_cell(self):
        server, self.server = self.server, None
        if server is not None:
            stop_group(server.proc)

    def close(self):
        """Stop everything this backend started (also after Ctrl-C)."""
        self.end_cell()
        if self.locust_proc is not None:
            try:
                self.locust.stop()
            except Exception:  # noqa: BLE001 - best effort; the process is stopped next anyway
                pass
            stop_group(self.locust_proc)
            self.locust_proc = None
        for proc in self.worker_procs:
            stop_group(proc)
        self.worker_procs = []

"""Keeps the exporter process (/metrics and the control endpoint) running for as long as the server runs.

A thread blocked in waitpid on the exporter wakes the moment it dies (no polling timer), logs it, counts it in
primes_exporter_restarts_total and starts a new one on the same ports (the ports it bound, when asked for
port 0). The exporter dies with the server (server/lifeline.py) and stops when the server closes its
control link (server/control_link.py), the socket pair on which the server replies to its control requests.
"""
import logging
import os
import socket
import subprocess
import sys
import threading
import time

from server import control_link
from server.lifeline import describe_exit

log = logging.getLogger("server")
QUICK_DEATH_S = 1.0  # exporters dying this soon after their start, twice in a row, are restarted with a back-off
MAX_BACKOFF_S = 30.0


class ExporterFailed(RuntimeError):
    pass


class ExporterSupervisor:
    def __init__(self, config, multiproc_dir, restarts):
        """`multiproc_dir` holds the metric files and the control request slot; `restarts`: the counter of
        restarts."""
        self.config = config
        self.multiproc_dir = multiproc_dir
        self.restarts = restarts
        self._announced = False  # the server serves: a new exporter is told so at once
        self.metrics_port = config.metrics_port
        self.control_port = config.control_port
        self.process = None
        self._link = None
        self._started_at = 0.0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="exporter-supervisor", daemon=True)

    def start(self):
        """Start the exporter and its supervisor; raises ExporterFailed with the exporter's reason.

        Call it from a thread that lives as long as the server (the exporter dies with that thread)."""
        with self._lock:
            self._spawn()
        self._thread.start()

    def _spawn(self):
        """A new exporter on our ports, with a new control link; holds self._lock."""
        ours, theirs = socket.socketpair()
        command = [sys.executable, "-m", "server.exporter", "--multiproc-dir", self.multiproc_dir,
                   "--server-pid", str(os.getpid()), "--host", self.config.exporter_host,
                   "--port", str(self.metrics_port), "--control-host", self.config.control_host,
                   "--control-port", str(self.control_port), "--control-fd", str(theirs.fileno()),
                   "--cgroup-root", self.config.cgroup_root]
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")])))
        try:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True,
                                       pass_fds=[theirs.fileno()])
        except OSError:
            ours.close()
            raise
        finally:
            theirs.close()
        words = process.stdout.readline().split()
        if words[:1] != ["ready"] or len(words) != 3:
            process.kill()
            process.wait()
            ours.close()
            raise ExporterFailed(" ".join(words) or f"the metrics exporter {describe_exit(process.returncode)}")
        self.metrics_port, self.control_port = int(words[1]), int(words[2])
        self.process, self._link, self._started_at = process, ours, time.monotonic()
        if self._announced:
            self._send(control_link.started_line())

    def announce(self):
        """The server serves: the exporter's control endpoint answers from now on (its /healthz says so)."""
        with self._lock:
            self._announced = True
            self._send(control_link.started_line())

    def reply(self, line):
        """Send a control reply to the exporter (lost, as the request, if the exporter has just died)."""
        self._send(line)

    def _send(self, line):
        link = self._link
        if link is None:
            return
        try:
            link.sendall(line)
        except OSError:
            pass  # the exporter died: the supervisor starts another

    def _watch(self):
        quick_deaths = 0  # in a row: a crash loop backs off, an operator's occasional kill does not
        while True:
            process = self.process
            status = process.wait()  # blocks in waitpid: wakes the moment the exporter dies
            process.stdout.close()
            with self._lock:
                link, self._link = self._link, None
            if link is not None:
                link.close()
            if self._stopping.is_set():
                return
            died = time.monotonic()
            lived = died - self._started_at
            quick_deaths = quick_deaths + 1 if lived < QUICK_DEATH_S else 0
            backoff = min(0.5 * 2 ** (quick_deaths - 2), MAX_BACKOFF_S) if quick_deaths >= 2 else 0.0
            log.warning("the metrics exporter (pid %d) %s after %.1fs; starting a new one%s", process.pid,
                        describe_exit(status), lived, f" in {backoff:g}s" if backoff else "")
            while True:
                if self._stopping.wait(backoff):
                    return
                with self._lock:
                    if self._stopping.is_set():
                        return
                    try:
                        self._spawn()
                        break
                    except (ExporterFailed, OSError) as error:
                        backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_S)
                        log.error("cannot restart the metrics exporter (%s); trying again in %gs", error, backoff)
            self.restarts.inc()
            log.info("metrics exporter restarted (pid %d) %.3fs after the last one died; metrics on port %d, "
                     "control on port %d", self.process.pid, time.monotonic() - died, self.metrics_port,
                     self.control_port)

    def stop(self, timeout=1.0):
        """Stop the exporter: it exits when its control link closes; killed if it takes longer than timeout."""
        with self._lock:
            self._stopping.set()
            process, link = self.process, self._link
        if process is None:
            return
        try:
            if link is not None:
                link.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout)

"""Starts the prime server: sockets, the exporter process, the compute model; then the main thread waits for a stop
signal, switch interval changes and the monitor's ticks (server/main_loop.py).

SIGTERM/SIGINT stop it within about one switch interval, even with an expensive computation running.
"""
import functools
import logging
import os
import platform
import shutil
import signal
import socket
import sys
import sysconfig

from server import main_loop
from server.config import parse_config

log = logging.getLogger("server")


def gil_enabled():
    """False only on a free-threaded build that runs without the GIL (checked after every import)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def is_free_threaded_build():
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def listen(host, port, backlog=socket.SOMAXCONN):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def metrics_root(shm="/dev/shm"):
    """Where the memory-mapped metric files go: a tmpfs where there is one (no disk write-back of their dirty
    pages; in a container /tmp is overlayfs), else the temporary directory (None: tempfile's choice)."""
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def make_compute(config):
    from server.compute import InlineCompute, ProcessCompute
    if config.model == "process":
        return ProcessCompute(config.algorithm, config.workers)
    return InlineCompute(config.algorithm)


def main(argv=None):
    config = parse_config(argv)
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    # Every import first, then the GIL check: an extension module not marked free-threading-safe re-enables
    # the GIL on import, and a free-threaded server must not quietly run with it.
    from server import control_link, metrics_dir
    from server.exporter_supervisor import ExporterFailed, ExporterSupervisor
    from server.metrics import ServerMetrics
    from server.server import PrimeServer
    gil = gil_enabled()
    if is_free_threaded_build() and gil and not config.allow_gil:
        print("error: this is a free-threaded Python but the GIL is enabled (an imported module turned it "
              "back on, or PYTHON_GIL=1); refusing to start. Use --allow-gil to run anyway.", file=sys.stderr)
        return 1

    try:
        listener = listen(config.host, config.port)
    except OSError as error:
        print(f"error: cannot listen on {config.host}:{config.port}: {error}", file=sys.stderr)
        return 1

    # Only this thread takes these signals (main_loop.run), set before any other thread exists: threads inherit
    # the mask. One that comes during start-up waits for the loop.
    signal.pthread_sigmask(signal.SIG_BLOCK, main_loop.WAKE_SIGNALS)
    multiproc_dir, stale = metrics_dir.create(metrics_root())
    for path in stale:
        log.info("removed %s, the metrics folder of a server that is no longer running", path)
    exporter = compute = None
    try:
        metrics = ServerMetrics(multiproc_dir, config.cheap_max_n)
        control_requests = control_link.Requests(control_link.Slot(multiproc_dir, create=True),
                                                 metrics.switch_interval.set)
        exporter = ExporterSupervisor(config, multiproc_dir, metrics.exporter_restarts)
        try:
            exporter.start()
        except ExporterFailed as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        compute = make_compute(config)
        sys.setswitchinterval(config.switch_interval)
        metrics.switch_interval.set(sys.getswitchinterval())
        metrics.describe_server(model=config.model, algorithm=config.algorithm, workers=config.workers,
                                python_version=platform.python_version(),
                                implementation=platform.python_implementation(), gil_enabled=gil)
        server = PrimeServer(config, metrics, compute, listener)
        server.start()
        monitor = main_loop.Monitor(metrics, prints=config.monitor)  # always ticks (it folds the metrics)
        log.info("serving nth primes on %s:%d (model=%s, workers=%d, algorithm=%s, switch interval=%gs, "
                 "GIL %s); metrics on http://%s:%d/metrics; control on http://%s:%d/switch-interval",
                 config.host, listener.getsockname()[1], config.model, config.workers, config.algorithm,
                 sys.getswitchinterval(), "enabled" if gil else "disabled", config.exporter_host,
                 exporter.metrics_port, config.control_host, exporter.control_port)
        exporter.announce()  # the control endpoint answers from now on (its /healthz says the server is up)

        def on_control():
            reply, changed = control_requests.apply()
            if reply is not None:
                exporter.reply(reply)  # before the log line: each write may wait for the GIL again
            if changed is not None:  # written by the main loop once it has checked for another signal
                return functools.partial(log.info, "switch interval set to %gs", changed)
            return None

        received = main_loop.run(monitor, on_control)
        server.cancel_all()  # before anything that lets the GIL go (even this log line's write)
        log.info("received %s: stopping", signal.Signals(received).name)
        server.stop()
        compute = None  # stopped by server.stop()
        return 0
    finally:
        if compute is not None:
            compute.close()
        if exporter is not None:
            exporter.stop()
        shutil.rmtree(multiproc_dir, ignore_errors=True)
        logging.shutdown()

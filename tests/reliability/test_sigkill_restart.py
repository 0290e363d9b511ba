"""SIGKILL of the server: its worker processes and exporter die with it, the same ports can be bound again at once
by a new server, and the new server removes the metrics folder the killed one left behind.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from server import metrics_dir
from server.main import metrics_root
from tests.support import (REPO_ROOT, RunningServer, ask, child_pids, free_port, process_state, wait_port,
                           wait_until)

pytestmark = pytest.mark.reliability


def start(ports, tmp_path, name):
    """The server in the process model on fixed ports, its metrics folder under tmp_path."""
    port, metrics_port, control_port = ports
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIMES_")}
    env["TMPDIR"] = str(tmp_path)
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "server", "--model", "process", "--workers", "2",
                                 "--port", str(port), "--metrics-port", str(metrics_port),
                                 "--control-port", str(control_port)],
                                cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(proc, port, metrics_port, control_port, str(log_path))
    wait_port(metrics_port, proc=proc)
    server.control("/healthz")
    return server


def alive(pid):
    return process_state(pid) not in (None, "Z")


def folders(tmp_path, *servers):
    """The metrics folders of these servers (in /dev/shm where there is one, else in our TMPDIR)."""
    root = metrics_root() or str(tmp_path)
    return sorted(name for name in os.listdir(root)
                  if any(name.startswith(f"{metrics_dir.PREFIX}{server.proc.pid}-") for server in servers))


def test_sigkill_leaves_nothing_behind_and_a_restart_on_the_same_ports_succeeds_at_once(tmp_path):
    ports = (free_port(), free_port(), free_port())
    first = start(ports, tmp_path, "first")
    try:
        with first.connect() as hog:
            hog.sendall(b"100000\n")  # a worker computes for minutes
            wait_until(lambda: first.metric("primes_requests_in_progress", kind="expensive") == 1)
            children = child_pids(first.proc.pid)
            assert len(children) >= 3, children  # exporter, two workers (and multiprocessing's tracker)
            assert len(folders(tmp_path, first)) == 1
            first.proc.send_signal(signal.SIGKILL)
            first.proc.wait()
            killed = time.monotonic()
            # The kernel kills the children as their parent exits; they are gone a moment later (the old
            # exporter must not answer our readiness probe for the new server).
            wait_until(lambda: not any(alive(pid) for pid in children), timeout=5, interval=0.002)
            print(f"children gone {(time.monotonic() - killed) * 1000:.1f} ms after the server")
            second = start(ports, tmp_path, "second")  # at once: the same three ports
            try:
                with second.connect() as sock:
                    assert ask(sock, b"5\n") == b"11\n"
                assert second.metric("primes_requests_in_progress", kind="expensive") == 0
                # the killed server's folder is gone, ours is there
                assert len(folders(tmp_path, first)) == 0 and len(folders(tmp_path, second)) == 1
                assert "the metrics folder of a server that is no longer running" in second.log()
                assert "Traceback" not in second.log()
            finally:
                assert second.stop() == 0
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    assert folders(tmp_path, first, second) == []


def test_only_folders_of_dead_servers_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    living = subprocess.Popen(["sleep", "30"])
    try:
        made = {
            "dead": tmp_path / f"{metrics_dir.PREFIX}{dead.pid}-abc",
            "living": tmp_path / f"{metrics_dir.PREFIX}{living.pid}-abc",
            "mine": tmp_path / f"{metrics_dir.PREFIX}{os.getpid()}-abc",  # a restarted container's pid 1
            "old dead": tmp_path / f"{metrics_dir.PREFIX}xyz",  # a folder from before pids were in names
            "old living": tmp_path / f"{metrics_dir.PREFIX}uvw",
            "old unknown": tmp_path / f"{metrics_dir.PREFIX}rst",
            "other": tmp_path / "something-else",
        }
        for folder in made.values():
            folder.mkdir()
        (made["old dead"] / f"counter_{dead.pid}.db").write_bytes(b"")
        (made["old living"] / f"counter_{living.pid}.db").write_bytes(b"")
        (made["dead"] / f"gauge_all_{dead.pid}.db").write_bytes(b"")
        ours, removed = metrics_dir.create(str(tmp_path))
        assert sorted(removed) == sorted(str(made[k]) for k in ("dead", "mine", "old dead"))
        left = {p.name for p in tmp_path.iterdir()}
        assert left == {made[k].name for k in ("living", "old living", "old unknown", "other")} | {
            os.path.basename(ours)}
        assert os.path.basename(ours).startswith(f"{metrics_dir.PREFIX}{os.getpid()}-")
    finally:
        living.kill()
        living.wait()


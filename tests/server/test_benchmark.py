"""server.benchmark end to end, in miniature: it starts both servers, alternates the client between them and
prints every figure. What the figures are is for the benchmark's own runs, not for a test on a shared machine."""
import os
import re
import subprocess
import sys
import time

from server.benchmark import cpu_ns
from tests.support import REPO_ROOT


def test_a_short_run_prints_every_figure():
    pin = "split" if len(os.sched_getaffinity(0)) >= 2 else "none"
    out = subprocess.run([sys.executable, "-m", "server.benchmark", "--rounds", "2", "--slices", "2", "--seconds",
                          "0.05", "--pin", pin], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert len(re.findall(r"^round \d: bare [\d,]+ req/s, ours [\d,]+ req/s, cost -?[\d.]+ µs$", out.stdout,
                          re.MULTILINE)) == 2, out.stdout
    assert re.search(r"^ratio ours/bare \(median of 4 paired slices\): [\d.]+$", out.stdout, re.MULTILINE)
    assert re.search(r"^our cost per request, 1/ours - 1/bare \(median of 4 paired slices\): -?[\d.]+ µs$",
                     out.stdout, re.MULTILINE)
    assert re.search(r"^server CPU per request: bare [\d.]+ µs, ours [\d.]+ µs", out.stdout, re.MULTILINE)
    assert re.search(r"^  metric files in /tmp: upstream [\d.]+ µs, tally [\d.]+ µs$", out.stdout, re.MULTILINE)


def test_bad_arguments_get_a_clear_error():
    out = subprocess.run([sys.executable, "-m", "server.benchmark", "--slices", "0"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "--rounds and --slices must be at least 1" in out.stderr


SPINNERS = """
import sys, threading, time
def spin():  # until the process has used 0.3 s of CPU, then idle
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
    time.sleep(600)
for _ in range(2):
    threading.Thread(target=spin, daemon=True).start()
sys.stdin.read()
"""


def test_cpu_time_counts_every_thread_of_a_process():
    # The CPU is used by two threads that are not the main thread, and both are still alive when read.
    busy = subprocess.Popen([sys.executable, "-c", SPINNERS], stdin=subprocess.PIPE, text=True)
    try:
        used = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (used is None or used < 0.3e9):
            time.sleep(0.1)
            used = cpu_ns(busy.pid)
        assert used is not None and used >= 0.3e9
    finally:
        busy.communicate("")
    assert cpu_ns(busy.pid) is None  # gone

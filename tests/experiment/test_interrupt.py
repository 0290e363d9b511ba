"""Ctrl-C mid-run: a real SIGINT to a real `run` while a cell is measuring with the expensive request in flight
leaves no server, worker, exporter or Locust process behind, and a valid partial report of the finished cells.
The runner starts with SIGINT ignored, as a job started with `&` by a non-interactive shell (a CI script)
inherits it: an explicit SIGINT must stop the run all the same.
"""
import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from runner import interrupts
from runner.measure import sleep_with, wait_for
from runner.plots import FILES
from tests.support import REPO_ROOT

MATRIX = textwrap.dedent("""\
    repetitions: 1
    warmup: 1s
    measure: 3s
    idle: 0s
    matrix:
      - {model: [thread], switch_interval: [5ms], cpus: [1]}
      - {model: [process], switch_interval: [5ms], cpus: [1]}
      - {model: [thread], switch_interval: [0.5ms], cpus: [1]}
""")

# exec keeps an ignored disposition: the runner starts as a background job of a script would.
IGNORE_SIGINT_THEN_EXEC = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
                           "os.execv(sys.argv[1], sys.argv[1:])")


def start_time(pid):
    """(start time, state) of a live process, or None; the start time tells a reused pid apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[19], fields[0]


def descendants(pid):
    found, queue = [], [pid]
    while queue:
        parent = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as f:
                    children = [int(c) for c in f.read().split()]
            except OSError:
                continue
            found += children
            queue += children
    return found


def test_sigint_mid_cell_stops_cleanly(tmp_path):
    spec = tmp_path / "three.yaml"
    spec.write_text(MATRIX)
    out = tmp_path / "results"
    command = [sys.executable, "-m", "runner", "run", str(spec), "--out", str(out)]
    runner = subprocess.Popen([sys.executable, "-c", IGNORE_SIGINT_THEN_EXEC, *command],
                              cwd=REPO_ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines, reached = [], threading.Event()

    def read():
        for line in runner.stderr:
            lines.append(line)
            # The second cell (process model: worker processes) measuring next to its expensive request.
            if " 1/3 | process" in line and "with expensive: measuring" in line:
                reached.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(240):
            if reached.wait(0.5) or runner.poll() is not None:
                break
        assert reached.is_set(), "".join(lines)[-3000:]
        children = {pid: start_time(pid) for pid in descendants(runner.pid)}
        assert len(children) >= 3, children  # Locust, the server, its exporter (and its workers)
        runner.send_signal(signal.SIGINT)
        assert runner.wait(60) == 130, "".join(lines)[-3000:]
    finally:
        if runner.poll() is None:
            runner.kill()
    reader.join(10)
    left = [pid for pid, started in children.items()
            if (now := start_time(pid)) is not None and now[0] == started[0] and now[1] != "Z"]
    assert not left, f"processes left behind: {left}"

    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["model"] for row in rows] == ["thread"] and rows[0]["status"] == "ok"
    report = (out / "report.md").read_text()
    assert "partial (interrupted)" in report and "1 of 3 cell runs finished" in report
    assert "| thread | – (GIL on) | 5ms | 1 |" in report
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary) == 1 and summary[0]["model"] == "thread"
    assert json.loads((out / "metadata.json").read_text())["run"]["status"] == "partial (interrupted)"
    assert all((out / "plots" / name).stat().st_size > 0 for name in FILES)
    assert "partial (interrupted): 1/3" in "".join(lines)


class _RaisesSigintWhenCollected:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # its KeyboardInterrupt is raised here, then discarded by Python


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("wait", [lambda: sleep_with(10, lambda: None),
                                  lambda: wait_for(lambda: False, 10, "never")], ids=["sleep_with", "wait_for"])
def test_a_signal_whose_keyboardinterrupt_was_lost_still_stops_the_next_wait(wait):
    previous = interrupts.install()
    try:
        _RaisesSigintWhenCollected()  # collected at once: the signal arrives inside a finalizer
        with pytest.raises(KeyboardInterrupt):
            wait()
    finally:
        interrupts.restore(previous)

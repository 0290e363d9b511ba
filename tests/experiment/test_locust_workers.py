"""The load generator's own CPU: Locust workers on the native backend, each Locust process's CPU per window, the
client_bound mark and its advice, and results folders written before these columns existed."""
import csv
import json
import os
import shutil
import time

import pytest

from runner import promtext, results
from runner.locust_cpu import CLIENT_BOUND_CORES, busy_cores, proc_cpu_seconds
from runner.measure import wait_idle
from runner.native import NativeBackend
from runner.report import summary_table
from runner.spec import parse_experiment
from tests.experiment.conftest import run_cli
from tests.support import REPO_ROOT, wait_until

TWO_CHEAP = """\
description: two cheap users, no expensive stream
repetitions: 1
warmup: 0.5s
measure: 2s
idle: 0s
matrix: {model: [thread], cpus: [1], load: [{cheap: 2, expensive: 0}]}
"""


def read_rows(out):
    with open(out / "results.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_native_workers_share_the_users_and_counts_agree(tmp_path):
    experiment = parse_experiment(TWO_CHEAP)
    backend = NativeBackend(experiment, str(tmp_path), locust_workers=2)
    try:
        backend.open()
        assert backend.locust.worker_count() == 2  # both workers really connected to the master
        assert set(backend.locust_processes()) == {"master", "worker-1", "worker-2"}
        target = backend.start_cell(experiment.cells[0], "workers")
        cpu_before = backend.locust_cpu_seconds()
        backend.locust.swarm(2, 0, host=target.locust_host, spawn_rate=100, cheap_n=1, expensive_n=100000)
        wait_until(lambda: (target.scrape().get_sum(promtext.REQUESTS, kind="cheap") or 0) > 3000, timeout=60)
        backend.locust.stop()
        wait_idle(target.scrape)
        answered = target.scrape().get_sum(promtext.REQUESTS, kind="cheap")
        cpu_after = backend.locust_cpu_seconds()
        # Workers report to the master every 3 s, also after the stop: then Locust's count is the server's, except
        # a request in flight when a user was stopped (answered by the server, never recorded): one per user.
        def recorded():
            count = backend.locust.stats().get("cheap", {}).get("requests", 0)
            return count if 0 <= answered - count <= 2 else None
        wait_until(recorded, timeout=20)
        time.sleep(3.5)  # one more report interval: nothing else arrives
        assert 0 <= answered - backend.locust.stats()["cheap"]["requests"] <= 2
        assert backend.locust.stats()["cheap"]["failures"] == 0
        used = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
        # One user on each worker: each worker made load, the master only coordinated.
        assert used["worker-1"] > 0.05 and used["worker-2"] > 0.05, used
    finally:
        backend.close()
    assert backend.worker_procs == [] and backend.locust_proc is None


@pytest.mark.slow
def test_a_run_with_workers_records_each_locust_process(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_CHEAP)
    out = tmp_path / "out"
    done = run_cli("run", str(spec), "--out", str(out), "--locust-workers", "2", timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = read_rows(out)
    assert row["status"] == "ok" and row["locust_processes"] == "3"
    assert 0.02 < float(row["locust_cpu_max_alone"]) < 1.2 and row["client_bound"] in ("0", "1")
    [cell] = (out / "cells").iterdir()
    cores = json.loads(cell.read_text())["record"]["alone"]["locust_cpu_cores"]
    assert set(cores) == {"master", "worker-1", "worker-2"} and min(cores["worker-1"], cores["worker-2"]) > 0.02
    assert "Locust CPU (busiest process, cores)" in (out / "report.md").read_text()


def test_negative_workers_are_refused_before_any_load(tmp_path):
    assert any("--locust-workers -1" in p for p in NativeBackend(parse_experiment(TWO_CHEAP), str(tmp_path),
                                                                 locust_workers=-1).problems())


def phase(locust_cores):
    return {"window_s": 5.0, "cheap_rps_server": 9000.0, "cheap_rps_locust": 9000.0, "cheap_p50_ms": 0.0,
            "cheap_p99_ms": 1.0, "cpu_used_cores": 0.6, "cpu_limit_cores": 1.0, "cheap_failures": 0,
            "locust_cpu_cores": locust_cores, "locust_cpu_max_cores": max(locust_cores.values(), default=None)}


@pytest.mark.parametrize(("cores", "bound"), [({"locust": 0.97}, 1), ({"master": 0.01, "worker-1": 0.92}, 1),
                                              ({"locust": 0.5}, 0), ({}, "")])
def test_client_bound_is_the_busiest_process_at_ninety_percent(cores, bound):
    cell = parse_experiment(TWO_CHEAP).cells[0]
    record = {"alone": phase(cores), "with_expensive": None, "convoy_ratio": None, "model_rps": 100.0}
    row = results.row_for("native", cell, 1, record)
    assert row["client_bound"] == bound
    assert row["locust_processes"] == (len(cores) or "")
    table = summary_table(results.summarise([{k: str(v) for k, v in row.items()}]))
    assert ("**client-bound**" in table) == (bound == 1)


def test_the_report_says_what_to_do_about_a_client_bound_cell(tmp_path):
    spec = tmp_path / "two.yaml"
    spec.write_text(TWO_CHEAP)
    experiment = parse_experiment(TWO_CHEAP)
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy(spec, out / "experiment.yaml")
    record = {"alone": phase({"locust": 0.99}), "with_expensive": None, "convoy_ratio": None, "model_rps": 100.0}
    results.write_csv(str(out), [results.row_for("native", experiment.cells[0], 1, record)])
    meta = {"backend": "native", "cpu_cores_usable": 2, "run": {"status": "complete", "done": 1, "planned": 1,
                                                                 "elapsed_s": 9.0}}
    (out / "metadata.json").write_text(json.dumps(meta))
    assert run_cli("report", str(out), timeout=60).returncode == 0
    report = (out / "report.md").read_text()
    assert "## Client-bound cells" in report and "--locust-workers" in report
    assert f">= {CLIENT_BOUND_CORES:.0%} of a core" in report


def test_results_written_before_the_locust_columns_still_report_and_compare(tmp_path):
    old = tmp_path / "old"
    shutil.copytree(os.path.join(REPO_ROOT, "docs", "experiment", "lesson-2core"), old)
    with open(old / "results.csv", newline="") as f:
        assert "client_bound" not in next(csv.reader(f))  # the older format, as committed
    done = run_cli("report", str(old), timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((old / "summary.json").read_text())
    assert summary and all(e["client_bound"] is None and e["locust_cpu_max_alone"] is None for e in summary)
    compared = run_cli("compare", str(old), str(old), timeout=60)
    assert compared.returncode == 0 and "client-bound" not in compared.stdout


def test_cpu_of_a_process_from_proc(tmp_path):
    stat = tmp_path / "42" / "stat"
    stat.parent.mkdir()
    ticks = os.sysconf("SC_CLK_TCK")
    # pid (comm with ") " inside) state ppid ... utime stime at fields 14 and 15
    stat.write_text(f"42 (a) b) S 1 1 1 0 -1 0 0 0 0 0 {3 * ticks} {ticks} 0 0 20 0 1 0 0 0 0\n")
    assert proc_cpu_seconds(42, proc_root=str(tmp_path)) == 4.0
    assert proc_cpu_seconds(43, proc_root=str(tmp_path)) is None
    assert busy_cores({"w": 1.0, "gone": 1.0}, {"w": 3.0, "gone": None}, 4.0) == {"w": 0.5}

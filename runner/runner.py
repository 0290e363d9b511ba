"""Runs every cell of an experiment on a backend and keeps the results folder valid after each one.
Ctrl-C (SIGINT) or SIGTERM stops cleanly: the backend stops what it started, finished cells are reported.
"""
import dataclasses
import datetime
import json
import os
import sys
import time

import requests

from runner import hostinfo, interrupts, plots, report, results
from runner.locust_api import LocustError
from runner.measure import PhaseError, measure_cell, sleep_with
from runner.backend import Backend, BackendError
from runner.progress import Progress, format_duration
from runner.spec import Experiment, SpecError, placement_of

CELL_ERRORS = (PhaseError, BackendError, LocustError, requests.RequestException, OSError)


def default_out_dir():
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")
    return os.path.join("results", stamp)


def prepare_out_dir(out_dir):
    if os.path.exists(os.path.join(out_dir, "results.csv")):
        raise FileExistsError(f"{out_dir} already holds results; choose another --out (nothing is overwritten)")
    os.makedirs(out_dir, exist_ok=True)


def finalize(out_dir, experiment, meta, rows, state, host_cores):
    """summary.json, plots, report.md and metadata.json from the rows finished so far."""
    summary = results.summarise(rows)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    plots.write_all(summary, out_dir, host_cores)
    meta = dict(meta, run=state)
    with open(os.path.join(out_dir, "metadata.json"), "w") as f:
        json.dump(meta, f, indent=2)
    return report.write(out_dir, experiment, meta, summary, rows, state)


def rewrite_report(out_dir):
    """Report, summary and plots again from a results folder's CSV, YAML copy and metadata."""
    from runner.spec import load_experiment
    experiment = load_experiment(os.path.join(out_dir, "experiment.yaml"))
    try:
        with open(os.path.join(out_dir, "metadata.json")) as f:
            meta = json.load(f)
        rows = results.read_csv(out_dir)
    except (OSError, ValueError) as exc:
        raise SpecError(out_dir, [f"not a results folder: {exc}"]) from None
    state = meta.pop("run")
    return finalize(out_dir, experiment, meta, rows, state, meta["cpu_cores_usable"])


def run_experiment(experiment: Experiment, backend: Backend, out_dir: str, stream=None) -> int:
    """Returns the exit status: 0 complete, 1 some cells failed, 130 interrupted."""
    backend.connect()
    problems = backend.problems()
    if problems:
        raise SpecError(experiment.source, problems)  # before any load, and before any folder is made
    experiment = backend.experiment  # without the cells this backend skips (see skip_note)
    prepare_out_dir(out_dir)
    with open(os.path.join(out_dir, "experiment.yaml"), "w") as f:
        f.write(experiment.text)
    meta = dict(hostinfo.collect(backend.name), experiment_file=experiment.source)
    if getattr(backend, "skip_note", None):
        meta["skipped"] = backend.skip_note
        print(f"note: {backend.skip_note}", file=stream or sys.stderr)
    plan = [(rep, cell) for rep in range(1, experiment.repetitions + 1) for cell in experiment.cells]
    progress = Progress(len(plan), experiment.planned_cell_seconds() + 5, stream)
    rows, status, began = [], "complete", time.monotonic()
    previous_handlers = interrupts.install()
    try:
        backend.open()
        for index, (rep, cell) in enumerate(plan, 1):
            interrupts.check()
            name = f"{index:03d}-{cell.key}-r{rep}"
            progress.start_cell(f"{cell.label} rep {rep}/{experiment.repetitions}")
            progress.status("starting the server")
            payload = {"cell": dataclasses.asdict(cell), "key": cell.key, "repetition": rep,
                       "backend": backend.name, "placement": placement_of(cell, backend.name),
                       "started_at": time.time()}
            try:
                target = backend.start_cell(cell, name)
                record = measure_cell(target, backend.locust, experiment, cell, progress.status,
                                      backend.locust_cpu_seconds)
                payload["record"] = record
                row = results.row_for(backend.name, cell, rep, record)
            except CELL_ERRORS as exc:
                payload["error"] = str(exc)
                row = results.row_for(backend.name, cell, rep, error=str(exc))
            finally:
                backend.end_cell()
            payload["finished_at"] = time.time()
            rows.append(row)
            results.write_cell_json(out_dir, index, cell, rep, payload)
            results.write_csv(out_dir, rows)
            progress.finish_cell()
            if index < len(plan) and experiment.idle_s:
                sleep_with(experiment.idle_s, lambda: progress.status("idle gap"))
    except KeyboardInterrupt:
        status = "partial (interrupted)"
    finally:
        # Cleanup must finish even if Ctrl-C is pressed again.
        interrupts.ignore()
        try:
            backend.close()
            results.write_csv(out_dir, rows)
            state = {"status": status, "done": len(rows), "planned": len(plan),
                     "elapsed_s": time.monotonic() - began}
            path = finalize(out_dir, experiment, meta, rows, state, meta["cpu_cores_usable"])
        finally:
            interrupts.restore(previous_handlers)
    failed = sum(1 for r in rows if r["status"] != "ok")
    progress.close(f"{status}: {len(rows)}/{len(plan)} cell runs ({failed} failed) in "
                   f"{format_duration(state['elapsed_s'])}; report: {path}")
    if status != "complete":
        return 130
    return 1 if failed else 0

"""The native backend end to end: a real run of a 4-cell matrix writes every output file with the documented
columns, and reproduces the lesson's qualitative result (wide margins: these machines are 2-core and noisy).
"""
import csv
import json
import os

from runner.plots import FILES
from runner.results import COLUMN_NAMES


def rows_by_cell(out):
    with open(out / "results.csv", newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    return header, {(r["model"], float(r["switch_interval_s"])): r for r in rows}


def test_every_output_file_is_written(tiny_run):
    out, _ = tiny_run
    for name in ("results.csv", "report.md", "summary.json", "metadata.json", "experiment.yaml"):
        assert (out / name).stat().st_size > 0, name
    for name in FILES:
        with open(out / "plots" / name, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
    cells = sorted(os.listdir(out / "cells"))
    assert len(cells) == 4 and all(name.endswith(".json") for name in cells)
    record = json.loads((out / "cells" / cells[0]).read_text())
    assert set(record["record"]) == {"alone", "with_expensive", "convoy_ratio", "model_rps"}
    assert os.listdir(out / "logs")


def test_csv_columns_are_the_documented_ones(tiny_run):
    out, _ = tiny_run
    header, rows = rows_by_cell(out)
    assert header == COLUMN_NAMES
    report = (out / "report.md").read_text()
    for name in COLUMN_NAMES:  # the report documents every column
        assert f"| `{name}` |" in report
    assert all(row["status"] == "ok" and row["backend"] == "native" for row in rows.values())
    assert "Status: complete" in report


def test_metadata_names_the_host(tiny_run):
    out, _ = tiny_run
    meta = json.loads((out / "metadata.json").read_text())
    for key in ("cpu_model", "cpu_cores", "kernel", "python_version", "python_gil_enabled", "docker_version",
                "cgroup_version", "locust_version", "git_revision"):
        assert key in meta, key
    assert meta["cpu_cores"] >= 1 and meta["locust_version"] and meta["run"]["status"] == "complete"
    assert "switch_interval: [0.5ms, 5ms, 1s]" in (out / "experiment.yaml").read_text()


def test_server_and_locust_counts_agree(tiny_run):
    out, _ = tiny_run
    _, rows = rows_by_cell(out)
    for row in rows.values():
        server, locust = float(row["cheap_rps_alone"]), float(row["cheap_rps_locust_alone"])
        assert server > 100, row  # a cheap stream alone answers hundreds of requests per second at least
        assert abs(server - locust) < 0.25 * server, row  # the two windows are nearly the same
        assert float(row["expensive_in_flight"]) == 1, row  # the expensive request was there all along
        assert row["cheap_failures"] == "0", row


def test_the_lessons_result(tiny_run):
    out, _ = tiny_run
    _, rows = rows_by_cell(out)
    short, default, long = (float(rows[("thread", s)]["cheap_rps"]) for s in (0.0005, 0.005, 1.0))
    # A shorter switch interval lets the cheap stream through more often (the model says 10x; ask 1.5x).
    assert short > 1.5 * default, (short, default)
    # At 1 s the cheap stream waits about a second per request for the GIL: near zero.
    assert long < 10 and long < 0.2 * default, (long, default)
    thread_ratio = float(rows[("thread", 0.005)]["convoy_ratio"])
    process_ratio = float(rows[("process", 0.005)]["convoy_ratio"])
    assert thread_ratio < 0.2, thread_ratio
    # Computation in worker processes: the cheap stream keeps a large share (measured 0.4-2 on a shared
    # 2-core host, where the thread model keeps 0.02-0.03).
    assert process_ratio > 0.25 and process_ratio > 5 * thread_ratio, (process_ratio, thread_ratio)
    assert float(rows[("thread", 0.005)]["model_rps"]) == 100.0


def test_compare_puts_two_results_side_by_side(tiny_run):
    from tests.experiment.conftest import run_cli
    out, _ = tiny_run
    done = run_cli("compare", str(out), str(out), "--out", str(out / "compare.md"))
    assert done.returncode == 0, done.stderr
    # placement: native pins. A cell may end in "(client-bound ...)" where Locust used 90% of a core.
    assert "| thread si=5ms cpus=1 pinned 1c+1e naive" in done.stdout
    assert "1.00x" in done.stdout and (out / "compare.md").read_text() == done.stdout
    missing = run_cli("compare", str(out), str(out / "nope"))
    assert missing.returncode == 2 and "not a results folder" in missing.stderr


def test_report_is_rewritten_from_the_csv(tiny_run):
    from tests.experiment.conftest import run_cli
    out, _ = tiny_run
    before = (out / "report.md").read_text()
    (out / "report.md").unlink()
    done = run_cli("report", str(out))
    assert done.returncode == 0, done.stderr
    assert (out / "report.md").read_text() == before

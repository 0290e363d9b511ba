"""The compose backend in the real Docker engine: it starts the stack's server and Locust on free ports, applies
CPU limits live both ways (a quota, pinned cores) with container updates, measures each cell through the Locust
master, writes results that name every cell's placement, and cleans up.
"""
import csv
import json
import textwrap

import pytest

from tests.experiment.compose_runs import run_compose_experiment

pytestmark = [pytest.mark.docker, pytest.mark.slow]

MATRIX = textwrap.dedent("""\
    repetitions: 1
    warmup: 1s
    measure: 3s
    idle: 0.5s
    matrix:
      - model: [thread]
        switch_interval: [5ms]
        cpus: [0.5, 1]
        placement: [quota]
        load: [{cheap: 1, expensive: 1}]
      - model: [thread]
        switch_interval: [5ms]
        cpus: [1]
        placement: [pinned]
        load: [{cheap: 1, expensive: 1}]
""")


def test_quota_and_pinned_cores_applied_live(docker_engine, tmp_path, artifacts_dir):
    out = run_compose_experiment(MATRIX, tmp_path, artifacts_dir, "exp-cpus", timeout=900)

    with open(out / "results.csv", newline="") as f:
        rows = {(row["placement"], row["cpus"]): row for row in csv.DictReader(f)}
    assert set(rows) == {("quota", "0.5"), ("quota", "1"), ("pinned", "1")}, rows
    host_cores = json.loads((out / "metadata.json").read_text())["cpu_cores_usable"]
    for (placement, cpus), row in rows.items():
        assert row["status"] == "ok" and row["backend"] == "compose", row
        # The server itself reports the limits the runner set live.
        assert float(row["cpu_limit_cores"]) == pytest.approx(float(cpus), abs=0.01), row
        assert float(row["cheap_rps_alone"]) > 50, row
        assert float(row["expensive_in_flight"]) == 1, row
        assert float(row["cpu_used_cores"]) < float(cpus) + 0.15, row  # the limit holds the server down
        if placement == "quota":
            assert float(row["quota_cores"]) == pytest.approx(float(cpus), abs=0.01), row
            assert float(row["cpuset_cores"]) == host_cores, row  # a quota alone: every core allowed
            # A quota exists, so the CFS counters do (how often it bites depends on the host's other load).
            assert 0 <= float(row["throttled_fraction"]) <= 1, row
        else:
            assert row["quota_cores"] == "" and float(row["cpuset_cores"]) == 1, row
        # Each Locust container's CPU over the window, from the Docker stats API: the master and one worker.
        assert row["locust_processes"] == "2" and 0.01 < float(row["locust_cpu_max_alone"]) < 1.2, row
        assert row["client_bound"] in ("0", "1"), row
    cells = sorted(p.name for p in (out / "cells").iterdir())
    assert [name.rsplit("_", 1)[1] for name in cells] == ["quota-r1.json", "quota-r1.json", "pinned-r1.json"], cells
    assert json.loads((out / "cells" / cells[2]).read_text())["placement"] == "pinned"
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["backend"] == "compose" and meta["run"]["status"] == "complete"
    report = (out / "report.md").read_text()
    assert "| placement |" in report and "| 1 | pinned |" in report and "| 0.5 | quota |" in report
    assert (out / "plots" / "throughput_vs_cpus.png").exists()

"""The compose backend in the real Docker engine: it starts the stack's server and Locust on free ports, applies
two CPU limits live (container update), measures each through the Locust master, writes results, cleans up.
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
      model: [thread]
      switch_interval: [2ms]
      cpus: [0.5, 1]
      load: [{cheap: 1, expensive: 1}]
""")


def test_two_cpu_limits_applied_live(docker_engine, tmp_path, artifacts_dir):
    out = run_compose_experiment(MATRIX, tmp_path, artifacts_dir, "exp-cpus", timeout=900)

    with open(out / "results.csv", newline="") as f:
        rows = {row["cpus"]: row for row in csv.DictReader(f)}
    assert set(rows) == {"0.5", "1"}, rows
    for cpus, row in rows.items():
        assert row["status"] == "ok" and row["backend"] == "compose", row
        # The server itself reports the limit the runner set live (cgroup quota / period).
        assert float(row["cpu_limit_cores"]) == pytest.approx(float(cpus), abs=0.01), row
        assert float(row["cheap_rps_alone"]) > 50, row
        assert float(row["expensive_in_flight"]) == 1, row
        # A quota exists, so the CFS counters do (how often it bites depends on the host's other load).
        assert 0 <= float(row["throttled_fraction"]) <= 1, row
        assert float(row["cpu_used_cores"]) < float(cpus) + 0.15, row  # the quota holds the server down
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["backend"] == "compose" and meta["run"]["status"] == "complete"
    assert (out / "report.md").exists() and (out / "plots" / "throughput_vs_cpus.png").exists()

# The compose backend in the real Docker engine: it starts the stack's server and Locust on free ports, applies
# two CPU limits live (container update), measures each through the Locust master, writes results, cleans up.
import csv
import json
import os
import subprocess
import textwrap
import uuid

import pytest

from tests.experiment.conftest import run_cli
from tests.stack.files import compose_defaults
from tests.stack.images import require_image

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


def project_leftovers(project):
    label = f"label=com.docker.compose.project={project}"
    return subprocess.run(["docker", "ps", "-a", "-q", "--filter", label], capture_output=True, text=True).stdout.split()


def test_two_cpu_limits_applied_live(docker_engine, tmp_path, artifacts_dir):
    defaults = compose_defaults()
    for name in ("PYTHON_IMAGE", "DEBIAN_IMAGE"):
        require_image(os.environ.get(name) or defaults[name], "the server and Locust images")
    spec = tmp_path / "compose.yaml"
    spec.write_text(MATRIX)
    out = tmp_path / "results"
    project = f"gil-lab-exp-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    try:
        done = run_cli("run", str(spec), "--out", str(out), "--backend", "compose", "--start-stack",
                       "--project", project, timeout=900, env=env)
    finally:
        subprocess.run(["docker", "compose", "-p", project, "down", "-v", "--rmi", "local", "--remove-orphans"],
                       capture_output=True)
    if os.path.exists(out / "logs" / "compose.log"):
        with open(os.path.join(artifacts_dir, "experiment-compose.log"), "w") as f:
            f.write((out / "logs" / "compose.log").read_text(errors="replace")[-20000:])
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"

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
    assert not project_leftovers(project), "the runner left containers behind"

"""One compose-backend run of the experiment runner for a test: a unique project, the stack always taken down
(with every profile), its compose log kept as a test artifact, and a check that no container was left behind.
"""
import os
import subprocess
import uuid

from tests.experiment.conftest import run_cli
from tests.stack.files import compose_defaults
from tests.stack.images import require_image


def project_leftovers(project):
    label = f"label=com.docker.compose.project={project}"
    return subprocess.run(["docker", "ps", "-a", "-q", "--filter", label], capture_output=True, text=True).stdout.split()


def run_compose_experiment(matrix, tmp_path, artifacts_dir, name, timeout=900):
    """Run `matrix` (YAML text) with --backend compose --start-stack; returns the results folder."""
    defaults = compose_defaults()
    for image in ("PYTHON_IMAGE", "DEBIAN_IMAGE"):
        require_image(os.environ.get(image) or defaults[image], "the server and Locust images")
    spec = tmp_path / f"{name}.yaml"
    spec.write_text(matrix)
    out = tmp_path / "results"
    project = f"gil-lab-{name}-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    try:
        done = run_cli("run", str(spec), "--out", str(out), "--backend", "compose", "--start-stack",
                       "--project", project, timeout=timeout, env=env)
    finally:
        subprocess.run(["docker", "compose", "-p", project, "--profile", "free-threaded", "down", "-v", "--rmi",
                        "local", "--remove-orphans"], capture_output=True, timeout=300)
    if os.path.exists(out / "logs" / "compose.log"):
        with open(os.path.join(artifacts_dir, f"{name}-compose.log"), "w") as f:
            f.write((out / "logs" / "compose.log").read_text(errors="replace")[-20000:])
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-4000:]}"
    assert not project_leftovers(project), "the runner left containers behind"
    return out

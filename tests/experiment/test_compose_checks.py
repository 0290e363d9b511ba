"""The compose backend's checks: connect() reaches the engine, problems() only reads what it found."""
import pytest

from runner.backend import BackendError
from runner.compose import ComposeBackend
from runner.spec import parse_experiment
from tests.experiment.conftest import run_cli

TOO_MANY_CORES = "matrix: {model: [thread], cpus: [1, 4096]}\n"


@pytest.mark.docker
def test_problems_sets_up_nothing(docker_engine, tmp_path):
    backend = ComposeBackend(parse_experiment(TOO_MANY_CORES), str(tmp_path), project="gil-lab-no-such-project")
    assert backend.problems() == ["the compose backend is not connected to a Docker engine (connect() first)"]
    backend.connect()
    assert backend.client is not None and backend.host_cores >= 1
    before = dict(vars(backend))
    found = backend.problems()
    assert any("cpus 4096 but the Docker host has" in problem for problem in found), found
    assert any("no running 'server' container" in problem for problem in found), found
    after = vars(backend)
    assert after.keys() == before.keys() and all(after[key] is before[key] for key in before)


def test_an_unreachable_engine_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    backend = ComposeBackend(parse_experiment(TOO_MANY_CORES), str(tmp_path))
    with pytest.raises(BackendError, match="needs a reachable Docker engine"):
        backend.connect()
    spec = tmp_path / "cores.yaml"
    spec.write_text(TOO_MANY_CORES)
    done = run_cli("validate", str(spec), "--backend", "compose", env={"DOCKER_HOST": f"unix://{tmp_path}/x.sock",
                                                                         "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "error: the compose backend needs a reachable Docker engine" in done.stderr, done

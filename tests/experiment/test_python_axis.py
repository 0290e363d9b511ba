"""The python axis: gil / free-threaded name the server's build; the native backend maps them to
interpreters here (skipping free-threaded cells it cannot run, with one note), the compose backend to its services.
"""
import os
import sys

import pytest

from runner import interpreters
from runner.native import NativeBackend
from runner.spec import parse_experiment
from tests.experiment.conftest import run_cli

# A GIL interpreter named as the free-threaded one: the runner must notice, whatever this host has installed.
NO_FREE_THREADED = dict(os.environ, EXPERIMENT_FREE_THREADED_PYTHON=sys.executable)
BOTH = "matrix: {model: [thread], cpus: [1], python: [gil, free-threaded]}\n"


def test_gil_is_the_runners_own_interpreter():
    assert interpreters.resolve("gil") == (sys.executable, None)
    assert interpreters.resolve(None) == (sys.executable, None)


def test_a_gil_interpreter_is_not_taken_for_free_threaded(monkeypatch):
    monkeypatch.setenv(interpreters.FREE_THREADED_ENV, sys.executable)
    found, problem = interpreters.resolve("free-threaded")
    assert found is None and "is not a free-threaded interpreter" in problem


def test_native_skips_free_threaded_cells_with_one_note(tmp_path, monkeypatch):
    monkeypatch.setenv(interpreters.FREE_THREADED_ENV, sys.executable)
    backend = NativeBackend(parse_experiment(BOTH), str(tmp_path))
    assert backend.problems() == []
    assert [c.python for c in backend.experiment.cells] == ["gil"]
    assert "skipping 1 free-threaded cell(s)" in backend.skip_note and "--backend compose" in backend.skip_note


def test_native_refuses_a_file_of_only_free_threaded_cells(tmp_path):
    spec = tmp_path / "ft.yaml"
    spec.write_text("matrix: {cpus: [1], python: [free-threaded]}\n")
    done = run_cli("run", str(spec), "--out", str(tmp_path / "out"), timeout=60, env=NO_FREE_THREADED)
    assert done.returncode == 2 and "no free-threaded interpreter on this host" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["lesson", "freethreaded"])
def test_shipped_files_with_free_threaded_cells_validate_natively(name):
    done = run_cli("validate", f"runner/experiments/{name}.yaml", timeout=60, env=NO_FREE_THREADED)
    assert done.returncode == 0, done.stderr
    assert "note: skipping 3 free-threaded cell(s)" in done.stdout
    assert "python=free-threaded" not in done.stdout


@pytest.mark.docker
def test_compose_refuses_an_interpreter_path(docker_engine, tmp_path):
    spec = tmp_path / "path.yaml"
    spec.write_text("matrix: {cpus: [1], python: [/usr/bin/python3.13t, free-threaded]}\n")
    done = run_cli("validate", str(spec), "--backend", "compose", "--start-stack", timeout=60)
    assert done.returncode == 2, done.stdout
    assert "python must be gil or free-threaded" in done.stderr and "/usr/bin/python3.13t" in done.stderr
    assert "python=free-threaded:" not in done.stderr  # the free-threaded cell itself is fine


@pytest.mark.docker
def test_compose_names_the_missing_free_threaded_service(docker_engine, tmp_path):
    spec = tmp_path / "ft.yaml"
    spec.write_text("matrix: {cpus: [1], python: [free-threaded]}\n")
    done = run_cli("validate", str(spec), "--backend", "compose", "--project", "gil-lab-no-such-stack", timeout=60)
    assert done.returncode == 2
    assert "no running 'server-ft' container" in done.stderr and "--profile free-threaded" in done.stderr

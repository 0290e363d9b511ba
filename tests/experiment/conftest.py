"""Fixtures of the experiment runner's tests: run `python -m runner` as a real subprocess on a
small YAML matrix (real server, real Locust), once per session, and hand its results folder to the tests.
"""
import subprocess
import sys
import textwrap

import pytest

from tests.support import REPO_ROOT

# Four cells, seconds each: the lesson's qualitative result with wide margins. Naive n=100000 stays in
# flight through every window, so the expensive stream is really there while the cheap one is measured.
TINY_MATRIX = textwrap.dedent("""\
    description: tiny lesson matrix for the tests
    repetitions: 1
    warmup: 1s
    measure: 3s
    idle: 0.2s
    cheap_n: 1
    expensive_n: 100000
    matrix:
      - model: [thread]
        switch_interval: [0.5ms, 5ms, 1s]
        cpus: [1]
        load: [{cheap: 1, expensive: 1}]
      - model: [process]
        switch_interval: [5ms]
        cpus: [1]
        load: [{cheap: 1, expensive: 1}]
""")


def run_cli(*args, timeout=300, **kwargs):
    return subprocess.run([sys.executable, "-m", "runner", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("experiment")
    spec = folder / "tiny.yaml"
    spec.write_text(TINY_MATRIX)
    out = folder / "results"
    done = run_cli("run", str(spec), "--out", str(out))
    print(done.stderr[-3000:])
    assert done.returncode == 0, f"run failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}"
    return out, done

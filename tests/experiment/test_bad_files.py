"""Bad experiment files: each is refused before any load starts, with one clear message per problem,
by the parser and by the real command line (exit status 2, no results folder made).
"""
import os

import pytest

from runner.native import NativeBackend
from runner.spec import SpecError, parse_experiment, parse_seconds
from tests.experiment.conftest import run_cli

GOOD_MATRIX = "matrix: {model: [thread], switch_interval: [5ms], cpus: [1]}\n"

BAD_FILES = [
    ("unknown top-level key", "warmpu: 2s\n" + GOOD_MATRIX, "unknown key 'warmpu'"),
    ("unknown axis", "matrix: {model: [thread], swtich_interval: [5ms]}\n", "unknown axis 'swtich_interval'"),
    ("bad unit", "matrix: {switch_interval: [5 parsecs]}\n", "bad unit 'parsecs'"),
    ("bad duration", "measure: soon\n" + GOOD_MATRIX, "measure: 'soon' is not a duration"),
    ("zero duration", "measure: 0s\n" + GOOD_MATRIX, "must be a positive duration"),
    ("empty matrix", "matrix: []\n", "matrix: empty"),
    ("empty axis", "matrix: {model: []}\n", "matrix.model: empty list"),
    ("missing matrix", "repetitions: 2\n", "missing 'matrix'"),
    ("bad model", "matrix: {model: [fibers]}\n", "'fibers' is not a model"),
    ("bad cpus", "matrix: {cpus: [-1]}\n", "-1 is not a CPU limit"),
    ("bad load", "matrix: {load: [{cheap: 1, heavy: 1}]}\n", "is not a load"),
    ("no cheap user", "matrix: {load: [{cheap: 0, expensive: 1}]}\n", "at least one cheap user"),
    ("bad repetitions", "repetitions: 0\n" + GOOD_MATRIX, "repetitions: must be a whole number >= 1"),
    ("not YAML", "matrix: [unclosed\n", "not valid YAML"),
    ("not a mapping", "- just\n- a list\n", "must be a mapping"),
    ("long switch interval", "matrix: {switch_interval: [2min]}\n", "above 60 s"),
    ("bad placement", "matrix: {placement: [affinity]}\n", "'affinity' is not a placement (one of pinned, quota"),
    ("pinned fraction", "matrix: {cpus: [0.5], placement: [pinned]}\n", "cpus 0.5 with placement pinned"),
]


@pytest.mark.parametrize("text,message", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_bad_file_is_refused_with_its_message(text, message):
    with pytest.raises(SpecError) as caught:
        parse_experiment(text, source="bad.yaml")
    assert message in str(caught.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(SpecError) as caught:
        parse_experiment("warmpu: 1s\nmeasure: 3 fortnights\nmatrix: {model: [fibers], cpus: [0]}\n", "x.yaml")
    assert len(caught.value.errors) == 4, caught.value.errors


def test_units():
    assert parse_seconds("0.5ms") == 0.0005
    assert parse_seconds("100us") == pytest.approx(1e-4)
    assert parse_seconds("2 s") == 2.0 and parse_seconds(0.005) == 0.005 and parse_seconds("1min") == 60.0


def test_native_backend_refuses_fractional_and_missing(tmp_path):
    experiment = parse_experiment("matrix:\n  cpus: [0.5, 1, 64]\n  python: [null, /nonexistent/python3.13t]\n")
    problems = NativeBackend(experiment, str(tmp_path)).problems()
    text = "\n".join(problems)
    assert "cpus 0.5 is fractional" in text and "whole cores only" in text
    assert "cpus 64 but only" in text
    assert "python '/nonexistent/python3.13t': no such interpreter" in text


def test_native_backend_refuses_a_quota(tmp_path):
    experiment = parse_experiment("matrix:\n  cpus: [1]\n  placement: [pinned, quota]\n")
    problems = NativeBackend(experiment, str(tmp_path)).problems()
    assert len(problems) == 1, problems
    assert "placement=quota: the native backend pins whole cores" in problems[0]
    assert "cannot set a CPU quota (placement quota needs --backend compose)" in problems[0]


def test_placement_names_the_cell_only_when_chosen():
    chosen = parse_experiment("matrix:\n  - {cpus: [1], placement: [pinned, quota]}\n"
                              "  - {cpus: [0.5], placement: [quota]}\n").cells
    assert [c.key.rsplit("_", 1)[1] for c in chosen] == ["pinned", "quota", "quota"]
    assert "placement=pinned" in chosen[0].label
    implicit = parse_experiment(GOOD_MATRIX).cells[0]
    assert implicit.placement is None and implicit.key == "thread_si5ms_cpus1_1c1e_naive_w4"  # ids as before


def test_command_line_refuses_before_any_load(tmp_path):
    spec = tmp_path / "cpus.yaml"
    spec.write_text("matrix: {cpus: [0.25]}\n")
    out = tmp_path / "results"
    done = run_cli("run", str(spec), "--out", str(out), timeout=60)
    assert done.returncode == 2
    assert "cpus 0.25 is fractional" in done.stderr and "Traceback" not in done.stderr
    assert not os.path.exists(out)  # refused before anything ran or was written
    missing = run_cli("run", str(tmp_path / "nope.yaml"), timeout=60)
    assert missing.returncode == 2 and "cannot read the experiment file" in missing.stderr


def test_shipped_files_validate():
    for name in ("lesson", "quick"):
        done = run_cli("validate", f"runner/experiments/{name}.yaml", timeout=60)
        assert done.returncode == 0, done.stderr
    cpus = run_cli("validate", "runner/experiments/cpus.yaml", timeout=60)
    assert cpus.returncode == 2 and "use --backend compose" in cpus.stderr  # fractional limits need quotas

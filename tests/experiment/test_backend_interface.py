"""Both backends and their targets have what the runner calls (runner/backend.py's Backend and Target)."""
from runner.backend import Backend, Target
from runner.compose import ComposeBackend, ComposeTarget
from runner.native import NativeBackend, NativeTarget
from runner.spec import parse_experiment

MATRIX = parse_experiment("matrix: {model: [thread], cpus: [1]}\n")


def test_both_backends_are_backends(tmp_path):
    assert isinstance(NativeBackend(MATRIX, str(tmp_path)), Backend)
    assert isinstance(ComposeBackend(MATRIX, str(tmp_path)), Backend)  # builds nothing and reaches no engine


def test_both_targets_are_targets():
    assert isinstance(NativeTarget(None, 1, 2, 3, [0]), Target)
    assert isinstance(ComposeTarget("http://127.0.0.1:1/metrics", "server:25000"), Target)


def test_an_object_without_the_calls_is_not_a_backend():
    class Partial:
        name, experiment, skip_note, locust = "partial", MATRIX, None, None

        def problems(self):
            return []
    assert not isinstance(Partial(), Backend)

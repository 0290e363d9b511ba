"""The YAML scenario loader: the shipped lesson file loads, each kind of bad file gives its own clear error,
and Locust given a bad file exits before any load reaches the server.
"""
import textwrap

import pytest

from loadgen.scenario import LESSON, ScenarioError, load_scenario
from tests.loadgen.conftest import assert_clean_exit, run_locust
from tests.support import run_server

VALID = """
spawn_rate: 5
phases:
  - {name: warm, duration: 2.5, users: {cheap: 2, expensive: 0}}
  - {duration: 3, users: {cheap: 2, expensive: 1}}
"""


def write(tmp_path, text):
    path = tmp_path / "scenario.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_the_shipped_lesson_is_valid():
    lesson = load_scenario(LESSON)
    kinds = [(p.users["cheap"], p.users["expensive"]) for p in lesson.phases]
    assert kinds == [(1, 0), (1, 1), (1, 0)]  # cheap alone, the expensive one joins, then leaves
    assert lesson.duration_s > 0


def test_a_valid_file(tmp_path):
    scenario = load_scenario(write(tmp_path, VALID))
    assert scenario.spawn_rate == 5
    assert [p.duration_s for p in scenario.phases] == [2.5, 3.0]
    assert scenario.phases[0].name == "warm"
    assert scenario.phase_at(0)[0] == 0 and scenario.phase_at(2.6)[0] == 1 and scenario.phase_at(5.6) is None


@pytest.mark.parametrize("text, message", [
    ("phases:\n  - {duration: 3, users: {cheap: 1, expensive: 0}, durration: 4}", "unknown key 'durration'"),
    ("phases: []\nspeed: 3", "unknown key 'speed'"),
    ("phases:\n  - {duration: 3, users: {cheap: 1, expensive: 0, medium: 1}}", "unknown key 'medium'"),
    ("phases:\n  - {duration: -5, users: {cheap: 1, expensive: 0}}", r"phases\[0\].duration .*must not be negative"),
    ("phases:\n  - {duration: 0, users: {cheap: 1, expensive: 0}}", "must be greater than 0"),
    ("phases:\n  - {duration: soon, users: {cheap: 1, expensive: 0}}", "must be a number"),
    ("phases:\n  - {duration: 3}", r"phases\[0\]: missing 'users'"),
    ("phases:\n  - {users: {cheap: 1, expensive: 0}}", "missing 'duration'"),
    ("phases:\n  - {duration: 3, users: {cheap: 1}}", "missing 'expensive'"),
    ("phases:\n  - {duration: 3, users: {cheap: -1, expensive: 0}}", "users.cheap: must not be negative"),
    ("phases:\n  - {duration: 3, users: {cheap: 1.5, expensive: 0}}", "whole number"),
    ("phases:\n  - {duration: 3, users: 2}", "must be a mapping"),
    ("spawn_rate: -1\nphases:\n  - {duration: 3, users: {cheap: 1, expensive: 0}}", "spawn_rate: must not be"),
    ("phases: []", "non-empty list"),
    ("description: nothing to run", "non-empty list"),
    ("- just\n- a list", "must be a mapping"),
    ("phases: [unclosed", "not valid YAML"),
])
def test_each_bad_file_says_what_is_wrong(tmp_path, text, message):
    with pytest.raises(ScenarioError, match=message) as caught:
        load_scenario(write(tmp_path, text))
    assert "scenario.yaml" in str(caught.value)  # the error names the file


def test_a_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(str(tmp_path / "nope.yaml"))


def test_locust_refuses_a_bad_scenario_before_any_load(tmp_path):
    bad = write(tmp_path, "phases:\n  - {duration: -5, users: {cheap: 1, expensive: 0}}")
    with run_server("--no-monitor") as server:
        result = run_locust("--headless", "-t", "10s", "--host", f"127.0.0.1:{server.port}", "--scenario", bad,
                            cwd=str(tmp_path), timeout=60)
        assert result.returncode == 2, result.stderr
        assert "must not be negative" in result.stderr
        assert_clean_exit(result)
        assert server.metric("primes_connections_total") == 0  # no load started


def test_locust_refuses_a_non_tcp_host(tmp_path):
    result = run_locust("--headless", "-t", "10s", "--host", "http://127.0.0.1:1", cwd=str(tmp_path), timeout=60)
    assert result.returncode == 2 and "raw TCP" in result.stderr
    assert_clean_exit(result)

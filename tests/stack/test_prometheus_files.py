"""prometheus/ checked by the real promtool: the config, the rule files and the rules' unit tests.
Also: every recording rule has a unit test, and the scrape interval stays short enough for the lesson.
"""
import os
import re

from tests.stack.files import PROMETHEUS_CONFIG, RULE_TESTS_DIR, RULES_DIR, load_yaml, recording_rules


def test_promtool_check_config(promtool):
    result = promtool.run("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rule files found" in result.stdout  # the rules were found through the config's relative glob


def test_promtool_check_rules(promtool):
    files = [f"rules/{name}" for name in sorted(os.listdir(RULES_DIR))]
    result = promtool.run("check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_rules(promtool):
    files = [f"tests/{name}" for name in sorted(os.listdir(RULE_TESTS_DIR)) if name.endswith(".yml")]
    assert files
    result = promtool.run("test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_recording_rule_has_a_unit_test():
    tested = set()
    for name in os.listdir(RULE_TESTS_DIR):
        for case in load_yaml(os.path.join(RULE_TESTS_DIR, name))["tests"]:
            tested |= {test["expr"] for test in case.get("promql_expr_test", [])}
    untested = {record for record, _ in recording_rules()} - tested
    assert not untested, f"recording rules without a promtool unit test: {sorted(untested)}"


def test_scrape_and_rule_intervals_are_short_and_rules_use_fixed_windows():
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["global"]["scrape_interval"] in ("1s", "2s")
    assert config["global"]["evaluation_interval"] == config["global"]["scrape_interval"]
    for record, expr in recording_rules():
        assert "$" not in expr, f"{record}: Grafana variables do not exist in Prometheus"
        assert re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", record), f"{record}: not level:metric:operations"

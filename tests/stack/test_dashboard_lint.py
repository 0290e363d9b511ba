"""The dashboard checked as far as it can be without a Grafana server: a round trip through grafana-foundation-sdk
(a misspelled or unknown key is dropped), lint rules that fit a single-job lab, and every metric a panel, a
variable or a recording rule reads is one that the server's exporter, the Locust side or a rule produces.

The Grafana the dashboard targets is named once: compose.yaml's GRAFANA_IMAGE default.
"""
import copy
import json
import os
import re
import warnings

import pytest
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins

from loadgen.metrics import LoadMetrics
from runner.promtext import parse
from tests.stack.files import (compose_defaults, dashboard_queries, load_dashboard, load_yaml, panels,
                               recording_rules, RULES_DIR)
from tests.support import run_server

with warnings.catch_warnings():  # "prefer dashboardv2": the classic JSON is what Grafana provisions from files
    warnings.simplefilter("ignore", DeprecationWarning)
    from grafana_foundation_sdk.models.dashboard import Dashboard

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_NAME = re.compile(r"(?<![\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right",
             "inf", "nan", "Inf", "NaN"}
_LABEL_VALUES = re.compile(r"label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,")


def metric_names(expr):
    """The metric names a PromQL expression reads (not functions, labels, keywords, numbers or durations)."""
    text = _GROUPING.sub(" ", _RANGE.sub(" ", _SELECTOR.sub(" ", _STRING.sub(" ", expr))))
    return {name for name in _NAME.findall(text) if name not in _KEYWORDS}


def test_metric_names_are_found_in_promql():
    assert metric_names('histogram_quantile(0.99, sum by (le, kind) (rate(a_bucket{x="b(c)"}[$__rate_interval])))') \
        == {"a_bucket"}
    assert metric_names("x:y:rate5s / on (job, instance) clamp_min(sum without (k) (rate(z_total[5s])), 1e-9) > 0 "
                        "unless max_over_time(w[5m] offset 1m) or vector(1)") == {"x:y:rate5s", "z_total", "w"}


@pytest.fixture(scope="module")
def produced(tmp_path_factory):
    """Every metric name the lab's own code and rules produce, from a real server's scrape (its exporter reading a
    cgroup v2 fixture with a quota, so every CPU metric is there), the Locust side's registry and the rule files."""
    root = tmp_path_factory.mktemp("cgroup")
    for name, text in {"cgroup.controllers": "cpu io memory\n", "cpu.max": "50000 100000\n",
                       "cpu.stat": "usage_usec 1000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 500\n"}.items():
        (root / name).write_text(text)
    with run_server("--no-monitor", "--cgroup-root", str(root)) as server:
        names = {name for name, _ in parse(server.scrape_text())}
    load = LoadMetrics(users_by_class=lambda: {"CheapUser": 1})
    names |= {name for name, _ in parse(load.exposition().decode())}
    return names | {record for record, _ in recording_rules()}


def test_the_produced_names_cover_each_source(produced):
    assert {"primes_requests_total", "primes_cpu_throttled_periods_total", "locust_users",
            "instance:primes_convoy:ratio"} <= produced


def test_no_panel_or_variable_reads_a_metric_nothing_produces(produced):
    dashboard = load_dashboard()
    reads = [(where, metric_names(expr)) for where, expr in dashboard_queries(dashboard)]
    for variable in dashboard["templating"]["list"]:
        reads.append((f"variable {variable['name']!r}", set(_LABEL_VALUES.findall(variable["definition"]))))
    assert all(names for _, names in reads), reads
    unknown = {where: sorted(names - produced) for where, names in reads if names - produced}
    assert not unknown, f"metrics no exporter or rule produces: {unknown}"


def test_every_recording_rule_reads_produced_metrics(produced):
    for name in sorted(os.listdir(RULES_DIR)):
        for group in load_yaml(os.path.join(RULES_DIR, name))["groups"]:
            for rule in group["rules"]:
                assert metric_names(rule["expr"]) <= produced, (rule.get("record"), metric_names(rule["expr"]) - produced)


def test_every_panel_has_a_title_a_description_and_a_unit():
    for panel in panels(load_dashboard()):
        where = f"panel {panel.get('id')} {panel.get('title')!r}"
        assert panel.get("title", "").strip(), f"{where} has no title"
        assert panel.get("description", "").strip(), f"{where} has no description"
        assert panel.get("fieldConfig", {}).get("defaults", {}).get("unit"), f"{where} has no unit"


def round_trip(dashboard):
    """The dashboard decoded into the SDK's types and encoded again."""
    register_default_plugins()  # panel options and field config by panel type, queries by datasource type
    return json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))


def lost(before, after, path="$"):
    """Keys dropped and values changed on the way from `before` to `after`."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [found for key, value in before.items()
                for found in ([f"{path}.{key} dropped"] if key not in after else lost(value, after[key], f"{path}.{key}"))]
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [found for index, pair in enumerate(zip(before, after)) for found in lost(*pair, f"{path}[{index}]")]
    return [] if before == after else [f"{path} changed: {before!r} -> {after!r}"]


def test_the_dashboard_round_trips_through_grafana_foundation_sdk():
    dashboard = load_dashboard()
    assert not lost(dashboard, round_trip(dashboard))


def test_the_round_trip_catches_a_misspelled_key():
    dashboard = load_dashboard()
    spoiled = copy.deepcopy(dashboard)
    panel = next(p for p in spoiled["panels"] if p["type"] == "timeseries")
    panel["fieldConfig"]["defaults"]["unti"] = "s"
    panel["options"]["legnd"] = {}
    spoiled["panels"][0]["descripton"] = "x"
    assert sorted(found.rsplit(".", 1)[1] for found in lost(spoiled, round_trip(spoiled))) == [
        "descripton dropped", "legnd dropped", "unti dropped"]


def test_the_dashboard_targets_the_grafana_compose_runs():
    """compose.yaml's GRAFANA_IMAGE names the Grafana; the dashboard's schema is one it loads (at most the newest
    schema the pinned SDK knows: it is generated from Grafana's main branch) and modern (36+: no graph panels)."""
    image = compose_defaults()["GRAFANA_IMAGE"]
    assert re.fullmatch(r"grafana/grafana:(\d+)\.(\d+)\.(\d+)", image), image
    assert 36 <= load_dashboard()["schemaVersion"] <= Dashboard().schema_version

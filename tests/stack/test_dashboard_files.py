"""The Grafana side, checked statically: the dashboard JSON, its queries (parsed by real promtool), and the
provisioning files that tie it to Prometheus (datasource uid, scrape interval, file provider, home dashboard).
"""
import re

from tests.stack.files import (DASHBOARD_FILE, DATASOURCE_FILE, PROMETHEUS_CONFIG, PROVIDER_FILE, COMPOSE_FILE,
                               concrete, dashboard_queries, load_dashboard, load_yaml, panels, recording_rules)

MODERN_PANELS = {"timeseries", "stat", "text"}
_RANGE_FUNCTIONS = re.compile(r"\b(rate|irate|increase)\s*\(([^\[]*)\[([^\]]+)\]")
_RECORDED_NAME = re.compile(r"\b([a-z_]+:[a-z0-9_]+:[a-z0-9_]+)\b")


def datasource_uid():
    (datasource,) = load_yaml(DATASOURCE_FILE)["datasources"]
    return datasource["uid"]


def test_dashboard_parses_with_unique_panel_ids_and_modern_panels():
    dashboard = load_dashboard()
    ids = [panel["id"] for panel in panels(dashboard)]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    assert {panel["type"] for panel in panels(dashboard)} <= MODERN_PANELS
    assert dashboard["uid"] == "gil-lab"
    titles = [panel["title"] for panel in panels(dashboard)]
    assert len(titles) == len(set(titles))


def test_every_panel_has_a_unit_and_the_provisioned_datasource():
    uid = datasource_uid()
    dashboard = load_dashboard()
    for panel in panels(dashboard):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"panel {panel['title']!r} has no unit"
        if panel["type"] == "text":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid, panel["title"]
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            assert annotation["datasource"]["uid"] == uid
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == uid


def test_rates_use_rate_interval_and_recorded_names_exist():
    recorded = {record for record, _ in recording_rules()}
    for where, expr in dashboard_queries(load_dashboard()):
        for function, _, window in _RANGE_FUNCTIONS.findall(expr):
            assert window == "$__rate_interval", f"{where}: {function}(...[{window}]) should use $__rate_interval"
        for name in _RECORDED_NAME.findall(expr):
            assert name in recorded, f"{where}: {name} is not a recording rule"


def test_the_dashboard_shows_the_lesson():
    """Each thing the issue asks the dashboard to show has a query for it."""
    exprs = " ".join(expr for _, expr in dashboard_queries(load_dashboard()))
    for needle in ('kind:primes_requests:rate5s{instance=~"$server", kind="cheap"}', 'kind:locust_requests:rate10s{kind="cheap"}',
                   'primes_requests_in_progress{instance=~"$server", kind="expensive"}', "primes_request_duration_seconds_bucket",
                   "primes_request_latency_seconds_bucket",
                   "instance:primes_convoy:ratio", "instance:primes_cpu_usage_cores:rate5s", "primes_cpu_limit_cores",
                   "instance:primes_cpu_throttled_periods:ratio_rate5s", "primes_switch_interval_seconds",
                   "primes_server_info", "primes_gil_enabled", "locust_users", "kind:locust_failures:rate10s"):
        assert needle in exprs, needle
    names = [annotation["name"] for annotation in load_dashboard()["annotations"]["list"]]
    assert "Switch interval changed" in names and "CPU limit changed" in names


def test_the_dashboard_shows_both_cpu_limits_and_why_they_differ():
    dashboard = load_dashboard()
    exprs = " ".join(expr for _, expr in dashboard_queries(dashboard))
    assert "primes_cpu_cpuset_cores" in exprs and "primes_cpu_quota_cores" in exprs
    annotations = {a["name"]: a.get("expr", "") for a in dashboard["annotations"]["list"]}
    assert "primes_cpu_cpuset_cores" in annotations["Pinned CPUs changed"]
    quota = annotations["CPU quota changed"]
    assert "changes(" in quota and "unless" in quota  # a quota that appears or goes away is a change too
    texts = [p.get("description", "") + p.get("options", {}).get("content", "") for p in panels(dashboard)]
    assert any("quota" in t and "pinned cores" in t.lower() and "GIL" in t for t in texts)


def test_every_dashboard_query_parses(promtool):
    queries = dashboard_queries(load_dashboard())
    errors = promtool.parse_errors([concrete(expr) for _, expr in queries])
    assert not errors, errors


def test_datasource_declares_the_real_scrape_interval():
    (datasource,) = load_yaml(DATASOURCE_FILE)["datasources"]
    assert datasource["jsonData"]["timeInterval"] == load_yaml(PROMETHEUS_CONFIG)["global"]["scrape_interval"]
    assert datasource["url"] == "http://prometheus:9090"


def test_provider_and_home_dashboard_point_at_the_mounted_file():
    compose = load_yaml(COMPOSE_FILE)["services"]["grafana"]
    mounts = dict(volume.rsplit(":", 1)[0].split(":", 1) for volume in compose["volumes"] if volume.startswith("./"))
    (provider,) = load_yaml(PROVIDER_FILE)["providers"]
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    home = compose["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/" + DASHBOARD_FILE.rsplit("/", 1)[1]

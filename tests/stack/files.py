"""The stack's files as data for the tests: compose.yaml, .env.example, the dashboard, the provisioning.
Also extracts every PromQL expression the dashboard runs, with Grafana's variables made concrete.
"""
import json
import os
import re

import yaml

from tests.support import REPO_ROOT

COMPOSE_FILE = os.path.join(REPO_ROOT, "compose.yaml")
ENV_EXAMPLE = os.path.join(REPO_ROOT, ".env.example")
PROMETHEUS_DIR = os.path.join(REPO_ROOT, "prometheus")
PROMETHEUS_CONFIG = os.path.join(PROMETHEUS_DIR, "prometheus.yml")
RULES_DIR = os.path.join(PROMETHEUS_DIR, "rules")
RULE_TESTS_DIR = os.path.join(PROMETHEUS_DIR, "tests")
GRAFANA_DIR = os.path.join(REPO_ROOT, "grafana")
DASHBOARDS_DIR = os.path.join(GRAFANA_DIR, "dashboards")
DASHBOARD_FILE = os.path.join(DASHBOARDS_DIR, "gil-lab.json")
DATASOURCE_FILE = os.path.join(GRAFANA_DIR, "provisioning", "datasources", "prometheus.yml")
PROVIDER_FILE = os.path.join(GRAFANA_DIR, "provisioning", "dashboards", "gil-lab.yml")
GRAFANA_START = os.path.join(GRAFANA_DIR, "start.sh")
STACK_PAGE = os.path.join(REPO_ROOT, "docs", "stack.md")
# The stack without Grafana (an air-gapped host, CI): docs/stack.md gives this command, the end-to-end test runs it.
WITHOUT_GRAFANA = ("server", "locust-master", "locust-worker", "prometheus")
WITHOUT_GRAFANA_COMMAND = "docker compose up -d --wait " + " ".join(WITHOUT_GRAFANA)

_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")
# Grafana's variables, replaced by what Grafana would send for a short range at a 1 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "4s", "$__interval": "1s", "$__range": "15m", "$server": ".*"}


def load_yaml(path):
    with open(path) as f:
        return yaml.safe_load(f)


def load_dashboard():
    with open(DASHBOARD_FILE) as f:
        return json.load(f)


def compose_defaults():
    """{VARIABLE: default} of every ${VARIABLE:-default} in compose.yaml's values (comments excluded)."""
    found = {}

    def walk(node):
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            for name, default in _INTERPOLATION.findall(node):
                assert found.setdefault(name, default) == default, f"{name} has two defaults in compose.yaml"

    walk(load_yaml(COMPOSE_FILE))
    return found


def env_example():
    """{VARIABLE: value} of .env.example's assignments."""
    values = {}
    with open(ENV_EXAMPLE) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                name, _, value = line.partition("=")
                values[name.strip()] = value.strip()
    return values


def panels(dashboard):
    """Every panel, including those nested in rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def dashboard_queries(dashboard):
    """[(where, PromQL as Grafana writes it)] for every panel target and every Prometheus annotation."""
    queries = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            queries.append((f"panel {panel['id']} {panel['title']!r} {target['refId']}", target["expr"]))
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            queries.append((f"annotation {annotation['name']!r}", annotation["expr"]))
    return queries


def concrete(expr):
    """A dashboard expression with Grafana's variables replaced: plain PromQL."""
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def recording_rules():
    """[(record name, expr)] of every rule file."""
    rules = []
    for name in sorted(os.listdir(RULES_DIR)):
        for group in load_yaml(os.path.join(RULES_DIR, name))["groups"]:
            rules += [(rule["record"], rule["expr"]) for rule in group["rules"] if "record" in rule]
    return rules

"""A compose project of the real stack for the end-to-end test: unique project name, free loopback ports,
commands run through `docker compose`, and a small client for the live Prometheus HTTP API.
"""
import json
import math
import os
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

from tests.stack.files import COMPOSE_FILE
from tests.support import REPO_ROOT, free_port

PORT_VARIABLES = ("SERVER_PORT", "SERVER_METRICS_PORT", "LOCUST_WEB_PORT", "PROMETHEUS_PORT", "GRAFANA_PORT")


class Stack:
    def __init__(self, env_file, **settings):
        self.project = f"gil-lab-e2e-{uuid.uuid4().hex[:8]}"
        self.ports = {name: free_port() for name in PORT_VARIABLES}
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("COMPOSE_")}
        self.env.update({name: str(port) for name, port in self.ports.items()})
        self.env.update({key: str(value) for key, value in settings.items()})
        self.env["COMPOSE_PROJECT_NAME"] = self.project
        # Compose's default builder (bake) wants buildx >= 0.17; Debian's is older. BuildKit without bake
        # builds the same images.
        self.env["COMPOSE_BAKE"] = "false"
        self.env_file = env_file

    def compose(self, *args, check=True, timeout=600, input=None):  # noqa: A002 - subprocess.run's name
        command = ["docker", "compose", "--env-file", self.env_file, "-f", COMPOSE_FILE, *args]
        result = subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, env=self.env,
                                timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
        return result

    def container_ids(self, service=None):
        args = ["ps", "-q", "-a"] + ([service] if service else [])
        return self.compose(*args).stdout.split()

    def leftovers(self):
        """Containers, networks and volumes that still carry this project's label."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {}
        for kind, command in (("containers", ["ps", "-a", "-q"]), ("networks", ["network", "ls", "-q"]),
                              ("volumes", ["volume", "ls", "-q"])):
            out = subprocess.run(["docker", *command, "--filter", label], capture_output=True, text=True).stdout
            found[kind] = out.split()
        return found

    def url(self, variable, path=""):
        return f"http://127.0.0.1:{self.ports[variable]}{path}"


class Prometheus:
    def __init__(self, base_url):
        self.base_url = base_url

    def _get(self, path, **params):
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params, doseq=True)}"
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:  # a bad query: Prometheus explains it in the body
            body = json.load(error)
        if body.get("status") != "success":
            raise AssertionError(f"Prometheus refused {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr):
        return self._get("/api/v1/query", query=expr)["result"]

    def value(self, expr):
        """The summed value of an instant query, or None without data."""
        result = self.query(expr)
        return sum(float(sample["value"][1]) for sample in result) if result else None

    def query_range(self, expr, start, end, step=1):
        return self._get("/api/v1/query_range", query=expr, start=start, end=end, step=step)["result"]

    def label_values(self, label, match):
        return self._get(f"/api/v1/label/{label}/values", **{"match[]": match})

    def targets_up(self):
        data = self._get("/api/v1/targets")
        return {target["labels"]["job"]: target["health"] for target in data["activeTargets"]}

    def wait_value(self, expr, predicate, timeout, interval=0.5):
        """Poll an instant query until predicate(value) holds; returns (value, seconds waited)."""
        started = time.monotonic()
        value = None
        while time.monotonic() - started < timeout:
            value = self.value(expr)
            if value is not None and predicate(value):
                return value, time.monotonic() - started
            time.sleep(interval)
        raise AssertionError(f"{expr} never satisfied the condition in {timeout}s (last value {value})")


def finite_values(result):
    """Every finite sample value of a query_range result."""
    return [float(v) for series in result for _, v in series["values"] if math.isfinite(float(v))]

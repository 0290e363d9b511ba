"""The docs page's Docker commands per host, run as written in three compose projects on this one engine,
one per host: the test makes its own Docker bridge network in 198.18.0.0/24 (its upper half, so it never
meets the namespace test's hosts), and that network's gateway, an address of this machine, stands in for the
private network all three "hosts" reach: the server and master publish on it, the load project's workers wait
for the control project's master through it, and the control project's Prometheus scrapes the server
"elsewhere" through `server:8000` mapped to it.

Grafana is left out of the control host's list where its image is absent (the page's "without Grafana").
"""
import json
import os
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.multihost.docs_commands import role_commands
from tests.multihost.test_compose_roles import parse_up
from tests.stack.files import compose_defaults
from tests.stack.images import image_present, require_image
from tests.stack.promtool import prometheus_image
from tests.stack.stack import Prometheus
from tests.support import REPO_ROOT, free_port, skip_or_fail

pytestmark = [pytest.mark.docker, pytest.mark.slow]


# The upper half of the test hosts' 198.18.0.0/24; the namespace hosts (tests/multihost/netns.py) count up
# from 198.18.0.10 inside namespaces of their own.
SUBNET, GATEWAY = "198.18.0.128/25", "198.18.0.129"


class SharedNetwork:
    """A Docker bridge network of this run's own, for the address its gateway gives this machine."""

    def __init__(self):
        self.name = f"gil-lab-mh-{uuid.uuid4().hex[:8]}"
        result = subprocess.run(["docker", "network", "create", "--driver", "bridge", "--subnet", SUBNET,
                                 "--gateway", GATEWAY, self.name], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            skip_or_fail(f"no Docker network on {SUBNET} (the three compose 'hosts' need one address they all "
                         f"reach): {result.stderr.strip()}")

    def remove(self):
        subprocess.run(["docker", "network", "rm", self.name], capture_output=True, text=True, timeout=60)

    def left(self):
        return subprocess.run(["docker", "network", "ls", "-q", "--filter", f"name=^{self.name}$"],
                              capture_output=True, text=True).stdout.split()


class Host:
    """One role's compose project, run with the page's command and the test's variables."""

    def __init__(self, role, block, env):
        self.role, self.block = role, block
        self.files, self.services, _ = parse_up(block.command)
        self.env = {**env, "COMPOSE_PROJECT_NAME": f"gil-lab-{role}-{uuid.uuid4().hex[:6]}"}

    def run(self, command, timeout=900, check=True):
        result = subprocess.run(["sh", "-c", command], cwd=REPO_ROOT, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{self.role}: {command} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def compose(self, *args, **kwargs):
        files = " ".join(f"-f {name}" for name in self.files)
        return self.run(f"docker compose {files} {' '.join(args)}", **kwargs)

    def healthy(self, service):
        ids = self.compose("ps", "-q", service).stdout.split()
        states = [subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}}", i], capture_output=True,
                                 text=True).stdout.strip() for i in ids]
        return bool(states) and all(state == "healthy" for state in states)

    def logs(self, service):
        return self.compose("logs", "--no-color", service, check=False).stdout

    def down(self):
        self.compose("down", "-v", "--rmi", "local", "--remove-orphans", check=False, timeout=300)


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(1)


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def test_three_compose_hosts_as_the_page_says(docker_engine, tmp_path):
    require_image(os.environ.get("PYTHON_IMAGE") or compose_defaults()["PYTHON_IMAGE"], "the server and Locust images")
    require_image(prometheus_image(), "the Prometheus service")
    address = GATEWAY
    empty = tmp_path / "empty.env"
    empty.write_text("")
    web_port, prometheus_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "LOCUST_", "SERVER_"))}
    env.update({"COMPOSE_ENV_FILES": str(empty), "COMPOSE_BAKE": "false", "PROMETHEUS_IMAGE": prometheus_image(),
                "LOCUST_WEB_PORT": str(web_port), "PROMETHEUS_PORT": str(prometheus_port),
                "SERVER_BIND": address, "SERVER_ADDRESS": address, "LOCUST_MASTER_BIND": address,
                "LOCUST_MASTER_ADDRESS": address, "LOCUST_WORKERS": "2"})
    blocks = role_commands(kind="compose-host")
    hosts = {role: Host(role, blocks[role], env) for role in ("server", "control", "load")}
    control_command = blocks["control"].command
    if not image_present(os.environ.get("GRAFANA_IMAGE") or compose_defaults()["GRAFANA_IMAGE"]):
        control_command = control_command.replace(" grafana", "")
        hosts["control"].services.remove("grafana")
    network = SharedNetwork()  # removed below whatever happens
    try:
        hosts["server"].run(blocks["server"].command)
        wait(lambda: hosts["server"].healthy("server"), 240, "server healthy")

        # The load host before the control host: its workers wait for their master.
        hosts["load"].run(blocks["load"].command)
        wait(lambda: hosts["load"].logs("locust-worker").count("not reachable") == 2, 120, "both workers waiting")

        hosts["control"].run(control_command)
        wait(lambda: all(hosts["control"].healthy(s) for s in ("locust-master", "prometheus")), 240,
             "master and Prometheus healthy")
        master = f"http://127.0.0.1:{web_port}"
        wait(lambda: get_json(f"{master}/stats/requests").get("worker_count") == 2, 120, "both workers connected")
        logs = hosts["load"].logs("locust-worker")
        assert logs.count("not reachable") == 2 and logs.count("is up after") == 2, logs
        assert "Traceback" not in logs, logs

        # Prometheus on the control host scrapes the server host, and carries no server-ft target.
        prometheus = Prometheus(f"http://127.0.0.1:{prometheus_port}")
        wait(lambda: prometheus.value('up{job="server"}') == 1, 60, "server:8000 scraped")
        assert prometheus.label_values("instance", 'up{job="server"}') == ["server:8000"]

        # Load from the load host's workers, counted on both sides in the control host's Prometheus.
        time.sleep(2)  # a scrape after the last health check before the load
        server_before = prometheus.value('sum(primes_requests_total{kind="cheap"})')
        request = urllib.request.Request(f"{master}/swarm", data=b"user_count=4&spawn_rate=4&host=server:25000")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.load(response)["success"]
        prometheus.wait_value('sum(locust_requests_total{kind="cheap"})', lambda v: v > 500, timeout=60)
        prometheus.wait_value('sum(primes_requests_total{kind="cheap"})', lambda v: v > 500, timeout=60)
        with urllib.request.urlopen(urllib.request.Request(f"{master}/stop", data=b""), timeout=10) as response:
            response.read()
        time.sleep(8)  # the workers' last reports (every 3 s), then a scrape
        server = prometheus.value('sum(primes_requests_total{kind="cheap"})') - server_before
        locust = prometheus.value('sum(locust_requests_total{kind="cheap"})')
        # The server also answers its health check's "1" every 5 s; a stop may leave a request per user.
        assert 0 <= server - locust <= 4 + 10, (server, locust)
    finally:
        try:
            for host in hosts.values():
                host.down()
        finally:
            network.remove()
    assert not network.left(), f"network {network.name} left"
    for host in hosts.values():
        label = f"label=com.docker.compose.project={host.env['COMPOSE_PROJECT_NAME']}"
        left = subprocess.run(["docker", "ps", "-aq", "--filter", label], capture_output=True, text=True).stdout
        assert not left.split(), f"{host.role}: containers left"
        volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter", label], capture_output=True,
                                 text=True).stdout
        assert not volumes.split(), f"{host.role}: volumes left"

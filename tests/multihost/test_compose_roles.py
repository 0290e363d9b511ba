"""The docs page's Docker commands per host, resolved by `docker compose config` as each host would run them:
the right services, published on the named addresses only (127.0.0.1 when none is named), the other hosts'
names mapped to their addresses, and a clear error when a needed address is missing."""
import json
import os
import shlex
import subprocess

import pytest

from server import config as server_config
from tests.multihost.docs_commands import role_commands
from tests.support import REPO_ROOT

pytestmark = pytest.mark.docker

VALUES = {"SERVER_BIND": "198.18.0.10", "SERVER_ADDRESS": "198.18.0.10", "LOCUST_MASTER_BIND": "198.18.0.11",
          "LOCUST_MASTER_ADDRESS": "198.18.0.11", "LOCUST_WORKERS": "3"}
MASTER_PORT = 5557  # Locust's --master-bind-port default


def parse_up(command):
    """(compose files, services) of `docker compose [-f FILE ...] up [options] SERVICE ...`."""
    words = shlex.split(command)
    assert words[:2] == ["docker", "compose"], command
    files, rest = [], words[2:]
    while rest[0] == "-f":
        files.append(rest[1])
        rest = rest[2:]
    assert rest[0] == "up" and "-d" in rest, command
    return files or ["compose.yaml"], [word for word in rest[1:] if not word.startswith("-")], rest


def resolve(files, env_file, **variables):
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **variables}
    args = [arg for name in files for arg in ("-f", name)]
    return subprocess.run(["docker", "compose", "--env-file", env_file, *args, "config", "--format", "json"],
                          capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60)


@pytest.fixture(scope="module")
def env_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("roles-env") / "empty.env"
    path.write_text("")
    return str(path)


@pytest.fixture(scope="module")
def roles(docker_engine, env_file):
    """{role: (services, resolved model, options, the block)} with the test's addresses for the page's."""
    found = {}
    for role, block in role_commands(kind="compose-host").items():
        files, services, options = parse_up(block.command)
        result = resolve(files, env_file, **{name: VALUES[name] for name in block.variables})
        assert result.returncode == 0, result.stderr
        found[role] = (services, json.loads(result.stdout), options, block)
    assert set(found) == {"server", "control", "load"}
    return found


def published(service):
    return {port["target"]: port.get("host_ip") for port in service.get("ports", [])}


def test_server_host_publishes_both_server_ports_on_its_named_address_only(roles):
    services, model, _, _ = roles["server"]
    assert services == ["server"]
    assert published(model["services"]["server"]) == {server_config.DEFAULT_PORT: VALUES["SERVER_BIND"],
                                                      server_config.DEFAULT_METRICS_PORT: VALUES["SERVER_BIND"]}


def test_control_host_runs_master_prometheus_grafana_and_opens_only_the_master_port(roles):
    services, model, options, _ = roles["control"]
    assert set(services) == {"locust-master", "prometheus", "grafana"} and "--no-deps" in options
    resolved = model["services"]
    assert published(resolved["locust-master"]) == {8089: "127.0.0.1", MASTER_PORT: VALUES["LOCUST_MASTER_BIND"]}
    for name in ("prometheus", "grafana"):
        assert set(published(resolved[name]).values()) == {"127.0.0.1"}, name
    # Prometheus's static server:8000 target is the server host.
    assert resolved["prometheus"]["extra_hosts"] == [f"server={VALUES['SERVER_ADDRESS']}"]


def test_load_host_runs_waiting_workers_that_open_nothing(roles):
    services, model, options, _ = roles["load"]
    assert services == ["locust-worker"] and "--no-deps" in options
    worker = model["services"]["locust-worker"]
    assert worker["entrypoint"] == ["python", "-m", "loadgen.worker"]
    assert "--master-host=locust-master" in worker["command"]
    assert sorted(worker["extra_hosts"]) == sorted([f"locust-master={VALUES['LOCUST_MASTER_ADDRESS']}",
                                                     f"server={VALUES['SERVER_ADDRESS']}"])
    assert not worker.get("ports")
    assert worker["deploy"]["replicas"] == int(VALUES["LOCUST_WORKERS"])


def test_nothing_beyond_loopback_unless_an_address_is_named(env_file):
    result = resolve(["compose.yaml", "hosts/control.yaml"], env_file, SERVER_ADDRESS=VALUES["SERVER_ADDRESS"])
    assert result.returncode == 0, result.stderr
    for name, service in json.loads(result.stdout)["services"].items():
        assert set(published(service).values()) <= {"127.0.0.1"}, name


@pytest.mark.parametrize("files, given, missing", [
    (["compose.yaml", "hosts/control.yaml"], {}, "SERVER_ADDRESS"),
    (["compose.yaml", "hosts/load.yaml"], {"SERVER_ADDRESS": "198.18.0.10"}, "LOCUST_MASTER_ADDRESS"),
    (["compose.yaml", "hosts/load.yaml"], {"LOCUST_MASTER_ADDRESS": "198.18.0.11"}, "SERVER_ADDRESS"),
])
def test_a_missing_address_is_named(env_file, files, given, missing):
    result = resolve(files, env_file, **given)
    assert result.returncode != 0
    assert f"required variable {missing} is missing a value" in result.stderr, result.stderr

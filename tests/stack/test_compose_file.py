"""compose.yaml as `docker compose config` resolves it: valid, secure by default, one place for defaults.
Checks published ports, read-only config, no Docker socket, healthchecks, and .env.example's agreement.
"""
import json
import os
import subprocess

import pytest

from server import config as server_config
from tests.stack.files import (COMPOSE_FILE, ENV_EXAMPLE, STACK_PAGE, WITHOUT_GRAFANA, WITHOUT_GRAFANA_COMMAND,
                               compose_defaults, env_example, load_yaml)
from tests.support import REPO_ROOT

SERVICES = {"server", "locust-master", "locust-worker", "prometheus", "grafana"}
# The variables compose passes to the server as PRIMES_*; their defaults are the server's own.
SERVER_VARIABLES = {"SERVER_MODEL": "model", "SERVER_WORKERS": "workers", "SERVER_SWITCH_INTERVAL": "switch_interval",
                    "SERVER_ALGORITHM": "algorithm", "SERVER_MAX_CONNECTIONS": "max_connections"}


def compose_config(env_file, extra_env=None):
    """The resolved model, seeing only compose.yaml's defaults plus `extra_env` (none of the caller's)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **(extra_env or {})}
    result = subprocess.run(["docker", "compose", "--env-file", env_file, "-f", COMPOSE_FILE, "config",
                             "--format", "json"], capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def resolved(docker_engine, empty_env_file):
    return compose_config(empty_env_file)


def test_compose_config_is_valid_with_no_env_file(resolved):
    assert set(resolved["services"]) == SERVICES
    assert set(resolved["volumes"]) == {"prometheus-data", "grafana-data"}


def test_every_published_port_is_on_loopback_and_control_stays_private(resolved):
    for name, service in resolved["services"].items():
        for port in service.get("ports", []):
            assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond 127.0.0.1"
    server_targets = {port["target"] for port in resolved["services"]["server"]["ports"]}
    assert server_targets == {server_config.DEFAULT_PORT, server_config.DEFAULT_METRICS_PORT}
    assert server_config.DEFAULT_CONTROL_PORT not in server_targets


def test_no_docker_socket_config_read_only_named_volumes(resolved):
    for name, service in resolved["services"].items():
        for volume in service.get("volumes", []):
            assert "docker.sock" not in volume.get("source", ""), f"{name} mounts the Docker socket"
            if volume["type"] == "bind":
                assert volume.get("read_only") is True, f"{name} mounts {volume['source']} writable"
            else:
                assert volume["type"] == "volume" and volume["source"] in resolved["volumes"]
        assert "privileged" not in service or service["privileged"] is False
        assert service.get("cap_drop") == ["ALL"]
        assert "no-new-privileges:true" in service.get("security_opt", [])
        assert "container_name" not in service, f"{name} has a container_name (breaks scaling and projects)"
        assert "user" not in service or service["user"] not in ("0", "root")


def test_every_service_has_a_healthcheck_and_start_order(resolved):
    services = resolved["services"]
    for name, service in services.items():
        assert "healthcheck" in service and not service["healthcheck"].get("disable"), name
    # The server's check command is its image's HEALTHCHECK; the others state theirs.
    for name in SERVICES - {"server"}:
        assert services[name]["healthcheck"]["test"], name
    # ...so the server image must have one (compose inherits it, and depends_on waits on it).
    with open(os.path.join(REPO_ROOT, "server", "Dockerfile")) as f:
        assert any(line.startswith("HEALTHCHECK") and "CMD" in line for line in f), "server/Dockerfile has no HEALTHCHECK"
    assert services["locust-master"]["depends_on"]["server"]["condition"] == "service_healthy"
    assert services["locust-worker"]["depends_on"]["locust-master"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_images_are_pinned_and_overridable(resolved, empty_env_file):
    defaults = compose_defaults()
    for name in ("PROMETHEUS_IMAGE", "GRAFANA_IMAGE", "PYTHON_IMAGE", "DEBIAN_IMAGE"):
        assert ":" in defaults[name] and not defaults[name].endswith(":latest"), f"{name} is not pinned"
    assert resolved["services"]["prometheus"]["image"] == defaults["PROMETHEUS_IMAGE"]
    assert resolved["services"]["grafana"]["image"] == defaults["GRAFANA_IMAGE"]
    overridden = compose_config(empty_env_file, {"PROMETHEUS_IMAGE": "example/prom:1", "GRAFANA_IMAGE": "",
                                                 "PYTHON_IMAGE": "example/python:3", "SERVER_CPUS": "0.5",
                                                 "LOCUST_WORKERS": "3"})
    services = overridden["services"]
    assert services["prometheus"]["image"] == "example/prom:1"
    assert services["grafana"]["image"] == defaults["GRAFANA_IMAGE"]  # empty (as CI exports it) = the default
    for name in ("server", "locust-master"):
        assert services[name]["build"]["args"]["PYTHON_IMAGE"] == "example/python:3"
    assert services["server"]["cpus"] == 0.5
    assert services["locust-worker"]["deploy"]["replicas"] == 3


def test_the_server_is_pinned_to_cpu_0_without_a_quota_and_locust_keeps_off_it(resolved, empty_env_file):
    """The defaults that reproduce the lesson on any host (docs/cpu-placement.md has the measurements)."""
    services = resolved["services"]
    assert services["server"]["cpuset"] == "0" and "cpus" not in services["server"]
    for name in ("locust-master", "locust-worker"):
        assert services[name]["cpuset"] == "1", name
    quota = compose_config(empty_env_file, {"SERVER_CPUSET": "0-1", "SERVER_CPUS": "1", "LOCUST_CPUSET": "0-1"})
    server = quota["services"]["server"]
    assert (server["cpuset"], server["cpus"]) == ("0-1", 1.0)
    assert quota["services"]["locust-worker"]["cpuset"] == "0-1"


def test_the_locust_target_and_prometheus_targets_are_the_servers_ports():
    """Ports a build context or config file must repeat: each copy equals the one definition."""
    compose = load_yaml(COMPOSE_FILE)
    assert f"--host=server:{server_config.DEFAULT_PORT}" in compose["services"]["locust-master"]["command"]
    prometheus = load_yaml(os.path.join(REPO_ROOT, "prometheus", "prometheus.yml"))
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets["server"] == [f"server:{server_config.DEFAULT_METRICS_PORT}"]
    # The free-threaded twin only while its profile runs: found by DNS, named like a static target.
    (twin,) = jobs["server"]["dns_sd_configs"]
    assert twin["names"] == ["server-ft"] and twin["port"] == server_config.DEFAULT_METRICS_PORT
    (relabel,) = jobs["server"]["relabel_configs"]
    assert relabel["replacement"] == f"${{1}}:{server_config.DEFAULT_METRICS_PORT}"
    assert compose["services"]["server-ft"]["profiles"] == ["free-threaded"]
    assert targets["locust"] == ["locust-master:8089"]


def test_env_example_documents_every_variable_with_the_same_default():
    """No drift: a variable in compose.yaml is in .env.example with the default that compose (or the server) uses."""
    defaults = compose_defaults()
    documented = env_example()
    assert set(documented) == set(defaults), "compose.yaml and .env.example name different variables"
    server_defaults = server_config.Config()
    for name, default in defaults.items():
        if name in SERVER_VARIABLES:
            assert default == "", f"{name}: compose must leave the default to server/config.py"
            assert documented[name] == str(getattr(server_defaults, SERVER_VARIABLES[name])), name
        else:
            assert documented[name] == default, f"{name}: .env.example says {documented[name]!r}, compose {default!r}"


def test_env_example_as_env_file_gives_the_same_stack(resolved):
    with_example = compose_config(ENV_EXAMPLE)
    for name in ("server", "locust-master", "locust-worker", "prometheus", "grafana"):
        a, b = dict(resolved["services"][name]), dict(with_example["services"][name])
        a_env, b_env = a.pop("environment", {}) or {}, b.pop("environment", {}) or {}
        assert a == b, name
        for key in set(a_env) | set(b_env):  # an empty PRIMES_* (server default) vs the default spelled out
            assert a_env.get(key) in ("", None, b_env.get(key)), (name, key)


def test_grafana_is_anonymous_viewer_without_a_default_admin_password(resolved):
    env = resolved["services"]["grafana"]["environment"]
    assert env["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert env["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert env.get("GRAFANA_ADMIN_PASSWORD") == ""
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env  # set by grafana/start.sh, never a committed value
    assert env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"] == "/etc/grafana/dashboards/gil-lab.json"


def test_one_locust_image_for_master_and_workers(resolved):
    """locust-master builds the load generator's image under a name; the workers run that image, unbuilt."""
    master, worker = resolved["services"]["locust-master"], resolved["services"]["locust-worker"]
    assert master["image"] == worker["image"] == f"gil-lab/loadgen:{resolved['name']}"
    assert master["build"]["context"] == os.path.join(REPO_ROOT, "loadgen")
    assert "build" not in worker and "locust-master" in worker["depends_on"]


def test_a_load_host_builds_the_workers_image_itself(docker_engine, empty_env_file):
    """hosts/load.yaml runs workers without a master on that host: there the workers build the same image."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "SERVER_ADDRESS": "198.18.0.10",
           "LOCUST_MASTER_ADDRESS": "198.18.0.11"}
    result = subprocess.run(["docker", "compose", "--env-file", empty_env_file, "-f", COMPOSE_FILE, "-f",
                             os.path.join(REPO_ROOT, "hosts", "load.yaml"), "config", "--format", "json"],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=env)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    worker = resolved["services"]["locust-worker"]
    master = compose_config(empty_env_file)["services"]["locust-master"]
    assert worker["image"] == f"gil-lab/loadgen:{resolved['name']}" and worker["build"] == master["build"]


def test_every_service_restarts_unless_stopped(resolved):
    for name, service in resolved["services"].items():
        assert service.get("restart") == "unless-stopped", name


def test_the_documented_stack_without_grafana_is_every_other_service(resolved):
    """docs/stack.md's command for a host without a Grafana image starts everything else (the end-to-end test runs it)."""
    assert set(WITHOUT_GRAFANA) == {name for name, service in resolved["services"].items()
                                    if name != "grafana" and not service.get("profiles")}
    with open(STACK_PAGE) as f:
        assert WITHOUT_GRAFANA_COMMAND in f.read()

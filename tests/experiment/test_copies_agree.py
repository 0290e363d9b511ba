"""Names the experiment runner keeps its own copy of (loadgen is its own build context) must match their source:
the server's models and algorithms, and compose.yaml's services, ports and variables.
"""
import yaml

from runner import compose, spec
from server import config
from tests.support import REPO_ROOT


def test_models_and_algorithms_match_the_server():
    assert spec.MODELS == config.MODELS
    assert spec.ALGORITHMS == config.ALGORITHMS


def test_compose_names_match_compose_yaml():
    with open(f"{REPO_ROOT}/compose.yaml") as f:
        stack = yaml.safe_load(f)
    services = stack["services"]
    assert set(compose.SERVICES) <= set(services)
    text = open(f"{REPO_ROOT}/compose.yaml").read()
    for variable in compose.SERVER_ENV.values():
        assert "${" + variable in text, variable
    assert any(str(p).endswith(":" + compose.METRICS_PORT.split("/")[0]) for p in services["server"]["ports"])
    assert any(str(p).endswith(":" + compose.WEB_PORT.split("/")[0]) for p in services["locust-master"]["ports"])
    host, port = compose.SERVER_PORT_IN_STACK.split(":")
    assert host == "server" and int(port) == config.DEFAULT_PORT


def test_free_threaded_names_match_compose_yaml():
    with open(f"{REPO_ROOT}/compose.yaml") as f:
        services = yaml.safe_load(f)["services"]
    twin = services[compose.FT_SERVICE]
    assert compose.FT_PROFILE in twin["profiles"]
    assert twin["build"]["args"]["PYTHON_BUILD"] == spec.FREE_THREADED
    host, port = compose.FT_PORT_IN_STACK.split(":")
    assert host == compose.FT_SERVICE and int(port) == config.DEFAULT_PORT
    text = open(f"{REPO_ROOT}/compose.yaml").read()
    for variables in compose.PORT_VARIABLES.values():
        for variable in variables:
            assert "${" + variable in text, variable

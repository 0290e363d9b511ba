"""Fixtures of the stack tests: a real promtool (host binary or PROMETHEUS_IMAGE's), and an empty env file
so `docker compose` sees compose.yaml's own defaults, never a developer's .env.
"""
import pytest

from tests.stack.images import require_image
from tests.stack.promtool import Promtool, prometheus_image


@pytest.fixture(scope="session")
def promtool(request):
    tool = Promtool(prometheus_image())
    if not tool.host:
        request.getfixturevalue("docker_engine")
        require_image(tool.image, "promtool runs in the Prometheus image")
    return tool


@pytest.fixture(scope="session")
def empty_env_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("stack-env") / "empty.env"
    path.write_text("")
    return str(path)

# Fixtures of the stack tests: a real promtool (host binary or PROMETHEUS_IMAGE's), and an empty env file
# so `docker compose` sees compose.yaml's own defaults, never a developer's .env.
import os

import pytest

from tests.stack.promtool import Promtool, image_present, prometheus_image


def require_image(image, why):
    """Skip (or, under CI=true, fail) when a base image is not in the local engine: we never pull."""
    if not image_present(image):
        reason = f"{why}: image {image} is not in the local Docker engine (no registry is reachable; " \
                 f"run ../shared/docker/setup and export its variables)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


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

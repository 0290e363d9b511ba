"""Fixtures of the free-threaded area: both server images built once per session, one container per build.
Every container is removed at the end, its log tail printed for a failing run's post-mortem.
"""
import pytest

from tests.freethreaded.images import PYTHON_BUILDS, Container, build

IMAGE_REPOSITORY = "gil-lab/server-ft-test"


@pytest.fixture(scope="session")
def images(docker_engine):
    """{python_build: tag}: the server image built with each PYTHON_BUILD (layer cache makes reruns fast)."""
    tags = {}
    for python_build in PYTHON_BUILDS:
        tags[python_build] = f"{IMAGE_REPOSITORY}:{python_build}"
        seconds, size = build(python_build, tags[python_build])
        print(f"{python_build} image: docker build took {seconds:.0f}s, image {size / 1e6:.0f} MB")
    return tags


@pytest.fixture(scope="module", params=PYTHON_BUILDS)
def server(request, images):
    """A running container of each build (no CPU limit: both cores), ready to answer."""
    container = Container(images[request.param], env=["PRIMES_MAX_CONNECTIONS=512"])
    try:
        container.wait_ready()
        container.python_build = request.param
        yield container
    finally:
        print(container.remove()[-1500:])

"""The load generator's Docker image in the real engine: builds from loadgen/ alone, runs non-root with the pinned
Locust, drives the real server as a headless run, and as a master its HEALTHCHECK turns healthy.
"""
import json
import os
import re
import uuid

import pytest

from tests.support import REPO_ROOT, build_image, docker, run_server, wait_until

pytestmark = pytest.mark.docker
IMAGE = "gil-lab/loadgen:test"


@pytest.fixture(scope="module")
def image(docker_engine):
    return build_image("loadgen", IMAGE)


def test_image_is_non_root_with_the_pinned_locust(image):
    pinned = re.search(r"^locust==(\S+)$", open(os.path.join(REPO_ROOT, "loadgen", "requirements.txt")).read(), re.M)
    result = docker("run", "--rm", "--entrypoint", "sh", image, "-c", "id -u && locust --version")
    uid, version = result.stdout.splitlines()[:2]
    assert uid != "0"
    assert f"locust {pinned.group(1)} " in version


def test_headless_run_from_the_image(image, tmp_path):
    # Host networking so the container reaches the real server on this machine's loopback (nothing else).
    with run_server("--no-monitor") as server:
        result = docker("run", "--rm", "--network", "host", image, "--locustfile", "loadgen/locustfile.py",
                        "--headless", "-u", "1", "-r", "1", "-t", "3s", "--host", f"127.0.0.1:{server.port}",
                        "--only-summary", timeout=120)
        served = server.metric("primes_requests_total", kind="cheap")
    assert "Traceback" not in result.stderr
    assert re.search(r"TCP\s+cheap\s+\d+\s+0\(0\.00%\)", result.stdout + result.stderr), result.stderr[-2000:]
    assert served > 100


def test_master_turns_healthy_and_serves_metrics(image):
    import urllib.request
    name = f"gil-lab-test-locust-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "-p", "127.0.0.1::8089", image, "--locustfile", "loadgen/locustfile.py",
           "--master")
    try:
        ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", name).stdout)
        port = int(ports["8089/tcp"][0]["HostPort"])
        status = lambda: docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()  # noqa: E731
        assert wait_until(lambda: status() in ("healthy", "unhealthy") and status(), timeout=90) == "healthy"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert "# TYPE locust_requests_total counter" in text and "locust_response_time_seconds" in text
    finally:
        docker("rm", "-f", name, check=False)

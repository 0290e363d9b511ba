"""The server's Docker image in the real engine: builds from server/ alone, runs non-root, answers on its
published 127.0.0.1 port, reports its cgroup CPU limit (and follows `docker update`), and stops fast.
"""
import json
import time
import uuid

import pytest

from tests.support import answers, ask, build_image, docker, parse_exposition, wait_until

pytestmark = pytest.mark.docker
IMAGE = "gil-lab/server:test"


@pytest.fixture(scope="module")
def image(docker_engine):
    return build_image("server", IMAGE)


@pytest.fixture
def container(image):
    name = f"gil-lab-test-server-{uuid.uuid4().hex[:8]}"
    docker("run", "-d", "--name", name, "--cpus", "0.5", "-p", "127.0.0.1::25000", "-p", "127.0.0.1::8000", image)
    try:
        ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", name).stdout)
        yield name, int(ports["25000/tcp"][0]["HostPort"]), int(ports["8000/tcp"][0]["HostPort"])
    finally:
        logs = docker("logs", name, check=False).stdout
        docker("rm", "-f", name, check=False)
        print(logs[-3000:])


def scrape(port):
    import urllib.request
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return parse_exposition(response.read().decode())


def metric(port, name):
    return sum(v for (n, _), v in scrape(port).items() if n == name)


def test_container_serves_the_protocol_and_metrics(container):
    import socket
    name, port, metrics_port = container
    wait_until(lambda: answers(port), timeout=60)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert ask(sock, b"1") == b"2"  # the seed's bare framing
        assert ask(sock, b"10\n100\n") in (b"29\n541\n", b"29\n")
    wait_until(lambda: metric(metrics_port, "primes_requests_total") >= 2, timeout=10)
    assert docker("exec", name, "id", "-u").stdout.strip() != "0"  # not root
    health = lambda: docker("inspect", "-f", "{{.State.Health.Status}}", name).stdout.strip()  # noqa: E731
    wait_until(lambda: health() == "healthy", timeout=90, interval=1)


def test_cpu_limit_follows_docker_update_and_stop_is_fast(container):
    name, port, metrics_port = container
    wait_until(lambda: answers(port), timeout=60)
    assert metric(metrics_port, "primes_cpu_limit_cores") == 0.5
    docker("update", "--cpus", "1.5", name)
    assert metric(metrics_port, "primes_cpu_limit_cores") == 1.5  # read on every scrape
    assert "primes_cpu_throttled_seconds_total" in {n for n, _ in scrape(metrics_port)}
    changed = docker("exec", name, "python", "-m", "server.control", "switch-interval", "0.001").stdout
    assert changed.strip() == "0.001"
    assert metric(metrics_port, "primes_switch_interval_seconds") == 0.001
    started = time.monotonic()
    docker("stop", name)
    took = time.monotonic() - started
    print(f"docker stop took {took:.2f}s")
    assert took < 8  # never the 10 s kill
    assert docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip() == "0"


"""The server image in both builds (gil, free-threaded) and throwaway containers of it, for tests and benchmark.
Containers publish only on 127.0.0.1, have unique names, and are always removed by their owner.
"""
import json
import time
import urllib.request
import uuid

from server.config import DEFAULT_METRICS_PORT as METRICS_PORT, DEFAULT_PORT as SERVER_PORT
from tests.support import answers, build_image, docker, parse_exposition, wait_until

PYTHON_BUILDS = ("gil", "free-threaded")  # server/Dockerfile's PYTHON_BUILD values


def build(python_build, tag):
    """Build server/ with PYTHON_BUILD=python_build; returns (seconds, bytes)."""
    started = time.monotonic()
    build_image("server", tag, PYTHON_BUILD=python_build)
    seconds = time.monotonic() - started
    return seconds, int(docker("image", "inspect", "-f", "{{.Size}}", tag).stdout)


class Container:
    """`docker run -d` of an image with its ports published on random 127.0.0.1 ports."""

    def __init__(self, image, *docker_args, env=(), label="ft"):
        self.name = f"gil-lab-test-{label}-{uuid.uuid4().hex[:8]}"
        env_args = [arg for pair in env for arg in ("-e", pair)]
        docker("run", "-d", "--name", self.name, *env_args, "-p", f"127.0.0.1::{SERVER_PORT}",
               "-p", f"127.0.0.1::{METRICS_PORT}", *docker_args, image)
        try:
            ports = json.loads(docker("inspect", "-f", "{{json .NetworkSettings.Ports}}", self.name).stdout)
            self.port = int(ports[f"{SERVER_PORT}/tcp"][0]["HostPort"])
            self.metrics_port = int(ports[f"{METRICS_PORT}/tcp"][0]["HostPort"])
        except Exception:
            self.remove()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()

    def state(self, field):
        return docker("inspect", "-f", "{{" + field + "}}", self.name).stdout.strip()

    def scrape(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as response:
            return parse_exposition(response.read().decode())

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels` (0.0 if none)."""
        wanted = frozenset(labels.items())
        return sum(v for (n, found), v in self.scrape().items() if n == name and wanted <= found)

    def wait_ready(self, timeout=60):
        def ready():
            if self.state(".State.Status") == "exited":
                raise AssertionError(f"container exited:\n{self.logs()[-2000:]}")
            try:
                return bool(self.scrape()) and answers(self.port)
            except OSError:
                return False
        wait_until(ready, timeout=timeout, interval=0.2)
        return self

    def logs(self):
        result = docker("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self):
        logs = self.logs()
        docker("rm", "-f", self.name, check=False)
        return logs

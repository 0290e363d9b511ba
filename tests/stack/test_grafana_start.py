"""grafana/start.sh, Grafana's entrypoint in the stack, run for real in a Debian container as a non-root user,
with a stand-in /run.sh that reports what Grafana would receive (no Grafana image can be had here).
"""
import os
import subprocess

import pytest

from tests.stack.images import require_image
from tests.stack.files import GRAFANA_START

pytestmark = pytest.mark.docker
GRAFANA_UID = "472"  # the official image's grafana user
FAKE_RUN = """#!/bin/sh
echo "password=${GF_SECURITY_ADMIN_PASSWORD}"
echo "leaked=${GRAFANA_ADMIN_PASSWORD:-none}"
echo "args=$*"
"""


@pytest.fixture(scope="module")
def debian_image(docker_engine):
    image = os.environ.get("DEBIAN_IMAGE") or "debian:trixie-slim"
    require_image(image, "grafana/start.sh runs in a Debian container")
    return image


@pytest.fixture
def run_start(debian_image, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)  # the container's non-root user writes here, like Grafana's data volume
    fake = tmp_path / "run.sh"
    fake.write_text(FAKE_RUN)
    fake.chmod(0o755)

    def run(*args, password=None):
        env = ["-e", f"GRAFANA_ADMIN_PASSWORD={password}"] if password is not None else []
        result = subprocess.run(
            ["docker", "run", "--rm", "--pull", "never", "--network", "none", "--user", f"{GRAFANA_UID}:0",
             "-v", f"{GRAFANA_START}:/etc/grafana/gil-lab/start.sh:ro", "-v", f"{fake}:/run.sh:ro",
             "-v", f"{data}:/var/lib/grafana", "-e", "GF_PATHS_DATA=/var/lib/grafana", *env,
             "--entrypoint", "/bin/sh", debian_image, "/etc/grafana/gil-lab/start.sh", *args],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line), data
    return run


def test_without_a_password_a_random_one_is_made_once_and_kept(run_start):
    first, data = run_start("--homepath", "/usr/share/grafana")
    password = first["password"]
    assert len(password) == 24 and password.isalnum() and password != "admin"
    assert first["args"] == "--homepath /usr/share/grafana"  # arguments reach Grafana's own /run.sh
    stored = data / "admin-password"
    assert stored.read_text() == password
    assert oct(stored.stat().st_mode & 0o777) == "0o600"
    second, _ = run_start()
    assert second["password"] == password  # the same stack keeps its password across restarts


def test_a_given_password_wins_and_is_not_left_in_the_environment(run_start):
    given, data = run_start(password="s3cret-from-env")
    assert given["password"] == "s3cret-from-env"
    assert given["leaked"] == "none"
    assert not (data / "admin-password").exists()

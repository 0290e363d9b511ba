"""Test-session settings shared by every area: artifacts folder and the Docker requirement rule.
Docker tests skip with a reason where no engine is reachable, but under CI=true a missing engine fails.
"""
import os
import shutil
import subprocess

import pytest

from tests.support import REPO_ROOT

ARTIFACTS = os.path.join(REPO_ROOT, "test-artifacts")


def docker_available():
    if shutil.which("docker") is None:
        return False, "no docker command"
    result = subprocess.run(["docker", "info"], capture_output=True, text=True)
    if result.returncode != 0:
        return False, "no Docker engine reachable (docker info failed)"
    return True, ""


@pytest.fixture(scope="session")
def docker_engine():
    """Require a Docker engine: skip without one, fail under CI=true."""
    ok, reason = docker_available()
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs a Docker engine: {reason}")
        pytest.skip(reason)
    return True


@pytest.fixture(scope="session")
def artifacts_dir():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS


def pytest_collection_finish(session):
    # Importing Locust monkey-patches this process with gevent (threads become greenlets, ssl breaks if it was
    # imported first): tests drive Locust in subprocesses only. Fail loudly instead of failing strangely.
    import sys
    if "locust" in sys.modules:
        raise pytest.UsageError("a test module imported locust into the pytest process; run Locust code in a "
                                "subprocess (see tests/loadgen/test_scenario_shape.py)")

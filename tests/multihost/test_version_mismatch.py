"""A worker on another Locust version than its master: one clear error on both sides, the worker exits with
status 2, the master keeps running. The other version is the real package from the registry, installed into
a folder of its own that shadows ours on the worker's PYTHONPATH (its dependencies are ours)."""
import os
import subprocess
import sys

import pytest

from tests.loadgen.conftest import locust_env, start_web_locust, stop_process
from tests.support import REPO_ROOT, free_port, skip_or_fail, wait_until

pytestmark = pytest.mark.slow

OTHER_LOCUST = "2.46.0"  # any release but the one the lab pins


def pinned_locust():
    with open(os.path.join(REPO_ROOT, "loadgen", "requirements.txt")) as f:
        (version,) = [line.split("==")[1].strip() for line in f if line.startswith("locust==")]
    return version


@pytest.fixture(scope="session")
def other_locust(tmp_path_factory):
    target = tmp_path_factory.mktemp("locust-other")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                             f"locust=={OTHER_LOCUST}"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        skip_or_fail(f"cannot install locust=={OTHER_LOCUST} from the package registry: {result.stderr.strip()[-500:]}")
    return str(target)


def test_a_worker_on_another_locust_version_is_refused_with_a_clear_error(other_locust, tmp_path):
    ours = pinned_locust()
    assert ours != OTHER_LOCUST
    master_port = free_port()
    master = start_web_locust("--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", master_port,
                              cwd=str(tmp_path), log_name="master.log")
    worker_log = tmp_path / "worker.log"
    env = locust_env()
    env["PYTHONPATH"] = other_locust
    try:
        with open(worker_log, "w") as log:
            worker = subprocess.Popen([sys.executable, "-m", "loadgen.worker", "-f", "loadgen/locustfile.py",
                                       "--master-host", "127.0.0.1", "--master-port", str(master_port)],
                                      cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            status = worker.wait(timeout=60)
        finally:
            stop_process(worker)
        text = worker_log.read_text()
        assert f"Starting Locust {OTHER_LOCUST}" in text, text
        expected = f"this master runs Locust {ours}, the worker runs {OTHER_LOCUST}"
        assert status == 2, text
        assert f"the master refused this worker: Locust version mismatch: {expected}" in text, text
        assert "Traceback" not in text, text
        # The master said it once, and goes on without that worker.
        assert master.log().count(expected) == 1, master.log()
        assert master.proc.poll() is None
        wait_until(lambda: master.get_json("/stats/requests").get("worker_count") == 0, timeout=20)
    finally:
        stop_process(master.proc)
    assert "Traceback" not in master.log(), master.log()

"""`python -m loadgen.worker` without a master: it retries with a growing pause, says so once, and with
--master-wait gives up on time with one line and status 1; a bad value of its own flags is a usage error."""
import subprocess
import sys
import time

from tests.loadgen.conftest import locust_env
from tests.support import REPO_ROOT, free_port


def run_worker(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "loadgen.worker", "-f", "loadgen/locustfile.py", *map(str, args)],
                          cwd=REPO_ROOT, env=locust_env(), capture_output=True, text=True, timeout=timeout)


def test_no_master_one_line_then_gives_up_on_time():
    port = free_port()  # nothing listens there
    started = time.monotonic()
    done = run_worker("--master-host", "127.0.0.1", "--master-port", port, "--master-wait", 3)
    took = time.monotonic() - started
    text = done.stdout + done.stderr
    assert done.returncode == 1, text
    assert 2 < took < 20, took
    lines = text.splitlines()
    assert len(lines) == 2, text  # the state (refused), then giving up: not a line per probe
    assert f"Locust master at 127.0.0.1:{port} not reachable: connection refused" in lines[0]
    assert "gave up after" in lines[1] and "Traceback" not in text


def test_unresolvable_master_is_named():
    done = run_worker("--master-host", "no-such-host.invalid", "--master-wait", 1)
    assert done.returncode == 1 and "cannot resolve 'no-such-host.invalid'" in done.stderr, done.stderr


def test_bad_wrapper_flags_are_usage_errors():
    for args in (("--master-wait", "-1"), ("--master-retry-max", "0"), ("--master-port", "99999")):
        done = run_worker(*args)
        assert done.returncode == 2 and "usage:" in done.stderr and "Traceback" not in done.stderr, done.stderr

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


def test_the_pause_doubles_up_to_its_bound_and_each_change_is_one_line(caplog):
    from loadgen.worker import wait_for_master
    answers = iter(["connection refused"] * 7 + ["no answer (timed out)"] * 2 + [None])
    now, pauses = [0.0], []

    def sleep(seconds):
        pauses.append(seconds)
        now[0] += seconds

    with caplog.at_level("INFO", logger="loadgen.worker"):
        assert wait_for_master(("198.18.0.6", 5557), 0, 4, probe=lambda *_, **__: next(answers), sleep=sleep,
                               clock=lambda: now[0])
    assert pauses == [0.25, 0.5, 1, 2, 4, 4, 4, 4, 4]
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3, messages  # refused, timed out, up
    assert "connection refused" in messages[0] and "timed out" in messages[1] and "is up after 24 s" in messages[2]

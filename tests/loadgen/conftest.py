"""Helpers for the load-side tests: run the real Locust (as docs/loadgen.md does) against the real server on loopback.
Every run is bounded: -t on the Locust side and a subprocess timeout on ours.
"""
import csv
import os
import subprocess
import sys
import urllib.request

import pytest

from tests.support import REPO_ROOT, parse_exposition

LOCUSTFILE = os.path.join(REPO_ROOT, "loadgen", "locustfile.py")


def locust_command(*args):
    return [sys.executable, "-m", "locust", "-f", LOCUSTFILE, *map(str, args)]


def run_locust(*args, cwd, timeout=90):
    """Run Locust to completion; returns the CompletedProcess (stdout and stderr as text)."""
    return subprocess.run(locust_command(*args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=locust_env())


def start_locust(*args, cwd, log_name):
    """Start Locust in the background, its output in cwd/log_name; the caller stops it."""
    log = open(os.path.join(cwd, log_name), "w")
    return subprocess.Popen(locust_command(*args), cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env=locust_env())


def locust_env():
    # Our own LOCUST_* variables from the caller's shell must not leak into a test's configuration.
    return {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}


def read_stats(prefix):
    """{name: row} from Locust's <prefix>_stats.csv (rewritten every second: may miss the run's last second)."""
    with open(f"{prefix}_stats.csv", newline="") as f:
        return {row["Name"]: row for row in csv.DictReader(f)}


def read_final(prefix):
    """{name: (requests, failures)} from --json-file <prefix>: Locust's final statistics."""
    import json
    with open(f"{prefix}.json") as f:
        return {entry["name"]: (entry["num_requests"], entry["num_failures"]) for entry in json.load(f)}


def read_failures(prefix):
    with open(f"{prefix}_failures.csv", newline="") as f:
        return list(csv.DictReader(f))


def scrape(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return parse_exposition(response.read().decode())


def sample(samples, name, **labels):
    wanted = frozenset(labels.items())
    return sum(value for (found_name, found), value in samples.items() if found_name == name and wanted <= found)


def assert_clean_exit(result_or_text, max_lines=200):
    """No traceback and no log flood: what the issue means by 'failures in the statistics, not a traceback flood'."""
    text = result_or_text if isinstance(result_or_text, str) else result_or_text.stdout + result_or_text.stderr
    assert "Traceback" not in text, text[-4000:]
    assert len(text.splitlines()) < max_lines, f"{len(text.splitlines())} lines of output:\n{text[-4000:]}"


@pytest.fixture
def workdir(tmp_path):
    return str(tmp_path)


class WebLocust:
    """A Locust process with its web UI on 127.0.0.1, driven over HTTP as the browser UI does."""

    def __init__(self, proc, web_port, log_path):
        self.proc, self.web_port, self.log_path = proc, web_port, log_path
        self.url = f"http://127.0.0.1:{web_port}"

    def get_json(self, path):
        import json
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def swarm(self, **form):
        import json
        import urllib.parse
        data = urllib.parse.urlencode(form).encode()
        with urllib.request.urlopen(urllib.request.Request(self.url + "/swarm", data=data), timeout=10) as response:
            answer = json.loads(response.read())
        assert answer.get("success"), answer
        return answer

    def stop_swarm(self):
        with urllib.request.urlopen(urllib.request.Request(self.url + "/stop", data=b"", method="POST"),
                                    timeout=10) as response:
            response.read()

    def stats(self):
        """({name: (requests, failures)}, state) from the web UI's own JSON."""
        data = self.get_json("/stats/requests")
        rows = {row["name"]: (row["num_requests"], row["num_failures"]) for row in data["stats"]
                if row["name"] != "Aggregated"}
        return rows, data["state"]

    def metrics(self):
        return scrape(self.url + "/metrics")

    def log(self):
        with open(self.log_path) as f:
            return f.read()


def start_web_locust(*args, cwd, log_name="locust.log"):
    from tests.support import free_port, wait_port
    web_port = free_port()
    proc = start_locust("--web-host", "127.0.0.1", "--web-port", web_port, *args, cwd=cwd, log_name=log_name)
    wait_port(web_port, timeout=30, proc=proc)
    return WebLocust(proc, web_port, os.path.join(cwd, log_name))


def stop_process(proc, timeout=15):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode

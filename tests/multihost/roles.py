"""The lab's roles started in namespace hosts from the docs page's own commands, and the two HTTP views the
tests read from inside the lab: the Locust master's web API and the server's /metrics."""
import json
import os
import urllib.parse

# The server's default ports, which the docs' commands keep.
from server.config import DEFAULT_METRICS_PORT as SERVER_METRICS_PORT
from tests.multihost.docs_commands import role_commands
from tests.support import REPO_ROOT, parse_exposition

LOCUST_WEB_PORT = 8089  # Locust's default; the master's web UI stays on its host's 127.0.0.1

_GET = ("import sys, urllib.request\n"
        "with urllib.request.urlopen(sys.argv[1], timeout=10) as r: sys.stdout.write(r.read().decode())")
_POST = ("import sys, urllib.request\n"
         "req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST')\n"
         "with urllib.request.urlopen(req, timeout=10) as r: sys.stdout.write(r.read().decode())")
_WAIT_PORT = ("import socket, sys, time\n"
              "deadline = time.monotonic() + float(sys.argv[3])\n"
              "while True:\n"
              "    try:\n"
              "        socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close(); break\n"
              "    except OSError:\n"
              "        if time.monotonic() > deadline: sys.exit(f'nothing on {sys.argv[1]}:{sys.argv[2]}')\n"
              "        time.sleep(0.1)\n")


def process_env():
    """The repo's .venv first on PATH (the docs activate it), and none of the caller's LOCUST_/PRIMES_ settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCUST_", "PRIMES_"))}
    env["PATH"] = os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + env.get("PATH", "")
    return env


def start_role(host, role, values, log_path, commands=None):
    """Start the docs' command for `role` in `host`, its `export`s given `values`; returns the Popen."""
    command = (commands or role_commands())[role]
    missing = set(command.variables) - set(values)
    assert not missing, f"the docs' {role} block exports {sorted(missing)}, which the test does not set"
    env = process_env()
    env.update({name: values[name] for name in command.variables})
    return host.start(command.argv(), log_path, env=env, cwd=REPO_ROOT)


def wait_port(host, address, port, timeout=30):
    host.python(_WAIT_PORT, address, port, timeout, timeout=timeout + 10)


class MasterApi:
    """The master's web API, from inside its host (it listens on that host's 127.0.0.1 only)."""

    def __init__(self, host):
        self.host = host
        self.url = f"http://127.0.0.1:{LOCUST_WEB_PORT}"

    def get_json(self, path):
        return json.loads(self.host.python(_GET, self.url + path))

    def post(self, path, **form):
        return self.host.python(_POST, self.url + path, urllib.parse.urlencode(form))

    def swarm(self, **form):
        answer = json.loads(self.post("/swarm", **form))
        assert answer.get("success"), answer
        return answer

    def stop(self):
        self.post("/stop")

    def report(self):
        return self.get_json("/stats/requests")


def requests_of(report, name="cheap"):
    rows = {row["name"]: row for row in report["stats"]}
    return rows[name]["num_requests"] if name in rows else 0


def server_requests(host, server_address, kind="cheap"):
    """primes_requests_total{kind} as the server's /metrics says, read from `host`."""
    text = host.python(_GET, f"http://{server_address}:{SERVER_METRICS_PORT}/metrics")
    return sum(value for (name, labels), value in parse_exposition(text).items()
               if name == "primes_requests_total" and ("kind", kind) in labels)

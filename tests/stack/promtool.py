"""Real promtool for the stack tests: the host's if it is on PATH, else the one in PROMETHEUS_IMAGE's container.
The repo's prometheus/ folder is mounted read-only at the same relative layout, so rule paths resolve.
"""
import os
import shutil
import subprocess

from tests.stack.files import PROMETHEUS_DIR, compose_defaults

CONTAINER_DIR = "/etc/prometheus-under-test"


def prometheus_image():
    """PROMETHEUS_IMAGE from the environment (CI's stand-in), else compose.yaml's pinned default."""
    return os.environ.get("PROMETHEUS_IMAGE") or compose_defaults()["PROMETHEUS_IMAGE"]


class Promtool:
    """Runs promtool with paths relative to prometheus/ (e.g. "rules/gil-lab.rules.yml")."""

    def __init__(self, image=None):
        self.host = shutil.which("promtool")
        self.image = image

    def command(self, *args, entrypoint="promtool"):
        if self.host and entrypoint == "promtool":
            return [self.host, *args]
        return ["docker", "run", "--rm", "--pull", "never", "--network", "none", "--entrypoint", entrypoint,
                "-v", f"{PROMETHEUS_DIR}:{CONTAINER_DIR}:ro", "-w", CONTAINER_DIR, self.image, *args]

    def run(self, *args, timeout=120):
        cwd = PROMETHEUS_DIR if self.host else None
        return subprocess.run(self.command(*args), capture_output=True, text=True, timeout=timeout, cwd=cwd)

    def parse_errors(self, expressions):
        """{expression: promtool's error} for each expression promtool's PromQL parser rejects."""
        if self.host:
            errors = {}
            for expr in expressions:
                result = self.run("--experimental", "promql", "format", expr)
                if result.returncode != 0:
                    errors[expr] = (result.stderr or result.stdout).strip()
            return errors
        # One container for all of them: a shell loop over a NUL-free, newline-separated list.
        script = ('while IFS= read -r expr; do out=$(promtool --experimental promql format "$expr" 2>&1) '
                  '|| printf "BAD\\t%s\\t%s\\n" "$expr" "$out"; done')
        command = ["docker", "run", "--rm", "-i", "--pull", "never", "--network", "none",
                   "--entrypoint", "sh", self.image, "-c", script]
        result = subprocess.run(command, input="\n".join(expressions) + "\n", capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        errors = {}
        for line in result.stdout.splitlines():
            if line.startswith("BAD\t"):
                _, expr, message = line.split("\t", 2)
                errors[expr] = message
        return errors

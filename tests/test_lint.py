"""Ruff over the whole repository, with pyproject.toml's configuration, at the version tests/requirements.txt pins."""
import subprocess
import sys

from tests.support import REPO_ROOT
from tests.test_packaging import requirements_file


def test_ruff_passes():
    pinned = {line.partition("==")[2] for line in requirements_file(f"{REPO_ROOT}/tests/requirements.txt")
              if line.startswith("ruff==")}
    version = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split() == ["ruff", *pinned], version.stdout
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", REPO_ROOT], capture_output=True,
                            text=True, cwd=REPO_ROOT, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

"""The scenario shape's steps: from the users running to a phase's users, one Locust dispatch per tick, knowing
that Locust stops the newest users first. (The shape running for real is in test_convoy_through_locust.py.)
"""
import subprocess
import sys

import pytest

from tests.support import REPO_ROOT


@pytest.mark.parametrize("check", ["the_lesson_needs_one_dispatch_per_change",
                                   "stopping_an_older_kind_restarts_the_newer_ones"])
def test_shape_steps(check):
    # A fresh interpreter: Locust's gevent monkey-patching must not leak into the rest of the suite.
    result = subprocess.run([sys.executable, "-c", f"from tests.loadgen import shape_checks; shape_checks.{check}()"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]

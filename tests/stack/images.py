"""Base images in the local engine: we never pull (no registry is reachable), so a missing one is a
skip with the reason, or under CI=true a failure.
"""
import os
import subprocess

import pytest


def image_present(image):
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


def require_image(image, why):
    if not image_present(image):
        reason = (f"{why}: image {image} is not in the local Docker engine (no registry is reachable; "
                  f"run ../shared/docker/setup and export its variables)")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)

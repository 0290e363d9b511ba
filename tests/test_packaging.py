"""pyproject.toml against the files that really install things: each dependency group equals its requirements file."""
import os
import re
import sys
import tomllib

import pytest

from tests.support import REPO_ROOT

GROUP_FILES = {"server": "server/requirements.txt", "loadgen": "loadgen/requirements.txt",
               "runner": "runner/requirements.txt", "tests": "tests/requirements.txt", "docs": "docs/requirements.txt"}


def pyproject():
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def normalised(requirement):
    name, _, version = requirement.partition("==")
    assert version, f"{requirement!r} is not pinned with =="
    return re.sub(r"[-_.]+", "-", name.strip().lower()) + "==" + version.strip()


def requirements_file(path):
    """The pinned requirements a file installs, following its -r includes."""
    found = set()
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line.startswith("-r "):
                found |= requirements_file(os.path.join(os.path.dirname(path), line[3:].strip()))
            elif line:
                found.add(normalised(line))
    return found


def dependency_group(groups, name):
    """A [dependency-groups] entry with its include-group entries resolved (PEP 735)."""
    found = set()
    for entry in groups[name]:
        found |= dependency_group(groups, entry["include-group"]) if isinstance(entry, dict) else {normalised(entry)}
    return found


@pytest.mark.parametrize("group", GROUP_FILES)
def test_each_dependency_group_is_its_requirements_file(group):
    groups = pyproject()["dependency-groups"]
    assert set(groups) == set(GROUP_FILES)
    assert dependency_group(groups, group) == requirements_file(os.path.join(REPO_ROOT, GROUP_FILES[group]))


def test_this_python_is_one_the_project_declares():
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", pyproject()["project"]["requires-python"])
    assert minimum, "requires-python should be a plain lower bound"
    assert sys.version_info[:2] >= tuple(map(int, minimum.groups()))

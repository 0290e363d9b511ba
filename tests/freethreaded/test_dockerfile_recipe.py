"""server/Dockerfile read as text (no engine needed): the copies its build context forces agree with their
sources (ports, base image tags), and each PYTHON_BUILD value has its runtime stage and the shared final one.
"""
import os
import re

from server import config
from tests.freethreaded.images import PYTHON_BUILDS
from tests.stack.files import compose_defaults, env_example
from tests.support import REPO_ROOT

with open(os.path.join(REPO_ROOT, "server", "Dockerfile")) as dockerfile:
    RECIPE = dockerfile.read()


def global_arg_defaults():
    """{NAME: default} of the ARGs before the first FROM (the ones FROM lines can use)."""
    head = RECIPE.split("\nFROM ", 1)[0]
    return dict(re.findall(r"^ARG (\w+)=(\S*)$", head, re.MULTILINE))


def test_exposed_ports_are_the_servers_defaults():
    exposed = {int(port) for port in re.search(r"^EXPOSE (.+)$", RECIPE, re.MULTILINE).group(1).split()}
    assert exposed == {config.DEFAULT_PORT, config.DEFAULT_METRICS_PORT, config.DEFAULT_CONTROL_PORT}


def test_base_images_are_pinned_and_match_the_stack_defaults():
    defaults = global_arg_defaults()
    assert defaults["PYTHON_BUILD"] == "gil"
    for name in ("PYTHON_IMAGE", "DEBIAN_IMAGE"):
        assert ":" in defaults[name] and not defaults[name].endswith(":latest"), f"{name} is not pinned"
        assert defaults[name] == compose_defaults()[name] == env_example()[name]
    assert re.fullmatch(r"python:3\.13\.\d+-slim", defaults["PYTHON_IMAGE"])  # pinned to a patch release


def test_each_python_build_has_a_runtime_stage_and_one_final_stage():
    stages = re.findall(r"^FROM \S+ AS (\S+)$", RECIPE, re.MULTILINE)
    for python_build in PYTHON_BUILDS:
        assert f"runtime-{python_build}" in stages
    assert stages[-1] == "final"
    assert re.search(r"^FROM runtime-\$\{PYTHON_BUILD\} AS final$", RECIPE, re.MULTILINE)


def test_free_threaded_runtime_has_no_compiler_and_keeps_the_gil_off():
    runtime = RECIPE.split("AS runtime-free-threaded", 1)[1].split("AS final", 1)[0]
    assert "--disable-gil" in RECIPE.split("AS build-free-threaded", 1)[1].split("\nFROM ", 1)[0]
    assert not re.search(r"build-essential|gcc|-dev\b", runtime)
    assert re.search(r"^ENV .*\bPYTHON_GIL=0\b", runtime, re.MULTILINE)

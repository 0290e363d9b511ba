"""The structure stays one-way: server/ and loadgen/ are Docker build contexts that import nothing of the rest of
the repository, and the host-side runner never imports server internals. Read from the sources with ast."""
import ast
import os

import pytest

from tests.support import REPO_ROOT

# part -> the repository's top-level packages it must never import
FORBIDDEN = {
    "server": {"loadgen", "runner", "tests"},
    "loadgen": {"server", "runner", "tests"},
    "runner": {"server", "tests"},
}
PACKAGES = {"server", "loadgen", "runner", "tests"}


def imported_packages(path):
    """The top-level names every import statement of a file imports (also those inside functions)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def sources(part):
    for folder, _, files in os.walk(os.path.join(REPO_ROOT, part)):
        yield from (os.path.join(folder, name) for name in sorted(files) if name.endswith(".py"))


@pytest.mark.parametrize("part", FORBIDDEN)
def test_no_part_imports_what_it_must_not(part):
    wrong = {os.path.relpath(path, REPO_ROOT): sorted(imported_packages(path) & FORBIDDEN[part])
             for path in sources(part)}
    assert not {path: names for path, names in wrong.items() if names}


def test_the_check_sees_the_imports_there_are():
    """Each part imports itself, and the tests import every part: the scan finds real import statements."""
    for part in FORBIDDEN:
        assert any(part in imported_packages(path) for path in sources(part)), part
    assert set().union(*map(imported_packages, sources("tests"))) >= PACKAGES


@pytest.mark.parametrize("part", [*FORBIDDEN, "tests"])
def test_every_module_opens_with_a_docstring(part):
    missing = []
    for path in sources(part):
        with open(path, encoding="utf-8") as f:
            if ast.get_docstring(ast.parse(f.read())) is None:
                missing.append(os.path.relpath(path, REPO_ROOT))
    assert not missing, f"modules without a docstring (a header comment is not one): {missing}"


def test_no_tracker_numbers_in_the_sources():
    """Comments say the reason, not a tracker's number (history belongs in the commit log)."""
    import re
    import subprocess
    tracked = subprocess.run(["git", "ls-files", "*.py", "*.yaml", "*.yml", "*.sh", "*.toml", "*Dockerfile"],
                             capture_output=True, text=True, cwd=REPO_ROOT, check=True).stdout.split()
    assert len(tracked) > 50, "git ls-files found too few sources"
    citation = re.compile(r"\b" + "issue" + r"\s*#?\d+", re.I)
    found = []
    for path in tracked:
        if path.startswith("docs/experiment/"):
            continue  # results folders keep the experiment file exactly as it ran
        with open(os.path.join(REPO_ROOT, path), encoding="utf-8") as f:
            found += [f"{path}:{number}" for number, line in enumerate(f, 1) if citation.search(line)]
    assert not found, found

"""The documentation site: the real `mkdocs build --strict` passes, and really fails on a broken link or
anchor; every page is in the nav; the README's relative links point at files that exist."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from tests.support import REPO_ROOT

DOCS = os.path.join(REPO_ROOT, "docs")
MKDOCS_YML = os.path.join(REPO_ROOT, "mkdocs.yml")
# Material prints an end-of-life banner on every build; it is not a problem with our pages.
QUIET = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def mkdocs_build(config_file, site_dir):
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", config_file, "--site-dir", site_dir],
        capture_output=True, text=True, env=QUIET, timeout=300,
    )


def test_site_builds_in_strict_mode(tmp_path):
    done = mkdocs_build(MKDOCS_YML, str(tmp_path / "site"))
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}{done.stderr}"
    for page in ("index.html", "glossary/index.html", "experiment/lesson-2core/report/index.html"):
        assert (tmp_path / "site" / page).is_file(), page
    # The plots the pages show are on the site; the raw cell measurements are not.
    assert (tmp_path / "site/experiment/lesson-2core/plots/convoy_ratio.png").is_file()
    assert not (tmp_path / "site/experiment/lesson-2core/cells").exists()


@pytest.mark.parametrize("bad_link, complaint", [
    ("glossary.md#no-such-term", "does not contain an anchor '#no-such-term'"),
    ("#no-such-heading", "there is no such anchor on this page"),
    ("no-such-page.md", "not found among documentation files"),
])
def test_strict_build_fails_on_a_broken_link(tmp_path, bad_link, complaint):
    """The validation settings in mkdocs.yml make a broken link or anchor a warning, and strict a failure."""
    copy = tmp_path / "repo"
    shutil.copytree(DOCS, copy / "docs", ignore=shutil.ignore_patterns("cells"))
    shutil.copy(MKDOCS_YML, copy / "mkdocs.yml")
    with open(copy / "docs/index.md", "a") as page:
        page.write(f"\nA [broken link]({bad_link}).\n")
    done = mkdocs_build(str(copy / "mkdocs.yml"), str(tmp_path / "site"))
    output = done.stdout + done.stderr
    assert done.returncode != 0, f"a broken link passed the strict build:\n{output}"
    assert complaint in output and "index.md" in output, output


def nav_pages(entries):
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            yield from nav_pages(value)
        else:
            yield value


def test_every_page_is_in_the_nav():
    with open(MKDOCS_YML) as f:
        config = yaml.safe_load(f)
    in_nav = set(nav_pages(config["nav"]))
    pages = {name for name in os.listdir(DOCS) if name.endswith(".md")}
    assert pages - in_nav == set(), "pages missing from mkdocs.yml's nav"
    assert in_nav - pages == set(), "nav entries without a page"


def test_generated_blocks_are_paired():
    """Each reference table sits between one BEGIN and one END marker of the same name."""
    for name in sorted(os.listdir(DOCS)):
        if not name.endswith(".md"):
            continue
        with open(os.path.join(DOCS, name)) as f:
            text = f.read()
        begins = re.findall(r"<!-- BEGIN generated: ([\w-]+) -->", text)
        ends = re.findall(r"<!-- END generated: ([\w-]+) -->", text)
        assert begins == ends, f"{name}: BEGIN {begins} vs END {ends}"
        assert len(begins) == len(set(begins)), f"{name}: a block name repeats"


def test_readme_links_point_at_files_that_exist():
    with open(os.path.join(REPO_ROOT, "README.md")) as f:
        readme = f.read()
    targets = re.findall(r"\]\(([^)\s]+)\)", readme)
    relative = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert any(t.startswith("docs/") for t in relative), "the README links into the docs"
    missing = [t for t in relative if not os.path.exists(os.path.join(REPO_ROOT, t.split("#")[0]))]
    assert missing == [], f"README links to missing files: {missing}"

"""The docs' reference tables are what docs/gen_reference.py renders from the code today, and its check
really fails, naming the command to run, when a table and the code disagree."""

import os
import re
import shutil
import subprocess
import sys

from tests.support import REPO_ROOT

DOCS = os.path.join(REPO_ROOT, "docs")
GENERATOR = os.path.join(DOCS, "gen_reference.py")
COMMAND = ".venv/bin/python docs/gen_reference.py"


def generate(*args):
    # A process of its own: the generator declares the server's metrics, which sets process-wide state.
    return subprocess.run([sys.executable, GENERATOR, *args], capture_output=True, text=True, timeout=120)


def docs_copy(where):
    """The docs' pages (only they hold generated blocks) copied under `where`."""
    copy = where / "docs"
    copy.mkdir(parents=True)
    for name in os.listdir(DOCS):
        if name.endswith(".md"):
            shutil.copy(os.path.join(DOCS, name), copy / name)
    return copy


def page(name):
    with open(os.path.join(DOCS, name)) as f:
        return f.read()


def test_committed_tables_match_the_code():
    done = generate("--check")
    assert done.returncode == 0, (
        f"The docs' reference tables differ from the code. Run `{COMMAND}` and commit the result.\n"
        f"{done.stdout}{done.stderr}")


def test_check_fails_on_a_stale_table_and_rewriting_fixes_it(tmp_path):
    docs = docs_copy(tmp_path)
    server_page = docs / "server.md"
    text = server_page.read_text()
    assert "| `--switch-interval` |" in text and "`primes_requests_total`" in text
    # A flag row lost and a metric renamed, as if the code had moved on without the docs.
    stale = re.sub(r"^\| `--switch-interval` \|.*\n", "", text, flags=re.MULTILINE)
    stale = stale.replace("`primes_requests_total`", "`primes_requests_old_total`")
    server_page.write_text(stale)

    done = generate("--check", "--docs-dir", str(docs))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"run `{COMMAND}`" in done.stdout
    assert "+| `--switch-interval` | `PRIMES_SWITCH_INTERVAL` |" in done.stdout
    assert "-| `primes_requests_old_total` |" in done.stdout and "+| `primes_requests_total` |" in done.stdout
    assert server_page.read_text() == stale, "--check changed a page"

    assert generate("--docs-dir", str(docs)).returncode == 0
    assert generate("--check", "--docs-dir", str(docs)).returncode == 0
    assert server_page.read_text() == page("server.md")


def test_a_block_without_a_renderer_or_a_missing_block_is_an_error(tmp_path):
    docs = docs_copy(tmp_path)
    with open(docs / "index.md", "a") as f:
        f.write("\n<!-- BEGIN generated: no-such-table -->\n<!-- END generated: no-such-table -->\n")
    done = generate("--check", "--docs-dir", str(docs))
    assert done.returncode != 0 and "'no-such-table' that nothing renders" in done.stderr, done.stderr

    docs = docs_copy(tmp_path / "again")
    runner_page = docs / "runner.md"
    runner_page.write_text(runner_page.read_text().replace("generated: csv-columns", "csv-columns"))
    done = generate("--check", "--docs-dir", str(docs))
    assert done.returncode != 0 and "csv-columns" in done.stderr, done.stderr


def test_tables_name_every_entry_of_their_source():
    """The generator drops nothing: each flag, column and setting of the sources has its row."""
    from loadgen import options
    from runner.results import COLUMN_NAMES
    from server import config
    from tests.stack.files import env_example

    server_page = page("server.md")
    for flag in config.build_parser()._option_string_actions:
        if flag.startswith("--") and flag != "--help":
            assert f"`{flag}`" in server_page, flag
    loadgen_page = page("loadgen.md")
    for flag, *_ in options.ARGUMENTS:
        assert f"| `{flag}` | `{options.env_name(flag)}` |" in loadgen_page, flag
    stack_page = page("stack.md")
    for variable in env_example():
        assert f"`{variable}`" in stack_page, variable
    runner_page = page("runner.md")
    for name in COLUMN_NAMES:
        assert f"| `{name}` |" in runner_page, name

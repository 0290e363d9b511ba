"""The docs' reference tables are what docs/gen_reference.py renders from the code today. Its check really
fails, showing the diff and naming the command to run, when a table was edited by hand or when a flag, metric,
CSV column, .env setting or build argument is added to a copy of the sources without regenerating."""

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


# Code that moved on, appended to a copy of the sources through the same public names the generator reads.
ADDITIONS = {
    "server/config.py": '''
_build_parser = build_parser


def build_parser():
    parser = _build_parser()
    parser.add_argument("--greeting-delay", type=float, default=300.0,
                        help="wait before greeting [env PRIMES_GREETING_DELAY]")
    return parser
''',
    "server/metrics.py": '''
_init = ServerMetrics.__init__


def _init_with_restarts(self, multiproc_dir, cheap_max_n):
    _init(self, multiproc_dir, cheap_max_n)
    self.restarts = Counter("primes_worker_restarts_total", "Worker processes restarted", ["cause"], registry=None)


ServerMetrics.__init__ = _init_with_restarts
''',
    "loadgen/options.py": '''
_add_arguments = add_arguments


def add_arguments(parser):
    _add_arguments(parser)
    parser.add_argument("--think-time", type=float, default=0.5, env_var="LOCUST_THINK_TIME", help="pause",
                        include_in_web_ui=False)
''',
    "runner/results.py": '\nCOLUMNS.append(("nice", "nice value of the server"))\n',
    ".env.example": "\n# --- Scheduling.\n# Nice value of the server.\nSERVER_NICE=0\n",
    "server/Dockerfile": "\n# A new build knob.\nARG EXTRA_KNOB=on\n",
}


def sources_copy(where):
    """What the generator reads, copied under `where`: its own location is its repository root."""
    for folder in ("server", "loadgen", "runner"):
        shutil.copytree(os.path.join(REPO_ROOT, folder), where / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(REPO_ROOT, ".env.example"), where / ".env.example")
    docs = docs_copy(where)
    shutil.copy(GENERATOR, docs / "gen_reference.py")
    return where


def test_an_entry_added_to_the_code_fails_the_check_until_regenerated(tmp_path):
    root = sources_copy(tmp_path)
    for path, addition in ADDITIONS.items():
        with open(root / path, "a") as f:
            f.write(addition)
    copied_generator = [sys.executable, str(root / "docs" / "gen_reference.py")]
    done = subprocess.run([*copied_generator, "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    for row in ("+| `--greeting-delay` | `PRIMES_GREETING_DELAY` | `300` | wait before greeting |",
                "+| `primes_worker_restarts_total` | counter | `cause` | Worker processes restarted |",
                "+| `--think-time` | `LOCUST_THINK_TIME` | `0.5` |  | pause |",
                "+| `nice` | nice value of the server |",
                "+| `SERVER_NICE` | `0` | Nice value of the server. |",
                "+| `EXTRA_KNOB` | `on` | A new build knob. |"):
        assert row in done.stdout, f"{row}\n{done.stdout}"
    assert f"run `{COMMAND}`" in done.stdout

    rewrite = subprocess.run(copied_generator, capture_output=True, text=True, timeout=120)
    assert rewrite.returncode == 0, rewrite.stderr
    assert subprocess.run([*copied_generator, "--check"], capture_output=True, timeout=120).returncode == 0


def test_a_metric_the_generator_cannot_collect_stops_it(tmp_path):
    """A metric named in the server's sources but absent from what the generator collects (say, a collector
    that needs a cgroup file the sample tree lacks) is an error, never a table that silently omits it."""
    root = sources_copy(tmp_path)
    with open(root / "server" / "exporter.py", "a") as f:
        f.write('\nNOT_COLLECTED = "primes_never_collected_total"\n')
    done = subprocess.run([sys.executable, str(root / "docs" / "gen_reference.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "primes_never_collected named in server/ but not collected" in done.stderr, (
        done.stdout + done.stderr)

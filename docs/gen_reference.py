"""The docs' reference tables, rendered from the code and files that define them.

A table sits in a page of docs/ between `<!-- BEGIN generated: NAME -->` and `<!-- END generated: NAME -->`.
This script rewrites each such block from its one source of truth, so a flag, metric, column or setting
added to the code appears in the docs without anyone retyping it:

    server-flags       server/config.py's argument parser (flag, environment variable, default, help)
    server-metrics     the metrics the server declares (server/metrics.py) and the exporter's collectors
                       (server/exporter.py), collected from the real classes on a sample cgroup tree
    loadgen-flags      loadgen/options.py's arguments, as Locust registers them
    loadgen-metrics    loadgen/metrics.py's collector
    env-settings       .env.example: a table per section, each setting with the comment right above it
                       (tests/stack checks .env.example against compose.yaml's defaults)
    server-build-args  server/Dockerfile's ARGs with the comment right above each
    csv-columns        runner/results.py's COLUMNS

Usage, from the repository root with the project's venv (it imports the server, loadgen and runner):

    .venv/bin/python docs/gen_reference.py           # rewrite the blocks in place
    .venv/bin/python docs/gen_reference.py --check   # exit 1 with a diff when a committed block is stale
"""
import argparse
import difflib
import glob
import os
import re
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

COMMAND = ".venv/bin/python docs/gen_reference.py"
BLOCK = re.compile(r"(<!-- BEGIN generated: ([\w-]+) -->\n)(.*?)(<!-- END generated: \2 -->)", re.DOTALL)
ENV_SUFFIX = re.compile(r"\s*\[env (\w+)\]$")  # what the flags' help strings end with


# --- Markdown ---------------------------------------------------------------------------------------------

def text(plain):
    """Plain text (a help string, a comment) as a Markdown table cell: its `quoted` parts, flags and
    identifiers set as code, the rest escaped."""
    cell = []
    for index, part in enumerate(re.split(r"(`[^`|]+`|--[a-z][\w-]*|\b[A-Za-z]\w*_\w*\b)", str(plain))):
        if index % 2:
            cell.append(part if part.startswith("`") else f"`{part}`")
        else:
            part = re.sub(r"([\\`*_\[\]|])", r"\\\1", part)
            cell.append(part.replace("<", "&lt;").replace(">", "&gt;"))
    return "".join(cell)


def code(value):
    if value is None:
        return "(none)"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, float):
        value = f"{value:g}"
    return f"`{value}`"


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def duration(seconds):
    for unit, size in (("h", 3600), ("min", 60), ("s", 1)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds * 1000:g} ms"


# --- Flags ------------------------------------------------------------------------------------------------

def split_env(help_text):
    """(help without its '[env NAME]' suffix, NAME or None)."""
    match = ENV_SUFFIX.search(help_text or "")
    return (help_text[:match.start()], match.group(1)) if match else (help_text or "", None)


def server_flags():
    from server import config

    rows = {}  # dest -> row: a second flag for the same setting (--no-monitor) joins the first one's row
    for action in config.build_parser()._actions:  # argparse has no public list of its arguments
        if not action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        flags = ", ".join(f"`{flag}`" for flag in action.option_strings)
        help_text, env = split_env(action.help)
        if action.dest in rows:
            row = rows[action.dest]
            row[0] += f", {flags}"
            row[3] += f"; {flags}: {text(help_text)}"
        else:
            rows[action.dest] = [flags, code(env) if env else "", code(action.default), text(help_text)]
    return table(["flag", "environment variable", "default", "what"], rows.values())


class _RecordingParser:
    """Stands in for Locust's parser: keeps each add_argument call as it is made."""

    def __init__(self):
        self.arguments = []

    def add_argument(self, *flags, **settings):
        self.arguments.append((flags, settings))


def loadgen_flags():
    from loadgen import options

    parser = _RecordingParser()
    options.add_arguments(parser)
    rows = []
    for flags, settings in parser.arguments:
        help_text, env = split_env(settings.get("help"))
        env = settings.get("env_var", env)
        rows.append([", ".join(f"`{flag}`" for flag in flags), code(env) if env else "",
                     code(settings.get("default")), "yes" if settings.get("include_in_web_ui") else "",
                     text(help_text)])
    return table(["flag", "environment variable", "default", "web UI", "what"], rows)


# --- Metrics ----------------------------------------------------------------------------------------------

def metric_row(name, kind, documentation, label_names, samples):
    """One table row. Label values are listed where their series exist from the start (known kinds, reasons)."""
    shown = f"{name}_total" if kind == "counter" else name
    labels = []
    for label in label_names:
        values = dict.fromkeys(s.labels[label] for s in samples if label in s.labels)
        labels.append(f"`{label}`" + (f" ({', '.join(code(v) for v in values)})" if values else ""))
    if kind == "histogram":
        bounds = sorted({float(s.labels["le"]) for s in samples if "le" in s.labels} - {float("inf")})
        if bounds:
            kind += f", buckets {duration(bounds[0])} … {duration(bounds[-1])}"
    return [f"`{shown}`", kind, ", ".join(labels), text(documentation)]


def label_names(declared_by):
    # Metrics and metric families keep the label names they were declared with; no public accessor has them.
    return tuple(getattr(declared_by, "_labelnames", ()))


def families_rows(families, declared_by=None, skip=()):
    """[(name, row)] of metric families; label names from `declared_by` (else each family) and the samples."""
    rows = []
    for family in families:
        if family.name in skip:
            continue
        seen = tuple(label for s in family.samples for label in s.labels if label != "le")
        names = list(dict.fromkeys(label_names(declared_by or family) + seen))
        rows.append((family.name, metric_row(family.name, family.type, family.documentation, names,
                                             family.samples)))
    return rows


def write_sample_cgroup(root):
    """A cgroup v2 directory with a CPU quota, throttling and a cpuset, so every conditional metric shows."""
    files = {
        "cgroup.controllers": "cpuset cpu io memory pids\n",
        "cpu.max": "100000 100000\n",
        "cpu.stat": "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\n"
                    "nr_periods 100\nnr_throttled 10\nthrottled_usec 50000\n",
        "cpu.weight": "100\n",
        "cpuset.cpus": "0\n",
        "cpuset.cpus.effective": "0\n",
        "cpuset.mems.effective": "0\n",
    }
    os.makedirs(root)
    for name, content in files.items():
        with open(os.path.join(root, name), "w") as f:
            f.write(content)
    return root


def names_in_source(folder, prefix):
    """Metric names written as string literals in a package, without a counter's _total."""
    found = set()
    for path in glob.glob(os.path.join(REPO_ROOT, folder, "*.py")):
        with open(path) as f:
            found |= set(re.findall(rf"[\"']({prefix}[a-z0-9_]+)[\"']", f.read()))
    return {name.removesuffix("_total") for name in found}


def check_complete(rows, folder, prefix, hint):
    """A metric named in the sources but missing from the table stops the script: no table silently omits one."""
    missing = names_in_source(folder, prefix) - {name for name, _ in rows}
    if missing:
        sys.exit(f"gen_reference: {', '.join(sorted(missing))} named in {folder}/ but not collected; {hint}")


def server_metrics():
    from prometheus_client.metrics import MetricWrapperBase
    from prometheus_client.multiprocess import MultiProcessCollector

    from server import exporter, metrics

    with tempfile.TemporaryDirectory() as scratch:
        multiproc_dir = os.path.join(scratch, "multiproc")
        os.makedirs(multiproc_dir)
        declared = metrics.ServerMetrics(multiproc_dir, cheap_max_n=1)  # the kinds' boundary: no metric depends on it
        # The declared metrics first, in declaration order (labelled ones without a series yet included)...
        rows = []
        for value in vars(declared).values():
            if isinstance(value, MetricWrapperBase):
                rows += families_rows(value.collect(), declared_by=value)
        # ...the histograms it writes in batches (as multiprocess values, not metric objects), from its files...
        rows += families_rows(MultiProcessCollector(None, path=multiproc_dir).collect(),
                              skip={name for name, _ in rows})
        # ...then what the exporter adds on every scrape (CPU limit, cgroup and process CPU).
        registry = exporter.build_registry(multiproc_dir, os.getpid(),
                                           cgroup_root=write_sample_cgroup(os.path.join(scratch, "cgroup")))
        rows += families_rows(registry.collect(), skip={name for name, _ in rows})
    check_complete(rows, "server", "primes_", "declare it in ServerMetrics, or give write_sample_cgroup() in "
                                              "docs/gen_reference.py the file its collector reads")
    return table(["metric", "type", "labels", "what"], [row for _, row in rows])


def loadgen_metrics():
    from loadgen import metrics

    rows = families_rows(metrics.LoadMetrics().registry.collect())
    check_complete(rows, "loadgen", "locust_", "LoadMetrics.collect() must yield it")
    return table(["metric", "type", "labels", "what"], [row for _, row in rows])


# --- Settings files ---------------------------------------------------------------------------------------

def commented_settings(path, assignment):
    """[(section, comment, [(name, value), ...])]: each run of settings with the comment right above it.

    `assignment` matches a setting line (groups: name, value). A '# --- Title' line opens a section; any
    other line ends a comment. A setting seen before (an ARG brought into a later stage) is left out.
    """
    groups, comment, section, seen, previous_was_setting = [], [], "", set(), False
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            match = re.fullmatch(assignment, stripped)
            if stripped.startswith("# ---"):
                section, comment = stripped.strip("#- "), []
            elif stripped.startswith("#"):
                comment.append(stripped.lstrip("# "))
            elif match and match.group(1) not in seen:
                seen.add(match.group(1))
                if previous_was_setting and not comment:
                    groups[-1][2].append(match.groups())
                else:
                    groups.append((section, " ".join(comment), [match.groups()]))
                comment = []
            else:
                comment = []
            previous_was_setting = bool(match)
    return groups


def settings_rows(groups):
    return [[", ".join(f"`{name}`" for name, _ in settings), ", ".join(code(value) for _, value in settings),
             text(comment)] for _, comment, settings in groups]


def env_settings():
    """A table per section of .env.example, under the section's title."""
    groups = commented_settings(os.path.join(REPO_ROOT, ".env.example"), r"(\w+)=(.*)")
    sections = list(dict.fromkeys(section for section, _, _ in groups))
    return "\n\n".join(text(section) + "\n\n" + table(["variable", "default", "what it sets"],
                                                      settings_rows(g for g in groups if g[0] == section))
                       for section in sections)


def server_build_args():
    groups = commented_settings(os.path.join(REPO_ROOT, "server", "Dockerfile"), r"ARG (\w+)(?:=(.*))?")
    return table(["build argument", "default", "what it does"], settings_rows(groups))


def csv_columns():
    from runner.results import COLUMNS

    return table(["column", "meaning"], [[f"`{name}`", text(meaning)] for name, meaning in COLUMNS])


RENDERERS = {
    "server-flags": server_flags,
    "server-metrics": server_metrics,
    "loadgen-flags": loadgen_flags,
    "loadgen-metrics": loadgen_metrics,
    "env-settings": env_settings,
    "server-build-args": server_build_args,
    "csv-columns": csv_columns,
}


# --- Pages ------------------------------------------------------------------------------------------------

def regenerate(docs_dir):
    """{page path: (committed text, regenerated text)} of every page with a generated block."""
    rendered = {}

    def fill(match):
        name = match.group(2)
        if name not in rendered:
            rendered[name] = RENDERERS[name]()
        return match.group(1) + rendered[name] + "\n" + match.group(4)

    pages = {}
    for path in sorted(glob.glob(os.path.join(docs_dir, "*.md"))):
        with open(path) as f:
            old = f.read()
        names = [match.group(2) for match in BLOCK.finditer(old)]
        unknown = [name for name in names if name not in RENDERERS]
        if unknown:
            sys.exit(f"gen_reference: {os.path.basename(path)} has a block '{unknown[0]}' that nothing renders "
                     f"(known: {', '.join(RENDERERS)})")
        if names:
            pages[path] = (old, BLOCK.sub(fill, old))
    missing = set(RENDERERS) - set(rendered)
    if missing:
        sys.exit(f"gen_reference: no page in {docs_dir} has the block(s) {', '.join(sorted(missing))}")
    return pages


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python docs/gen_reference.py", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 with a diff if a block differs from what the code gives")
    parser.add_argument("--docs-dir", default=os.path.join(REPO_ROOT, "docs"), help="the pages to read and write")
    args = parser.parse_args(argv)
    stale = []
    for path, (old, new) in regenerate(args.docs_dir).items():
        if old == new:
            continue
        stale.append(os.path.relpath(path, REPO_ROOT) if path.startswith(REPO_ROOT + os.sep) else path)
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                                       f"{stale[-1]} (committed)", f"{stale[-1]} (from the code)"))
        else:
            with open(path, "w") as f:
                f.write(new)
    if args.check and stale:
        print(f"\nThe reference tables in {', '.join(stale)} differ from the code: run `{COMMAND}` "
              f"and commit the result.")
        return 1
    if not args.check:
        print(f"rewrote {', '.join(stale)}" if stale else "every generated block is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())

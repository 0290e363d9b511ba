"""The Markdown report of a results folder: host, status, the lesson table (median [min-max]), errors, plots.
Written after every run, also an interrupted one (it then says how many cells were finished).
"""
import os

from runner.locust_cpu import CLIENT_BOUND_CORES, advice
from runner.plots import worth_showing
from runner.results import COLUMNS, interval_label


def fmt(stat, digits=0, percent=False):
    if stat is None:
        return "–"
    if percent:
        return f"{stat['median']:.0%}" if stat["n"] == 1 else (
            f"{stat['median']:.0%} [{stat['min']:.0%}–{stat['max']:.0%}]")
    form = f"{{:,.{digits}f}}"
    text = form.format(stat["median"])
    if stat["n"] > 1:
        text += f" [{form.format(stat['min'])}–{form.format(stat['max'])}]"
    return text


def python_label(entry):
    """The server's build and the GIL state it reported: "free-threaded (GIL off)", "– (GIL on)"."""
    gil = {"true": "GIL on", "false": "GIL off"}.get(entry.get("server_gil"), f"GIL {entry.get('server_gil') or '?'}")
    return f"{entry.get('python') or '–'} ({gil})"


def client_label(entry):
    """The busiest Locust process's CPU (cores, alone / with expensive), and "client-bound" when it was."""
    alone, loaded = entry.get("locust_cpu_max_alone"), entry.get("locust_cpu_max")
    if alone is None and loaded is None:
        return "–"
    text = " / ".join("–" if stat is None else f"{stat['max']:.2f}" for stat in (alone, loaded))
    return f"**client-bound** {text}" if entry.get("client_bound") else text


def summary_table(summary):
    lines = ["| model | python (GIL) | switch interval | cpus | placement | load | cheap req/s alone | "
             "cheap req/s with expensive | model 1/(2·interval) | convoy ratio | cheap p50 / p99 ms | "
             "server CPU (cores) | throttled | Locust CPU (busiest process, cores) | reps |",
             "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for e in summary:
        p50, p99 = e.get("cheap_p50_ms"), e.get("cheap_p99_ms")
        latency = "–" if p50 is None else f"{p50['median']:g} / {p99['median']:g}"
        model = "–" if not int(e["expensive_users"]) else f"{e['model_rps']:,.1f}"
        lines.append(
            f"| {e['model']} | {python_label(e)} | {interval_label(e['switch_interval_s'])} | {e['cpus']} | {e['placement']} | "
            f"{e['cheap_users']}c+{e['expensive_users']}e | {fmt(e.get('cheap_rps_alone'))} | "
            f"{fmt(e.get('cheap_rps'), 1)} | {model} | {fmt(e.get('convoy_ratio'), percent=True)} | {latency} | "
            f"{fmt(e.get('cpu_used_cores'), 2)} | {fmt(e.get('throttled_fraction'), percent=True)} | "
            f"{client_label(e)} | {e['repetitions']} |")
    return "\n".join(lines)


def host_table(meta):
    keys = ("cpu_model", "cpu_cores", "cpu_cores_usable", "kernel", "os", "python_version", "python_gil_enabled",
            "docker_version", "cgroup_version", "locust_version", "git_revision", "git_dirty", "backend",
            "hostname", "collected_at")
    return "\n".join(["| | |", "|---|---|"] + [f"| {k} | {meta.get(k)} |" for k in keys])


def write(out_dir, experiment, meta, summary, rows, state):
    errors = [r for r in rows if r["status"] != "ok"]
    source = meta.get("experiment_file") or experiment.source
    lines = [f"# Experiment report: {os.path.basename(source)}", ""]
    if experiment.description:
        lines += [experiment.description.strip(), ""]
    lines += [f"**Status: {state['status']}** — {state['done']} of {state['planned']} cell runs finished "
              f"({len(errors)} with errors) in {state['elapsed_s']:.0f} s, backend `{meta['backend']}`.", ""]
    if meta.get("skipped"):
        lines += [f"Note: {meta['skipped']}.", ""]
    lines += ["Each cell runs twice on the same server: the cheap stream alone, then with the expensive stream. "
              f"Warm-up {experiment.warmup_s:g} s, measurement window {experiment.measure_s:g} s, cheap n = "
              f"{experiment.cheap_n}, expensive n = {experiment.expensive_n}. Throughput is the server's own "
              "count (primes_requests_total); latencies are Locust's. Figures are the median over repetitions, "
              "[min–max] when there are several.", ""]
    lines += ["## Results", "", summary_table(summary) if summary else "_No cell finished._", ""]
    bound = [e for e in summary if e.get("client_bound")]
    lines += [f"The Locust CPU column is the busiest Locust process's CPU time over the window (the highest "
              f"repetition; alone / with expensive): a process at {CLIENT_BOUND_CORES:g} of a core or more marks the "
              f"cell **client-bound**.", ""]
    if bound:
        processes = max(int(e.get("locust_processes") or 1) for e in bound)
        lines += ["## Client-bound cells", "", f"{len(bound)} cell(s): {advice(processes)}", ""]
        lines += [f"- `{e['cell']}`" for e in bound] + [""]
    if errors:
        lines += ["## Errors", ""] + [f"- `{r['cell']}` repetition {r['repetition']}: {r['error']}"
                                     for r in errors] + [""]
    lines += ["## Plots", ""] + [f"![{name}](plots/{name})" for name in worth_showing(summary)] + [""]
    lines += ["## Host", "", host_table(meta), ""]
    lines += ["## Files", "", "- `results.csv`: one row per cell and repetition (columns below)",
              "- `cells/*.json`: the raw measurement of each cell run", "- `summary.json`: the table above",
              "- `metadata.json`, `experiment.yaml`: where and how it was measured", "- `logs/`: server and Locust logs",
              "", "| column | meaning |", "|---|---|"] + [f"| `{n}` | {d} |" for n, d in COLUMNS] + [""]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return path

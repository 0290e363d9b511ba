"""PNG plots of a results summary (matplotlib, Agg): cheap throughput vs switch interval, vs CPU limit, convoy ratio.
Each plot is meant to be read at a glance: medians as markers, min-max spread as error bars, labelled axes.
"""
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from runner.results import cpus_value, interval_label  # noqa: E402
from runner.spec import ALL_CORES  # noqa: E402

# Python behind the scenes #13: cheap requests/s next to one CPU-bound thread, by switch interval (seconds).
REFERENCE_POINTS = ((0.005, 100.0), (0.001, 500.0), (0.00001, 11000.0))
LOG_FLOOR = 0.1  # a zero on a log axis is drawn here (and said so in the legend)
FILES = ("throughput_vs_switch_interval.png", "throughput_vs_cpus.png", "convoy_ratio.png")
X_AXIS = {FILES[0]: "switch_interval_s", FILES[1]: "cpus"}  # a plot along a matrix axis needs two values on it


def worth_showing(summary):
    """The plots a report shows: not one along an axis the matrix holds at a single value."""
    return [name for name in FILES if name not in X_AXIS or len({str(e[X_AXIS[name]]) for e in summary}) > 1]


def _median(entry, metric):
    stat = entry.get(metric)
    return None if stat is None else stat["median"]


def _errors(entries, metric, values):
    low = [v - e[metric]["min"] if e.get(metric) else 0 for e, v in zip(entries, values)]
    high = [e[metric]["max"] - v if e.get(metric) else 0 for e, v in zip(entries, values)]
    return [low, high]


def _series_key(entry, *fields):
    return tuple(_who(entry) if f == "model" else entry[f] for f in fields)


def _who(entry):
    """The model, the server's build where the matrix has a python axis, and the CPU placement:
    "thread (free-threaded, pinned)"."""
    build = entry.get("python_build") or entry.get("python")
    details = [build] if entry.get("python") else []
    details += [entry["placement"]] if entry.get("placement") else []
    return f"{entry['model']} ({', '.join(details)})" if details else entry["model"]


def _floor(values):
    return [max(v, LOG_FLOOR) for v in values]


def throughput_vs_switch_interval(summary, path):
    fig, ax = plt.subplots(figsize=(8, 5.5))
    loaded = [e for e in summary if int(e["expensive_users"]) > 0 and e.get("cheap_rps")]
    groups = {}
    for entry in loaded:
        groups.setdefault(_series_key(entry, "model", "cpus", "algorithm"), []).append(entry)
    many_cpus = len({k[1] for k in groups}) > 1
    for (model, cpus, algorithm), entries in sorted(groups.items()):
        entries.sort(key=lambda e: e["switch_interval_s"])
        xs = [e["switch_interval_s"] for e in entries]
        ys = [_median(e, "cheap_rps") for e in entries]
        label = f"{model}, with expensive" + (f" (cpus={cpus})" if many_cpus else "")
        line = ax.errorbar(xs, _floor(ys), yerr=_errors(entries, "cheap_rps", ys), marker="o", capsize=4,
                           linewidth=2, label=label)
        alone = [_median(e, "cheap_rps_alone") or 0 for e in entries]
        ax.plot(xs, _floor(alone), linestyle="--", marker=".", color=line[0].get_color(), alpha=0.6,
                label=f"{model}, cheap alone")
    if loaded:
        xs = sorted({e["switch_interval_s"] for e in loaded} | {p[0] for p in REFERENCE_POINTS})
        ax.plot(xs, [1 / (2 * x) for x in xs], color="black", linestyle=":", label="model 1/(2 x interval)")
    ax.scatter([p[0] for p in REFERENCE_POINTS], [p[1] for p in REFERENCE_POINTS], marker="*", s=160,
               color="goldenrod", edgecolor="black", zorder=5, label="published (Python behind the scenes #13)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("switch interval (s, log)")
    ax.set_ylabel("cheap requests/s answered (server count, log)")
    ax.set_title("Cheap throughput next to one CPU-bound request, by switch interval")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best", title=f"0 is drawn at {LOG_FLOOR}", title_fontsize=7)
    _save(fig, path)


def _cpus_x(cpus, host_cores):
    """Where a CPU limit sits on the x axis: "all" gets its own place right of the largest number."""
    return host_cores + 0.5 if str(cpus) == ALL_CORES else cpus_value(cpus, host_cores)


def throughput_vs_cpus(summary, path, host_cores):
    fig, ax = plt.subplots(figsize=(10, 5.5))
    groups = {}
    for entry in summary:
        groups.setdefault(_series_key(entry, "model", "switch_interval_s", "algorithm"), []).append(entry)
    many_intervals = len({k[1] for k in groups}) > 1
    for (model, interval, algorithm), entries in sorted(groups.items()):
        entries.sort(key=lambda e: _cpus_x(e["cpus"], host_cores))
        xs = [_cpus_x(e["cpus"], host_cores) for e in entries]
        suffix = f" si={interval_label(interval)}" if many_intervals else ""
        alone = [_median(e, "cheap_rps_alone") or 0 for e in entries]
        line = ax.errorbar(xs, alone, yerr=_errors(entries, "cheap_rps_alone", alone), marker="s", capsize=4,
                           linestyle="--", alpha=0.6, label=f"{model}{suffix}, cheap alone")
        if any(e.get("cheap_rps") for e in entries):
            loaded = [_median(e, "cheap_rps") or 0 for e in entries]
            ax.errorbar(xs, loaded, yerr=_errors(entries, "cheap_rps", loaded), marker="o", capsize=4,
                        linewidth=2.5, color=line[0].get_color(), label=f"{model}{suffix}, with expensive")
    ticks = sorted({(_cpus_x(e["cpus"], host_cores), str(e["cpus"])) for e in summary})
    ax.set_xticks([x for x, _ in ticks], [f"all ({host_cores})" if t == ALL_CORES else t for _, t in ticks])
    ax.set_xlim(0, max([host_cores + 0.75, *(x + 0.25 for x, _ in ticks)]))
    ax.set_xlabel("CPU limit (cores)")
    ax.set_ylabel("cheap requests/s answered (server count)")
    ax.set_ylim(bottom=0)
    ax.set_title("Cheap throughput by CPU limit" + (" (one limit in this matrix)" if len(ticks) == 1 else ""))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def convoy_ratio(summary, path):
    entries = [e for e in summary if e.get("convoy_ratio")]
    labels, values = [], []
    for entry in entries:
        labels.append(f"{_who(entry)} si={interval_label(entry['switch_interval_s'])} cpus={entry['cpus']}"
                      f" {entry['cheap_users']}c+{entry['expensive_users']}e")
        values.append(_median(entry, "convoy_ratio"))
    height = max(3.0, 0.45 * len(entries) + 1.5)
    width = max(8.0, 5.0 + 0.085 * max(map(len, labels), default=0))  # room for long labels left of the bars
    fig, ax = plt.subplots(figsize=(width, height))
    colors = ["tab:red" if v < 0.2 else "tab:orange" if v < 0.6 else "tab:green" for v in values]
    ax.barh(range(len(values)), values, xerr=_errors(entries, "convoy_ratio", values), color=colors, capsize=4)
    for y, (v, entry) in enumerate(zip(values, entries)):  # the label right of the bar and its spread
        ax.text(max(v, entry["convoy_ratio"]["max"]) + 0.02, y, f"{v:.2f}", va="center", fontsize=8)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linestyle=":", linewidth=1)
    ax.set_xlim(0, max([1.15] + [max(v, e["convoy_ratio"]["max"]) + 0.2 for v, e in zip(values, entries)]))
    ax.set_xlabel("convoy ratio = cheap req/s with the expensive stream / without it (1 = unharmed)")
    ax.set_title("How much of the cheap stream survives one expensive request")
    if not entries:
        ax.text(0.5, 0.5, "no cell with an expensive stream", ha="center", transform=ax.transAxes)
    _save(fig, path)


def _save(fig, path):
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(summary, out_dir, host_cores):
    folder = os.path.join(out_dir, "plots")
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, name) for name in FILES]
    throughput_vs_switch_interval(summary, paths[0])
    throughput_vs_cpus(summary, paths[1], host_cores)
    convoy_ratio(summary, paths[2])
    return paths

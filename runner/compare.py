"""`compare A B`: two results folders (two hosts, or two runs) side by side, cell by cell, as a Markdown table.
Cells are matched by their stable id; a cell measured on only one side is listed with a dash on the other.
"""
import json
import os

from runner import results
from runner.report import fmt, python_label
from runner.results import interval_label


class CompareError(ValueError):
    pass


def load(folder):
    try:
        rows = results.read_csv(folder)
        with open(os.path.join(folder, "metadata.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError, KeyError) as exc:
        raise CompareError(f"{folder}: not a results folder ({exc})") from None
    return meta, {entry["cell"]: entry for entry in results.summarise(rows)}


def _host(meta):
    return (f"{meta.get('cpu_model')}, {meta.get('cpu_cores')} cores, kernel {meta.get('kernel')}, "
            f"Python {meta.get('python_version')}, backend {meta.get('backend')}, git {str(meta.get('git_revision'))[:10]}")


def _ratio(a, b, metric):
    if not a or not b or not a.get(metric) or not b.get(metric) or not a[metric]["median"]:
        return "–"
    return f"{b[metric]['median'] / a[metric]['median']:.2f}x"


def compare(folder_a, folder_b):
    meta_a, cells_a = load(folder_a)
    meta_b, cells_b = load(folder_b)
    lines = ["# Comparison", "", f"- **A** `{folder_a}`: {_host(meta_a)}", f"- **B** `{folder_b}`: {_host(meta_b)}", "",
             "| cell | A python (GIL) | B python (GIL) | A cheap req/s alone | B cheap req/s alone | A with expensive | "
             "B with expensive | B/A with expensive | A convoy | B convoy |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in list(dict.fromkeys([*cells_a, *cells_b])):
        a, b = cells_a.get(key), cells_b.get(key)
        some = a or b
        name = (f"{some['model']} si={interval_label(some['switch_interval_s'])} cpus={some['cpus']} "
                f"{'/'.join(dict.fromkeys(e['placement'] for e in (a, b) if e))} "
                f"{some['cheap_users']}c+{some['expensive_users']}e {some['algorithm']}"
                + (f" python={some['python']}" if some.get("python") else ""))
        bound = [side for side, entry in (("A", a), ("B", b)) if entry and entry.get("client_bound")]
        if bound:  # its cheap figures may measure Locust rather than the server
            name += f" (client-bound in {' and '.join(bound)})"
        lines.append(f"| {name} | {python_label(a) if a else '–'} | {python_label(b) if b else '–'} | "
                     f"{fmt(a and a.get('cheap_rps_alone'))} | {fmt(b and b.get('cheap_rps_alone'))} | "
                     f"{fmt(a and a.get('cheap_rps'), 1)} | {fmt(b and b.get('cheap_rps'), 1)} | "
                     f"{_ratio(a, b, 'cheap_rps')} | {fmt(a and a.get('convoy_ratio'), percent=True)} | "
                     f"{fmt(b and b.get('convoy_ratio'), percent=True)} |")
    return "\n".join(lines) + "\n"

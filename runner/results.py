"""The results folder: one JSON per measured cell, results.csv (stable, documented columns) and the summary
(median and spread over repetitions) that the report, the plots and `compare` read.
"""
import csv
import json
import math
import os
import statistics

from runner.locust_cpu import CLIENT_BOUND_CORES, is_client_bound
from runner.spec import ALL_CORES, DEFAULT_PLACEMENT, FREE_THREADED, GIL, format_seconds, placement_of

# The CSV's columns, in order, with their meaning. Append new columns at the end; never rename or reorder.
COLUMNS = [
    ("cell", "stable id of the cell: model, switch interval, CPU limit, load, algorithm, workers[, python]"),
    ("repetition", "1-based repetition of the cell"),
    ("status", "ok, or error (then see the error column)"),
    ("backend", "native or compose"),
    ("model", "server concurrency model: thread, pool, process or serial"),
    ("switch_interval_s", "sys.setswitchinterval of the server, seconds"),
    ("cpus", "CPU limit asked for: cores, or 'all'"),
    ("cheap_users", "Locust users sending the cheap request (n = cheap_n) back to back"),
    ("expensive_users", "Locust users sending the expensive request (n = expensive_n) in phase 'with'"),
    ("algorithm", "server prime algorithm: naive or sqrt"),
    ("workers", "server --workers (pool and process models)"),
    ("python", "interpreter of the server ('' = the runner's own)"),
    ("window_s", "length of each measurement window, seconds (after the warm-up)"),
    ("cheap_rps_alone", "cheap answers/s counted by the server with the cheap stream alone"),
    ("cheap_rps", "cheap answers/s counted by the server with the expensive stream running (the lesson's figure)"),
    ("cheap_rps_locust_alone", "cheap requests/s seen by Locust, cheap stream alone"),
    ("cheap_rps_locust", "cheap requests/s seen by Locust, with the expensive stream"),
    ("convoy_ratio", "cheap_rps / cheap_rps_alone: 1 = the expensive stream costs nothing, 0 = total convoy"),
    ("model_rps", "the lesson's model 1 / (2 x switch interval): cheap requests/s next to one CPU-bound thread"),
    ("cheap_p50_ms_alone", "cheap latency median (Locust, ms; whole ms below 100 ms), cheap stream alone"),
    ("cheap_p99_ms_alone", "cheap latency 99th percentile (Locust, ms), cheap stream alone"),
    ("cheap_p50_ms", "cheap latency median (Locust, ms), with the expensive stream"),
    ("cheap_p99_ms", "cheap latency 99th percentile (Locust, ms), with the expensive stream"),
    ("cheap_avg_ms", "cheap latency mean (Locust, ms, exact), with the expensive stream"),
    ("cheap_failures", "failed cheap requests in both windows (wrong answer, ERR, timeout)"),
    ("expensive_latency_ms", "mean latency of expensive requests completed in the window ('' = none finished)"),
    ("expensive_completed", "expensive requests the server completed in the window"),
    ("expensive_in_flight", "expensive requests still computing at the end of the window"),
    ("cpu_used_cores", "server CPU time / window with the expensive stream (cores busy)"),
    ("cpu_used_cores_alone", "server CPU time / window, cheap stream alone"),
    ("cpu_limit_cores", "primes_cpu_limit_cores as the server saw it (quota/period, else usable CPUs)"),
    ("throttled_fraction", "CFS periods throttled / periods, with the expensive stream ('' where no quota)"),
    ("server_gil", "primes_server_info gil_enabled of the server's interpreter"),
    ("server_python", "primes_server_info python_version of the server's interpreter"),
    ("error", "why the cell failed (status = error)"),
    # The free-threaded columns came later: appended, so older results.csv files keep their column order.
    ("python_build", "gil or free-threaded: the server's build, from its GIL state (server_gil)"),
    ("gil_enabled_alone", "primes_gil_enabled (1/0) at the end of the cheap-alone window"),
    ("gil_enabled", "primes_gil_enabled (1/0) at the end of the window with the expensive stream"),
    # Added with the placement axis, after the columns above:
    ("placement", "pinned (the server may run only on `cpus` cores) or quota (a CFS quota of `cpus` cores, every "
                  "core allowed); results written before this column are read as quota (compose) or pinned (native)"),
    ("cpuset_cores", "primes_cpu_cpuset_cores: CPUs the server could run on (cpuset within its affinity)"),
    ("quota_cores", "primes_cpu_quota_cores: the server's CFS quota in cores ('' = none)"),
    # Added with the load generator's own CPU (is the client the limit?), after the columns above:
    ("locust_processes", "Locust processes that made the load: 1 (one local process), or the master + workers"),
    ("locust_cpu_max_alone", "CPU of the busiest Locust process / window (cores; 1 = a whole core), cheap stream alone"),
    ("locust_cpu_max", "CPU of the busiest Locust process / window (cores), with the expensive stream"),
    ("client_bound", f"1: a Locust process used >= {CLIENT_BOUND_CORES:g} of a core in a window, so the cheap stream "
                     "may have measured Locust, not the server (add Locust workers); 0: no; '' = not measured"),
]
COLUMN_NAMES = [name for name, _ in COLUMNS]
SUMMARY_METRICS = ("cheap_rps_alone", "cheap_rps", "convoy_ratio", "cheap_p50_ms", "cheap_p99_ms",
                   "cpu_used_cores", "throttled_fraction", "locust_cpu_max_alone", "locust_cpu_max")


BUILD_OF = {"true": GIL, "false": FREE_THREADED}  # server_gil -> the python axis' name of that build


def _flag(value):
    return "" if value is None else int(value)


def row_for(backend, cell, repetition, record=None, error=None):
    """One CSV row (dict) from a cell's measurement record, or from its error."""
    row = dict.fromkeys(COLUMN_NAMES, "")
    row.update(cell=cell.key, repetition=repetition, status="error" if error else "ok", backend=backend,
               model=cell.model, switch_interval_s=cell.switch_interval_s,
               cpus=cell.cpus if cell.cpus == ALL_CORES else f"{cell.cpus:g}",
               cheap_users=cell.cheap_users, expensive_users=cell.expensive_users, algorithm=cell.algorithm,
               workers=cell.workers, python=cell.python or "", error=error or "",
               placement=placement_of(cell, backend))
    if record:
        alone, loaded = record["alone"], record["with_expensive"] or {}
        info = alone.get("server_info") or {}
        row.update(window_s=alone["window_s"], cheap_rps_alone=alone["cheap_rps_server"],
                   cheap_rps_locust_alone=alone["cheap_rps_locust"], cheap_p50_ms_alone=alone["cheap_p50_ms"],
                   cheap_p99_ms_alone=alone["cheap_p99_ms"], cpu_used_cores_alone=alone["cpu_used_cores"],
                   cpu_limit_cores=alone["cpu_limit_cores"], model_rps=record["model_rps"],
                   convoy_ratio=record["convoy_ratio"], server_gil=info.get("gil_enabled", ""),
                   server_python=info.get("python_version", ""), python_build=BUILD_OF.get(info.get("gil_enabled"), ""),
                   gil_enabled_alone=_flag(alone.get("gil_enabled")), cpuset_cores=alone.get("cpuset_cores"),
                   quota_cores=alone.get("quota_cores"),
                   cheap_failures=alone["cheap_failures"] + loaded.get("cheap_failures", 0))
        busiest = [phase.get("locust_cpu_max_cores") for phase in (alone, loaded) if phase]
        measured = [cores for cores in busiest if cores is not None]
        row.update(locust_processes=len(alone.get("locust_cpu_cores") or {}) or "",
                   locust_cpu_max_alone=alone.get("locust_cpu_max_cores"),
                   client_bound=_flag(is_client_bound(max(measured)) if measured else None))
        if loaded:
            row.update(locust_cpu_max=loaded.get("locust_cpu_max_cores"))
            row.update(cheap_rps=loaded["cheap_rps_server"], cheap_rps_locust=loaded["cheap_rps_locust"],
                       cheap_p50_ms=loaded["cheap_p50_ms"], cheap_p99_ms=loaded["cheap_p99_ms"],
                       cheap_avg_ms=loaded["cheap_avg_ms"], expensive_latency_ms=loaded["expensive_latency_ms"],
                       expensive_completed=loaded["expensive_completed"],
                       expensive_in_flight=loaded["expensive_in_flight"], cpu_used_cores=loaded["cpu_used_cores"],
                       throttled_fraction=loaded["throttled_fraction"], gil_enabled=_flag(loaded.get("gil_enabled")))
    return {key: ("" if value is None else value) for key, value in row.items()}


def write_cell_json(out_dir, index, cell, repetition, payload):
    folder = os.path.join(out_dir, "cells")
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{index:03d}-{cell.key}-r{repetition}.json")
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, default=str)
    return path


def write_csv(out_dir, rows):
    path = os.path.join(out_dir, "results.csv")
    with open(path + ".tmp", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMN_NAMES)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(path + ".tmp", path)  # a reader (or a Ctrl-C) never sees half a file
    return path


def read_csv(out_dir):
    with open(os.path.join(out_dir, "results.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def summarise(rows):
    """Group the ok rows by cell: parameters, repetitions, and per metric {median, min, max, n}."""
    groups = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        groups.setdefault(row["cell"], []).append(row)
    summary = []
    for key, members in groups.items():
        first = members[0]
        entry = {name: first.get(name, "") for name in ("cell", "model", "switch_interval_s", "cpus", "cheap_users",
                                                         "expensive_users", "algorithm", "workers", "python",
                                                         "python_build", "server_gil")}
        # The GIL state the server reported in every repetition (several values would mean it changed).
        entry["server_gil"] = "/".join(sorted({m.get("server_gil", "") for m in members})) or ""
        entry["placement"] = row_placement(first)
        entry["switch_interval_s"] = float(entry["switch_interval_s"])
        for name in ("cheap_users", "expensive_users", "workers"):  # numbers, from a run or from results.csv
            entry[name] = int(entry[name])
        entry["model_rps"] = _float(first["model_rps"])
        # str(): a run's rows hold ints, rows read back from results.csv strings; both must summarise alike
        flags = {str(m.get("client_bound", "")) for m in members} - {""}
        entry["client_bound"] = None if not flags else "1" in flags  # bound in any repetition
        entry["locust_processes"] = str(first.get("locust_processes") or "")
        entry["repetitions"] = len(members)
        for metric in SUMMARY_METRICS:
            # .get: results folders written before a column existed lack it (then empty).
            values = [v for v in (_float(m.get(metric)) for m in members) if v is not None]
            entry[metric] = ({"median": statistics.median(values), "min": min(values), "max": max(values),
                              "n": len(values)} if values else None)
        summary.append(entry)
    return summary


def row_placement(row):
    """A CSV row's placement; rows written before the column had their backend's (compose quota, native pinned)."""
    return row.get("placement") or DEFAULT_PLACEMENT.get(row.get("backend"), "")


def cpus_value(text, host_cores):
    """The CPU limit as a number of cores for plotting ('all' -> the host's cores)."""
    return float(host_cores) if str(text) == ALL_CORES else float(text)


def interval_label(seconds):
    return format_seconds(float(seconds))

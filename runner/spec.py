"""The experiment file: YAML matrix (model x switch interval x CPU limit x load x ...) -> validated list of cells.
Every error in the file is collected and reported at once, one line each, before any load starts.
"""
import dataclasses
import itertools
import math
import os
import re
import shutil

import yaml

MODELS = ("thread", "pool", "process", "serial")  # server/config.py's MODELS (loadgen is its own build context)
ALGORITHMS = ("naive", "sqrt")
TOP_KEYS = ("description", "repetitions", "warmup", "measure", "idle", "cheap_n", "expensive_n", "matrix")
UNITS_S = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([^\s0-9.]*)\s*$")
ALL_CORES = "all"
# The python axis' named builds: the compose backend maps them to its two server services, the native
# backend to an interpreter on this host; any other value is an interpreter path (native backend only).
GIL, FREE_THREADED = "gil", "free-threaded"
PYTHON_BUILDS = (GIL, FREE_THREADED)
# The placement axis: how the CPU limit is applied. pinned: the server may run only on the first `cpus` cores
# (cpuset / affinity; whole cores), as in the lesson. quota: a CFS quota of `cpus` cores, the server's threads
# free to run on every core in bursts. Without the axis each backend applies its own (DEFAULT_PLACEMENT).
PINNED, QUOTA = "pinned", "quota"
PLACEMENTS = (PINNED, QUOTA)
DEFAULT_PLACEMENT = {"native": PINNED, "compose": QUOTA}  # also how results without the column are read


def placement_of(cell, backend):
    """The placement a cell runs with on a backend: its own, else the backend's default."""
    return cell.placement or DEFAULT_PLACEMENT[backend]


class SpecError(ValueError):
    """An experiment file that cannot run; .errors holds one message per problem."""

    def __init__(self, source, errors):
        self.source = source
        self.errors = list(errors)
        super().__init__(f"{source}: {len(self.errors)} error(s):\n" + "\n".join(f"  - {e}" for e in self.errors))


@dataclasses.dataclass(frozen=True)
class Cell:
    """One condition of the matrix; every repetition of it is measured the same way."""
    model: str
    switch_interval_s: float
    cpus: object  # a number of cores, or "all"
    cheap_users: int
    expensive_users: int
    algorithm: str
    workers: int
    python: str | None  # interpreter for the server (native backend); None: the runner's own
    placement: str | None = None  # pinned or quota; None: the backend's default (DEFAULT_PLACEMENT)

    @property
    def key(self):
        """Stable id used in file names and to match cells across hosts (compare)."""
        cpus = self.cpus if self.cpus == ALL_CORES else f"{self.cpus:g}"
        parts = [self.model, f"si{format_seconds(self.switch_interval_s)}", f"cpus{cpus}",
                 f"{self.cheap_users}c{self.expensive_users}e", self.algorithm, f"w{self.workers}"]
        if self.python:
            parts.append("py-" + re.sub(r"[^A-Za-z0-9.]+", "_", os.path.basename(self.python)))
        if self.placement:  # only when chosen, so the ids of files without the axis stay as they were
            parts.append(self.placement)
        return "_".join(parts)

    @property
    def label(self):
        cpus = self.cpus if self.cpus == ALL_CORES else f"{self.cpus:g}"
        text = (f"{self.model} si={format_seconds(self.switch_interval_s)} cpus={cpus} "
                f"load={self.cheap_users}c+{self.expensive_users}e")
        text += f" python={self.python}" if self.python else ""
        return text + (f" placement={self.placement}" if self.placement else "")


@dataclasses.dataclass(frozen=True)
class Experiment:
    source: str
    text: str  # the YAML as written, copied into the results
    description: str
    repetitions: int
    warmup_s: float
    measure_s: float
    idle_s: float
    cheap_n: int
    expensive_n: int
    cells: tuple

    def planned_cell_seconds(self):
        """A lower bound of one cell's wall time: two phases (alone, with the expensive stream) plus the gap."""
        return 2 * (self.warmup_s + self.measure_s) + self.idle_s


def format_seconds(seconds):
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:g}{unit}"
    return f"{seconds:g}s"


def parse_seconds(value, allow_zero=False):
    """0.005, "5ms", "0.5 ms", "100us", "2s", "1min" -> seconds (float). Raises ValueError with the reason."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _QUANTITY.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (write e.g. 5ms, 0.5 ms, 100us, 2s)")
        number, unit = match.groups()
        if unit and unit not in UNITS_S:
            raise ValueError(f"{value!r}: bad unit {unit!r} (use one of {', '.join(UNITS_S)}; a bare number is seconds)")
        seconds = float(number) * UNITS_S.get(unit or "s")
    else:
        raise ValueError(f"{value!r} is not a duration")
    if allow_zero and seconds == 0:
        return 0.0
    if not 0 < seconds < math.inf:
        raise ValueError(f"{value!r} must be a positive duration")
    return seconds


# ---- the matrix axes: name -> (parser, default). A parser returns the value or raises ValueError. ----

def _model(value):
    if value not in MODELS:
        raise ValueError(f"{value!r} is not a model (one of {', '.join(MODELS)})")
    return value


def _algorithm(value):
    if value not in ALGORITHMS:
        raise ValueError(f"{value!r} is not an algorithm (one of {', '.join(ALGORITHMS)})")
    return value


def _switch_interval(value):
    seconds = parse_seconds(value)
    if seconds > 60:  # the server's control endpoint refuses more; minutes would freeze the lab
        raise ValueError(f"{value!r}: a switch interval above 60 s freezes the server")
    return seconds


def _cpus(value):
    if value == ALL_CORES:
        return ALL_CORES
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < math.inf:
        raise ValueError(f"{value!r} is not a CPU limit (a positive number of cores, e.g. 0.5 or 2, or 'all')")
    return float(value)


def _load(value):
    if not isinstance(value, dict) or set(map(str, value)) - {"cheap", "expensive"}:
        raise ValueError(f"{value!r} is not a load (write {{cheap: 1, expensive: 1}}: users of each stream)")
    counts = {}
    for kind in ("cheap", "expensive"):
        count = value.get(kind, 0)
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{value!r}: {kind} must be a whole number of users >= 0")
        counts[kind] = count
    if counts["cheap"] < 1:
        raise ValueError(f"{value!r}: at least one cheap user is needed (the cheap stream is what is measured)")
    return counts["cheap"], counts["expensive"]


def _workers(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{value!r} is not a number of workers (a whole number >= 1)")
    return value


def _python(value):
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{value!r} is not a python (write {GIL} or {FREE_THREADED}, or, for the native backend, "
                         f"an interpreter path or command name such as python3.13t)")
    return value.strip()


def _placement(value):
    if value is None:
        return None
    if value not in PLACEMENTS:
        raise ValueError(f"{value!r} is not a placement (one of {', '.join(PLACEMENTS)}: pinned cores, or a CFS "
                         f"quota of that many cores)")
    return value


# Defaults are written as in the YAML file and parsed like any value.
AXES = {
    "model": (_model, "thread"),
    "switch_interval": (_switch_interval, 0.005),
    "cpus": (_cpus, 1.0),
    "load": (_load, {"cheap": 1, "expensive": 1}),
    "algorithm": (_algorithm, "naive"),
    "workers": (_workers, 4),
    "python": (_python, None),  # gil / free-threaded, or an interpreter path; checked by the backend
    "placement": (_placement, None),  # pinned / quota; None: the backend's default
}


def python_problem(python):
    """Why an interpreter path/name cannot run the server, or None."""
    found = shutil.which(python) if os.sep not in python else (python if os.access(python, os.X_OK) else None)
    return None if found else f"python {python!r}: no such interpreter here (not found or not executable)"


def _int_setting(raw, key, default, errors, minimum=1):
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        errors.append(f"{key}: must be a whole number >= {minimum}, got {value!r}")
        return default
    return value


def _seconds_setting(raw, key, default, errors, allow_zero=False):
    value = raw.get(key, default)
    try:
        return parse_seconds(value, allow_zero=allow_zero)
    except ValueError as exc:
        errors.append(f"{key}: {exc}")
        return parse_seconds(default)


def _expand(where, block, errors):
    """One matrix block (a mapping of axis -> list of values) -> its cells (the cartesian product)."""
    if not isinstance(block, dict):
        errors.append(f"{where}: must be a mapping of axis -> list of values (axes: {', '.join(AXES)})")
        return []
    values = {}
    for name in block:
        if name not in AXES:
            errors.append(f"{where}: unknown axis {name!r} (axes: {', '.join(AXES)})")
    for name, (parse, default) in AXES.items():
        raw = block.get(name, [default])
        if not isinstance(raw, list):
            raw = [raw]
        if not raw:
            errors.append(f"{where}.{name}: empty list (an empty axis makes an empty matrix)")
            return []
        parsed = []
        for value in raw:
            try:
                parsed.append(parse(value))
            except ValueError as exc:
                errors.append(f"{where}.{name}: {exc}")
        values[name] = parsed
    if any(not v for v in values.values()):
        return []
    cells = []
    for model, interval, cpus, load, algorithm, workers, python, placement in itertools.product(
            *(values[name] for name in AXES)):
        if placement == PINNED and cpus != ALL_CORES and cpus != int(cpus):
            errors.append(f"{where}: cpus {cpus:g} with placement pinned: pinned cores are whole cores (a fraction "
                          f"of a core is a quota: placement quota)")
            continue
        cells.append(Cell(model=model, switch_interval_s=interval, cpus=cpus, cheap_users=load[0],
                          expensive_users=load[1], algorithm=algorithm, workers=workers, python=python,
                          placement=placement))
    return cells


def parse_experiment(text, source="<experiment>"):
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(source, [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, dict):
        raise SpecError(source, [f"must be a mapping with keys {', '.join(TOP_KEYS)}"])
    errors = [f"unknown key {key!r} (allowed: {', '.join(TOP_KEYS)})" for key in raw if key not in TOP_KEYS]
    repetitions = _int_setting(raw, "repetitions", 1, errors)
    warmup = _seconds_setting(raw, "warmup", 2, errors, allow_zero=True)
    measure = _seconds_setting(raw, "measure", 5, errors)
    idle = _seconds_setting(raw, "idle", 1, errors, allow_zero=True)
    cheap_n = _int_setting(raw, "cheap_n", 1, errors)
    expensive_n = _int_setting(raw, "expensive_n", 100000, errors)
    matrix = raw.get("matrix")
    cells = []
    if matrix is None:
        errors.append("missing 'matrix' (a mapping of axis -> values, or a list of such mappings)")
    else:
        blocks = matrix if isinstance(matrix, list) else [matrix]
        if not blocks:
            errors.append("matrix: empty (no cells to run)")
        for index, block in enumerate(blocks):
            where = f"matrix[{index}]" if isinstance(matrix, list) else "matrix"
            cells += _expand(where, block, errors)
    if not errors and not cells:
        errors.append("matrix: empty (no cells to run)")
    unique = tuple(dict.fromkeys(cells))  # the same cell listed twice runs once
    if errors:
        raise SpecError(source, dict.fromkeys(errors))  # a bad pair of values is named once, not per cell
    return Experiment(source=source, text=text, description=str(raw.get("description") or ""),
                      repetitions=repetitions, warmup_s=warmup, measure_s=measure, idle_s=idle,
                      cheap_n=cheap_n, expensive_n=expensive_n, cells=unique)


def load_experiment(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise SpecError(path, [f"cannot read the experiment file: {exc.strerror or exc}"]) from None
    return parse_experiment(text, source=path)

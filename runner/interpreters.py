"""The native backend's python axis: which interpreter runs the server for `gil`, `free-threaded` or a path.
A free-threaded build is looked for on PATH (python3.14t, python3.13t) unless EXPERIMENT_FREE_THREADED_PYTHON names one.
"""
import os
import shutil
import subprocess
import sys

from runner.spec import FREE_THREADED, GIL, python_problem

FREE_THREADED_COMMANDS = ("python3.14t", "python3.13t")
FREE_THREADED_ENV = "EXPERIMENT_FREE_THREADED_PYTHON"
_PROBE = "import sys; f = getattr(sys, '_is_gil_enabled', None); print('true' if f is None or f() else 'false')"


def gil_enabled(python):
    """'true' / 'false' as the interpreter itself reports it (None if it cannot be asked)."""
    try:
        done = subprocess.run([python, "-c", _PROBE], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def free_threaded_interpreter():
    """A free-threaded interpreter on this host, or None."""
    named = os.environ.get(FREE_THREADED_ENV)
    candidates = [named] if named else [c for c in FREE_THREADED_COMMANDS if shutil.which(c)]
    for candidate in candidates:
        if gil_enabled(candidate) == "false":
            return candidate
    return None


def resolve(python):
    """(interpreter, problem): the command that runs the server for a cell's python value, or why none can."""
    if python in (None, GIL):
        if python == GIL and gil_enabled(sys.executable) != "true":
            return None, f"python {GIL}: the runner's own interpreter {sys.executable} runs without the GIL"
        return sys.executable, None
    if python == FREE_THREADED:
        found = free_threaded_interpreter()
        if found:
            return found, None
        where = (f"{FREE_THREADED_ENV}={os.environ[FREE_THREADED_ENV]} is not a free-threaded interpreter"
                 if os.environ.get(FREE_THREADED_ENV) else
                 f"none of {', '.join(FREE_THREADED_COMMANDS)} is on PATH (or set {FREE_THREADED_ENV})")
        return None, f"python {FREE_THREADED}: no free-threaded interpreter on this host: {where}"
    problem = python_problem(python)
    return (None, problem) if problem else (python, None)

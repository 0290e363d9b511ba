"""How busy the load generator was: CPU seconds of each Locust process, and the client_bound rule.

A Locust process runs its users on one thread (gevent), so it can use one core at most. A process that sits at
CLIENT_BOUND_CORES of a core or more through a measurement window was likely the limit of the cheap stream, not
the server: the cell is marked client_bound and the report says to add Locust workers.
"""
import os

CLIENT_BOUND_CORES = 0.9  # the same 90% of one core at which Locust itself warns "CPU usage above 90%!"


def proc_cpu_seconds(pid, proc_root="/proc"):
    """User + system CPU seconds of a process so far (Linux /proc/<pid>/stat), or None if it is gone."""
    try:
        with open(os.path.join(proc_root, str(pid), "stat")) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_cores(before, after, window_s):
    """{process: CPU seconds} at the start and end of a window -> {process: cores busy on average}."""
    if not before or not after or window_s <= 0:
        return {}
    return {name: max(0.0, after[name] - before[name]) / window_s
            for name in after if after[name] is not None and before.get(name) is not None}


def is_client_bound(busiest_cores):
    """True/False, or None when the Locust processes' CPU was not measured."""
    return None if busiest_cores is None else busiest_cores >= CLIENT_BOUND_CORES


def advice(processes):
    """What to do about a client-bound cell, given how many Locust processes measured it."""
    workers = max(processes - 1, 0) if processes > 1 else 0
    more = max(2, workers * 2)
    return (f"a Locust process was at >= {CLIENT_BOUND_CORES:.0%} of a core: the cheap stream measured Locust, not "
            f"only the server. Add Locust workers (--locust-workers {more}) on a host with cores to spare.")

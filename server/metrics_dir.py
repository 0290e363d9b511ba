"""The folder of the server's metric files (prometheus-client's multiprocess mode, read by the exporter),
and the removal of folders left behind by servers that were killed before they could remove their own."""
import os
import re
import shutil
import tempfile

PREFIX = "primes-metrics-"
_OWNER_IN_NAME = re.compile(re.escape(PREFIX) + r"(\d+)-")
_OWNER_IN_FILE = re.compile(r"_(\d+)\.db$")  # prometheus-client names its files <type>_<pid>.db


def create(parent=None):
    """Remove stale folders in `parent` (default: the temporary directory), then make ours, named after our pid.
    Returns (our folder, the stale folders removed)."""
    parent = parent or tempfile.gettempdir()
    removed = remove_stale(parent)
    return tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=parent), removed


def owners(path, name):
    """The pids a folder belongs to: from its name, or (older folders) from its metric files."""
    match = _OWNER_IN_NAME.match(name)
    if match:
        return {int(match.group(1))}
    return {int(match.group(1)) for file in os.listdir(path) if (match := _OWNER_IN_FILE.search(file))}


def is_alive(pid):
    if pid == os.getpid():
        return False  # not ours, since we have not made ours yet: a restarted container's pid 1
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale(parent):
    """Remove our user's metric folders whose owners are all dead; folders without a known owner are kept."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    for entry in entries:
        try:
            if (not entry.name.startswith(PREFIX) or not entry.is_dir(follow_symlinks=False)
                    or entry.stat(follow_symlinks=False).st_uid != os.getuid()):
                continue
            pids = owners(entry.path, entry.name)
        except OSError:
            continue  # gone meanwhile, or unreadable
        if pids and not any(is_alive(pid) for pid in pids):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed

"""Child processes that die with the server, even when it is killed with SIGKILL (Linux's parent-death signal).

The kernel sends the signal when the *thread* that started the child exits, not when the whole process does:
the server starts its children only from threads that live as long as the children should (the main thread,
the exporter's and the workers' supervisors).
"""
import os
import signal

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid):
    """Ask the kernel to SIGKILL this process when the thread that started it exits; exit now if that already
    happened (the parent may die between our start and this call)."""
    import ctypes  # here, not at import: only the children need it

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(ctypes.c_int(PR_SET_PDEATHSIG), ctypes.c_ulong(signal.SIGKILL), ctypes.c_ulong(0),
                  ctypes.c_ulong(0), ctypes.c_ulong(0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


def describe_exit(status):
    """A child's exit status (subprocess/multiprocessing style: negative for a signal) in words."""
    if status is None:
        return "is still running"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"

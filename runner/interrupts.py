"""Ctrl-C (SIGINT) and SIGTERM while an experiment runs: both stop the run, and neither can be lost.

Python installs its KeyboardInterrupt handler for SIGINT only when SIGINT was not inherited as ignored, and a
job started with `&` by a non-interactive shell (a CI script, `nohup`) inherits it ignored: the run would
then shrug off SIGINT. So the runner installs its own handler for both signals. The handler raises
KeyboardInterrupt where the main thread happens to be; if that is inside a finalizer (an I/O object's close
during garbage collection), Python discards the exception silently. The handler therefore also records the
signal, and the runner's wait loops call check(), which raises again until the run has stopped.
"""
import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received = []


def _handle(signum, frame):
    _received.append(signum)
    raise KeyboardInterrupt(f"signal {signum}")


def install():
    """Handle SIGINT and SIGTERM until restore(); returns the previous handlers for restore()."""
    _received.clear()
    return {signum: signal.signal(signum, _handle) for signum in STOP_SIGNALS}


def ignore():
    """Ignore both while the run cleans up (a second Ctrl-C must not cut the cleanup short)."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def restore(previous):
    """The handlers from before install(); the recorded signal is forgotten (it has stopped the run)."""
    _received.clear()
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def check():
    """Raise KeyboardInterrupt if a stop signal arrived (even one whose first KeyboardInterrupt was lost)."""
    if _received:
        raise KeyboardInterrupt(f"signal {_received[0]}")

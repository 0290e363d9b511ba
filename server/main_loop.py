"""The main thread's one wait: a stop signal, a switch interval change, or the seed's once-a-second monitor tick.

All three wake the same thread from one `sigtimedwait`, and each needs the GIL exactly once. With a hog at a long
switch interval every acquisition costs up to an interval, and a thread that loses a hand-off to another waiting
thread waits a whole interval more: one waiting thread instead of three (signals, control, monitor) keeps a stop
and a change at about one interval.

Every thread of the server blocks these signals (the mask is set before any thread starts), so they stay pending
until this wait takes them, whatever the main thread was doing when they came.
"""
import functools
import signal
import sys
import time

from server.control_link import CONTROL_SIGNAL

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
WAKE_SIGNALS = STOP_SIGNALS | {CONTROL_SIGNAL}
TICK_S = 1.0


class Monitor:
    """The seed's monitor: folds the connections' request counts into the metric files (server/metrics.py) and,
    if `prints`, prints the requests completed in each one-second window."""

    def __init__(self, metrics, prints, out=None):
        self.metrics = metrics
        self.prints = prints
        self.out = out or sys.stdout
        self._previous = metrics.completed_by_kind()
        self._was_idle = False

    def tick(self):
        """Fold; returns the line to print, or None. Pure Python: the caller keeps the GIL."""
        self.metrics.fold()
        if not self.prints:
            return None
        now = self.metrics.completed_by_kind()
        cheap, expensive = (int(now[k] - self._previous[k]) for k in ("cheap", "expensive"))
        idle = cheap + expensive == 0
        self._previous, was_idle, self._was_idle = now, self._was_idle, idle
        if idle and was_idle:  # one "0 requests/s" line when the load stops, not one per second
            return None
        return f"{cheap + expensive} requests/s (cheap {cheap}, expensive {expensive})\n"

    def show(self, line):
        # One write (print() writes the line and its newline apart when the output is unbuffered, as in the
        # container): each write lets the GIL go and may cost a whole interval to get it back.
        self.out.write(line)
        self.out.flush()


def run(monitor, on_control, tick_s=TICK_S):
    """Wait until a stop signal comes; returns its number. `on_control()` runs for each CONTROL_SIGNAL (and may
    run twice for one) and may return a callable that writes something (a log line), run later as the monitor's
    line is; `monitor.tick()` runs once every `tick_s` seconds. Call it from the main thread with WAKE_SIGNALS
    blocked."""
    next_tick = time.monotonic() + tick_s
    # Writes wait here and go out one at a time, each after a check for pending signals: a write lets the GIL
    # go and may cost a whole interval to get it back, and a signal that came meanwhile must not wait for the
    # next write's hand-back too.
    output = []
    while True:
        # A signal that came while this thread ticked, wrote, or waited for the GIL is acted on now: taking it
        # with sigtimedwait would let the GIL go and may cost another whole interval to get back.
        pending = signal.sigpending() & WAKE_SIGNALS  # no system call that lets the GIL go
        if pending & STOP_SIGNALS:
            return min(pending & STOP_SIGNALS)
        if CONTROL_SIGNAL in pending:
            _queue(output, on_control())
        if output:
            output.pop(0)()
            continue
        info = signal.sigtimedwait(WAKE_SIGNALS, max(0.0, next_tick - time.monotonic()))
        if info is None:
            line = monitor.tick()
            if line is not None:
                output.append(functools.partial(monitor.show, line))
            next_tick += tick_s
            now = time.monotonic()
            if next_tick <= now:  # the tick came late (a hog held the GIL): no burst of catch-up ticks
                next_tick = now + tick_s
        elif info.si_signo == CONTROL_SIGNAL:
            _queue(output, on_control())
        else:
            return info.si_signo


def _queue(output, write):
    if write is not None:
        output.append(write)

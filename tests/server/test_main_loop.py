"""The main thread's one wait (server/main_loop.py) and the control request slot (server/control_link.py), in
this process: signals are sent to pytest's main thread only (pthread_kill), with them blocked as in the server."""
import signal
import sys
import threading
import time

import pytest

from server import control_link, main_loop


@pytest.fixture
def wake_signals_blocked():
    old = signal.pthread_sigmask(signal.SIG_BLOCK, main_loop.WAKE_SIGNALS)
    try:
        yield threading.main_thread().ident
    finally:
        while signal.sigtimedwait(main_loop.WAKE_SIGNALS, 0) is not None:
            pass  # none left pending for the rest of the session
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


class Ticks:
    def __init__(self, on_tick=None):
        self.times = []
        self.on_tick = on_tick

    def tick(self):
        self.times.append(time.monotonic())
        if self.on_tick:
            self.on_tick(len(self.times))
        return None


def test_ticks_control_and_stop(wake_signals_blocked):
    main = wake_signals_blocked
    controls = []

    def later():
        time.sleep(0.12)
        signal.pthread_kill(main, control_link.CONTROL_SIGNAL)
        time.sleep(0.2)
        signal.pthread_kill(main, signal.SIGTERM)

    ticks = Ticks()
    sender = threading.Thread(target=later)
    started = time.monotonic()
    sender.start()
    assert main_loop.run(ticks, lambda: controls.append(time.monotonic()), tick_s=0.05) == signal.SIGTERM
    sender.join()
    assert len(controls) >= 1
    assert controls[0] - started < 0.3  # at once, not at a tick
    assert 3 <= len(ticks.times) <= 9  # every 0.05 s for about 0.32 s


def test_a_stop_that_comes_during_a_tick_ends_the_loop_without_waiting(wake_signals_blocked):
    main = wake_signals_blocked
    ticks = Ticks(on_tick=lambda count: signal.pthread_kill(main, signal.SIGINT) if count == 2 else None)
    started = time.monotonic()
    assert main_loop.run(ticks, lambda: None, tick_s=0.05) == signal.SIGINT
    assert len(ticks.times) == 2
    assert time.monotonic() - started < 0.5


def test_a_control_request_is_applied_once_and_replied_to(tmp_path):
    before = sys.getswitchinterval()
    changes = []
    slot = control_link.Slot(str(tmp_path), create=True)
    exporter_side = control_link.Slot(str(tmp_path))
    requests = control_link.Requests(slot, changes.append)
    try:
        assert requests.apply() == (None, None)  # nothing asked yet
        exporter_side.write(7, 0.002)
        assert requests.apply() == (b"ok 7 0.002\n", 0.002)
        assert requests.apply() == (None, None)  # the same request seen again: its signal was found pending
        assert sys.getswitchinterval() == 0.002 and changes == [0.002]
        exporter_side.write(8, 1e-9)  # the endpoint refuses it; the server must not trust that
        reply, changed = requests.apply()
        assert reply.startswith(b"error 8 the switch interval must be between") and changed is None
        assert sys.getswitchinterval() == 0.002
    finally:
        sys.setswitchinterval(before)
        slot.close()
        exporter_side.close()

"""The control link: how a switch interval change travels from the exporter's control endpoint into the server.

A change has to cost the server one GIL acquisition, since with a hog at a long switch interval each acquisition
costs up to a whole interval, and it must not race another server thread for it. So the server's main thread,
which waits for everything in one place (server/main_loop.py), also takes the changes: the exporter writes the
request into a small shared file (the slot), then sends the server CONTROL_SIGNAL. The signal ends the main
thread's wait; reading the slot is a memory read (no system call that would let the GIL go), so the new interval is
set within that one acquisition. The reply goes back over a socket pair, which the exporter also reads for the
server's `started` line and whose end tells it the server stopped.

Lines from the server: `started <seconds>`, `ok <number> <seconds>`, `error <number> <reason>`.
"""
import mmap
import os
import signal
import struct
import sys

from server.config import check_switch_interval

CONTROL_SIGNAL = signal.SIGRTMIN  # a real-time signal: queued, and nothing else sends it
SLOT_NAME = "control-request"  # in the metrics folder (prometheus-client reads only its *.db files there)
_SLOT = struct.Struct("<Qd")  # request number (0: none yet), seconds


class Slot:
    """The shared request slot: one request number and one interval, memory-mapped by the server and the exporter."""

    def __init__(self, folder, create=False):
        path = os.path.join(folder, SLOT_NAME)
        if create:
            with open(path, "wb") as f:
                f.write(bytes(_SLOT.size))
        with open(path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), _SLOT.size)

    def write(self, number, seconds):
        self._map[:_SLOT.size] = _SLOT.pack(number, seconds)

    def read(self):
        """(request number, seconds)."""
        return _SLOT.unpack(self._map[:_SLOT.size])

    def close(self):
        self._map.close()


def started_line():
    return f"started {sys.getswitchinterval()!r}\n".encode()


class Requests:
    """The server's side: applies the request in the slot once (a request may be seen twice: when its signal is
    found pending, and when the wait takes it)."""

    def __init__(self, slot, on_change):
        self.slot = slot
        self.on_change = on_change  # (seconds): a switch interval was set
        self._last = 0

    def apply(self):
        """(reply line or None if there is no new request, the interval set or None).

        Pure Python with no blocking call: the caller keeps the GIL from reading the request to setting the
        interval."""
        number, seconds = self.slot.read()
        if number == self._last:
            return None, None
        self._last = number
        try:
            check_switch_interval(seconds)  # the endpoint checked already; this side must not trust it blindly
        except ValueError as error:
            return f"error {number} {error}\n".encode(), None
        sys.setswitchinterval(seconds)
        seconds = sys.getswitchinterval()
        self.on_change(seconds)
        return f"ok {number} {seconds!r}\n".encode(), seconds

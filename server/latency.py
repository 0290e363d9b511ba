"""Receive timestamps: when the kernel received a request's bytes, so a latency can include the GIL wait.

A handler thread blocked in recv() wakes when its data arrives, then waits for the GIL before any Python
code runs; a clock read in Python starts after that wait. The kernel stamps each received segment instead
(SO_TIMESTAMPNS, CLOCK_REALTIME) and recvmsg() hands the stamp over with the data: one system call in place
of recv(), releasing the GIL at the same point. It costs a few microseconds more than recv(), so the server
takes a stamped receive at most once per SAMPLE_PERIOD on each connection; a slow request (a convoy's) comes
after a longer gap and is always sampled.
"""
import socket
import struct
import sys

# Python (3.13) does not name it; this is asm-generic's value, the one x86-64 and arm64 use.
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SAMPLE_PERIOD = 0.010  # seconds; matches the metric's help text (server/metrics.py)
NANOSECONDS = 1_000_000_000
_TIMESPEC = struct.Struct("@ll")  # struct timespec: time_t seconds, long nanoseconds
_ANCILLARY_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)


def enable(sock):
    """Ask the kernel to stamp what `sock` receives; False where it cannot (then no latency is sampled)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def receive(sock, size):
    """recv(size) that also returns when the kernel received the bytes, in CLOCK_REALTIME nanoseconds (the
    time.time_ns() clock), or None when the kernel gave no stamp (e.g. data queued before stamping began)."""
    data, ancillary, _flags, _address = sock.recvmsg(size, _ANCILLARY_SPACE)
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
            return data, seconds * NANOSECONDS + nanoseconds
    return data, None

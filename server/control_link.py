"""The server's end of the control link: the exporter's control endpoint sends `set <seconds>` over a socket pair.

One thread per exporter, blocked in recv: it wakes only when a change arrives and then needs the GIL once
(at a long switch interval with a hog running, that one acquisition is what a change costs). The reply is
sent before anything else that could wait for the GIL again, such as the log line.
"""
import logging
import sys
import threading

from server.config import check_switch_interval

log = logging.getLogger("server")
MAX_LINE_BYTES = 256


def answer(line, on_change):
    """(reply line, new interval or None) for one request line."""
    word, _, rest = line.decode("ascii", "replace").strip().partition(" ")
    if word != "set":
        return b"error unknown request\n", None
    try:
        seconds = check_switch_interval(float(rest))
    except ValueError as error:  # the endpoint checked already; this side must not trust it blindly
        return f"error {error}\n".encode(), None
    sys.setswitchinterval(seconds)
    seconds = sys.getswitchinterval()
    on_change(seconds)
    return f"ok {seconds!r}\n".encode(), seconds


def serve(sock, started, on_change):
    """Announce the current interval once the server has started, then answer until the exporter goes away."""
    started.wait()
    try:
        sock.sendall(f"started {sys.getswitchinterval()!r}\n".encode())
        reader = sock.makefile("rb")
        while line := reader.readline(MAX_LINE_BYTES):
            reply, changed = answer(line, on_change)
            sock.sendall(reply)
            if changed is not None:
                log.info("switch interval set to %gs", changed)
    except OSError:
        pass  # the exporter died or we are stopping; the supervisor takes it from here
    finally:
        sock.close()


def start(sock, started, on_change):
    thread = threading.Thread(target=serve, args=(sock, started, on_change), name="control-link", daemon=True)
    thread.start()
    return thread

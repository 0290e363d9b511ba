"""Client connections and the watcher that notices when a client goes away mid-computation.
The watcher is one thread blocked in epoll: it wakes only when a peer hangs up, never on a timer.
"""
import select
import socket
import struct
import threading

_HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_POLL_HANGUP = select.POLLRDHUP | select.POLLHUP | select.POLLERR


def _hung_up(fd):
    """True if the peer of `fd` has closed, half-closed or reset, whatever unread data it sent before.

    An epoll event may be stale (its fd closed and reused by a new connection), so the state is asked again;
    a read-ahead (a peek) would not do: it sees the unread bytes before the end-of-stream and says "alive".
    """
    checker = select.poll()
    checker.register(fd, _POLL_HANGUP)
    return any(mask & _POLL_HANGUP for _, mask in checker.poll(0))


def set_idle_timeout(sock, seconds):
    """A blocking recv() that waits longer than `seconds` for a request, or a send() to a client that stops
    reading, fails (EAGAIN) and the connection is closed.

    SO_RCVTIMEO/SO_SNDTIMEO, set once: the kernel keeps the clock, so the per-request path stays the seed's
    blocking recv() and send(), with no poll() in front of them (that would be one more GIL hand-off per
    request). A computation runs between recv() calls, so it is never timed.
    """
    whole = int(seconds)
    timeval = struct.pack("ll", whole, int((seconds - whole) * 1_000_000))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


class Connection:
    """One client socket and its cancel flag.

    `cancel_flag[0]` is what the compute loop reads; `cancel()` may be called from any thread.
    """

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self.cancel_flag = [False]
        self._lock = threading.Lock()
        self._on_cancel = None

    @property
    def cancelled(self):
        return self.cancel_flag[0]

    def cancel(self):
        with self._lock:
            self.cancel_flag[0] = True
            hook = self._on_cancel
        if hook is not None:
            hook()

    def on_cancel(self, hook):
        """Also run `hook` on cancel (e.g. to pass the cancel on to a worker process); None removes it."""
        with self._lock:
            self._on_cancel = hook
            already = self.cancel_flag[0]
        if hook is not None and already:
            hook()


class DisconnectWatcher:
    """Sets a connection's cancel flag when its peer hangs up (FIN, RST), while a computation may be running.

    A peer that half-closes (shutdown(SHUT_WR), e.g. `nc -N`) has stopped sending and is treated as gone.
    """

    def __init__(self):
        self._epoll = select.epoll()
        self._by_fd = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="disconnect-watcher", daemon=True)
        self._closed = False

    def start(self):
        self._thread.start()

    def add(self, connection):
        """Watch `connection`; once the watcher is closed (the server stops) it is cancelled instead."""
        with self._lock:
            if not self._closed:
                self._by_fd[connection.fd] = connection
                # one-shot: after one hang-up event the fd stays quiet, so a closed peer cannot make us spin.
                self._epoll.register(connection.fd, _HANGUP | select.EPOLLONESHOT)
                return
        connection.cancel()

    def remove(self, connection):
        with self._lock:
            # After close() handlers still finish and remove themselves: the epoll is gone, nothing to undo.
            if not self._closed and self._by_fd.get(connection.fd) is connection:
                del self._by_fd[connection.fd]
                try:
                    self._epoll.unregister(connection.fd)
                except OSError:
                    pass

    def connections(self):
        with self._lock:
            return list(self._by_fd.values())

    def _run(self):
        while not self._closed:
            try:
                events = self._epoll.poll()
            except (OSError, ValueError):
                return  # closed
            for fd, _ in events:
                with self._lock:
                    connection = self._by_fd.get(fd)
                if connection is None:
                    continue
                if _hung_up(fd):
                    connection.cancel()  # one-shot stays disarmed: a gone peer must not wake us again
                else:
                    self._rearm(connection)

    def _rearm(self, connection):
        with self._lock:
            if not self._closed and self._by_fd.get(connection.fd) is connection:
                try:
                    self._epoll.modify(connection.fd, _HANGUP | select.EPOLLONESHOT)
                except OSError:
                    pass

    def close(self):
        with self._lock:
            self._closed = True
            self._epoll.close()

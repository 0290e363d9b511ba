# Client connections and the watcher that notices when a client goes away mid-computation.
# The watcher is one thread blocked in epoll: it wakes only when a peer hangs up, never on a timer.
import select
import socket
import threading

_HANGUP = select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR


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
        with self._lock:
            self._by_fd[connection.fd] = connection
            # one-shot: after one hang-up event the fd stays quiet, so a closed peer cannot make us spin.
            self._epoll.register(connection.fd, _HANGUP | select.EPOLLONESHOT)

    def remove(self, connection):
        with self._lock:
            if self._by_fd.get(connection.fd) is connection:
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
            except OSError:
                return  # closed
            for fd, _ in events:
                with self._lock:
                    connection = self._by_fd.get(fd)
                if connection is not None and self._peer_gone(connection):
                    connection.cancel()

    @staticmethod
    def _peer_gone(connection):
        # The event may be stale (its fd closed and reused by a new connection): confirm end-of-stream.
        try:
            return connection.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    def close(self):
        self._closed = True
        self._epoll.close()

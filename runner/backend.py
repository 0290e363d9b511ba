"""What both backends share: their error type, the repository root and a free loopback port."""
import os
import socket

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class BackendError(RuntimeError):
    """A backend cannot set up or measure a cell (bad limit, missing container, failed command)."""


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it soon after)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

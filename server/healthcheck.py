"""The container's health check: ask the running server for the first prime over its own TCP port.
Exit 0 if it answers "2", 1 otherwise; used by the Dockerfile's HEALTHCHECK and compose.
"""
import os
import socket
import sys

from server.config import DEFAULT_PORT, env_name


def main():
    port = int(os.environ.get(env_name("--port")) or DEFAULT_PORT)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"1\n")
            answer = sock.recv(64)
    except OSError as error:
        print(f"unhealthy: {error}")
        return 1
    if answer != b"2\n":
        print(f"unhealthy: answered {answer!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

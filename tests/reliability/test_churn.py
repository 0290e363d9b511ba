"""primes_connections_total counts every connection a client made, even in a burst the server cannot
accept as fast as it comes.

The server counts a connection when it accepts it. A connection the kernel completed but had no room for
in the listen queue is not accepted until the handshake is retried (after 1 s, 3 s, 7 s...), and if the
client resets it meanwhile never: with the old backlog of 128 a churning load lost a few connections
between the client's count and the server's. The queue is now as long as the system allows.
"""
import socket
import struct

import pytest

from tests.support import ask, run_server, wait_until

pytestmark = pytest.mark.reliability

BURST = 600


def test_a_burst_while_the_server_is_busy_is_accepted_and_counted_exactly():
    # serial: while one client is served, the accept loop takes nobody else, so every newcomer waits in the
    # listen queue, exactly where a churning load waits when the accept thread falls behind.
    with run_server("--model", "serial", "--no-monitor") as server:
        before = server.metric("primes_connections_total")
        held = server.connect()
        assert ask(held, b"1\n") == b"2\n"
        burst = []
        try:
            for _ in range(BURST):
                sock = socket.socket()
                sock.settimeout(0.5)
                sock.connect(("127.0.0.1", server.port))  # with no room in the queue: a timeout
                burst.append(sock)
        finally:
            for sock in burst:  # leave at once with a reset, as an impatient client does
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            held.close()
        wait_until(lambda: server.metric("primes_connections_total") == before + BURST + 1, timeout=30)
        with server.connect() as sock:
            assert ask(sock, b"1\n") == b"2\n"
        assert server.metric("primes_connections_total") == before + BURST + 2

"""The protocol over real sockets against the real server process, for every concurrency model.
Seed clients unchanged, newline and pipelined clients, every bad input, and the server serving others throughout.
"""
import socket
import threading
import time

import pytest

from server.config import Config
from server.server import cheap_requests
from tests.support import ask, run_server, wait_until

MODELS = ["thread", "pool", "process", "serial"]


@pytest.fixture(scope="module", params=MODELS)
def server(request):
    with run_server("--model", request.param, "--workers", "2", "--max-n", "5000", "--max-connections", "4") as s:
        s.model = request.param
        yield s


def test_seed_clients_unchanged(server):
    # run_simple_client and run_long_request, byte for byte (a smaller n than 100000 so it finishes)
    with server.connect() as simple:
        for _ in range(50):
            simple.send("1".encode())
            assert simple.recv(4096) == b"2"
        if server.model != "serial":  # serial serves one connection at a time: the next waits for this one
            with server.connect() as long_request:
                long_request.send("1000".encode())
                assert long_request.recv(4096) == b"7919"
        simple.send("10".encode())
        assert simple.recv(4096) == b"29"
    with server.connect() as long_request:
        long_request.send("1000".encode())
        assert long_request.recv(4096) == b"7919"


def test_serial_serves_one_connection_at_a_time():
    with run_server("--model", "serial") as server:
        with server.connect() as first, server.connect() as second:
            assert ask(first, b"1\n") == b"2\n"
            second.sendall(b"1\n")
            second.settimeout(0.5)
            with pytest.raises(socket.timeout):
                second.recv(4096)  # waiting in the listen backlog
            first.close()
            second.settimeout(10)
            assert second.recv(4096) == b"2\n"


@pytest.mark.parametrize("payload,reply", [
    (b"abc\n", b"ERR not an integer\n"),
    (b"abc", b"ERR not an integer\n"),
    (b"\n", b"ERR not an integer\n"),
    (b"0\n", b"ERR n must be >= 1\n"),
    (b"-7\n", b"ERR n must be >= 1\n"),
    (b"5001\n", b"ERR n above maximum 5000\n"),
    (b"9" * 80 + b"\n", b"ERR request too long\n"),
    (b"9" * 80, b"ERR request too long\n"),
    (b"\xff\xfe\n", b"ERR not an integer\n"),
])
def test_bad_input_gets_an_error_and_the_connection_stays_usable(server, payload, reply):
    before = server.metric("primes_errors_total")
    with server.connect() as sock:
        assert ask(sock, payload) == reply
        # an over-long bare request has no end yet: it ends at the next newline (docs/protocol.md)
        ends = b"\n" if len(payload) > 64 and not payload.endswith(b"\n") else b""
        assert ask(sock, ends + b"10\n") == b"29\n"
    assert server.metric("primes_errors_total") == before + 1


def test_an_overlong_first_line_gets_exactly_one_error(server):
    # 10 KiB in one send arrives in several recv()s; replies must not shift (one error, then the next answer).
    with server.connect() as sock:
        sock.sendall(b"7" * 10240 + b"\n5\n")
        received = b""
        while received.count(b"\n") < 2:
            received += sock.recv(4096)
        assert received == b"ERR request too long\n11\n"
        assert ask(sock, b"6\n") == b"13\n"


def test_closed_and_reset_connections_do_not_hurt_the_server(server):
    # The seed's handler died on int(b"") when a client left; ours just closes.
    for _ in range(5):
        sock = server.connect()
        sock.close()
    sock = server.connect()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
    sock.send(b"1\n")
    sock.close()
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    with server.connect() as sock:
        assert ask(sock, b"1\n") == b"2\n"
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    assert "Traceback" not in server.log()


def test_too_many_connections(server):
    if server.model == "serial":
        pytest.skip("serial accepts one connection at a time; the rest wait in the listen backlog")
    held = [server.connect() for _ in range(4)]
    try:
        # all four admitted (in the pool model two of them wait for a free worker thread)
        wait_until(lambda: server.metric("primes_connections_active") == 4)
        with server.connect() as extra:
            assert extra.recv(4096) == b"ERR too many connections\n"
            assert extra.recv(4096) == b""  # then closed
        assert server.metric("primes_errors_total", reason="too_many_connections") >= 1
    finally:
        for sock in held:
            sock.close()
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    with server.connect() as sock:
        assert ask(sock, b"1\n") == b"2\n"


def test_the_cheap_request_table_holds_only_valid_requests_as_the_seed_writes_them():
    # n up to min(cheap_max_n, max_n) = 110; 100-110 are longer than 2 bytes: the general path, and an error
    table = cheap_requests(Config(cheap_max_n=120, max_n=110, max_request_bytes=2))
    assert table == {str(n).encode(): n for n in range(1, 100)}


def test_seed_style_requests_are_answered_and_counted_like_any_other(server):
    """Requests without a newline, as the seed's clients send them (the thread, pool and serial models answer
    them on a short path): errors in between, one cancelled, and then exact counts."""
    wait_until(lambda: server.metric("primes_connections_active") == 0)

    def counts():
        return (server.metric("primes_requests_total", kind="cheap"),
                server.metric("primes_request_duration_seconds_count", kind="cheap"),
                server.metric("primes_requests_total", kind="expensive"),
                server.metric("primes_errors_total"),
                server.metric("primes_cancelled_total", kind="expensive"))
    before = counts()
    with server.connect() as sock:
        for payload, reply in ((b"1", b"2"), (b"abc", b"ERR not an integer\n"), (b"7", b"17"),
                               (b"0", b"ERR n must be >= 1\n"), (b"0007", b"17"),
                               (b"5001", b"ERR n above maximum 5000\n"), (b"1000", b"7919"), (b"1", b"2")):
            assert ask(sock, payload) == reply
    with server.connect() as sock:
        sock.sendall(b"5000")  # seconds of computing: in progress until its client leaves
        wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
        assert server.metric("primes_requests_in_progress", kind="cheap") == 0
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 0)
    added = [after - earlier for after, earlier in zip(counts(), before)]
    assert added == [4, 4, 1, 3, 1]  # cheap, their durations, expensive, errors, cancelled


def test_counts_match_what_clients_sent(server):
    # A connection's counts reach the metrics as it closes: the earlier tests' last one may still be closing.
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    before_cheap = server.metric("primes_requests_total", kind="cheap")
    before_expensive = server.metric("primes_requests_total", kind="expensive")
    before_connections = server.metric("primes_connections_total")

    def client(count):
        with server.connect() as sock:
            for _ in range(count):
                assert ask(sock, b"7\n") == b"17\n"
    clients = 1 if server.model == "serial" else 3
    threads = [threading.Thread(target=client, args=(200,)) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with server.connect() as sock:
        assert ask(sock, b"1000\n") == b"7919\n"
    # A connection's counts are folded into the metric files as it closes, before it stops counting as active.
    wait_until(lambda: server.metric("primes_connections_active") == 0)
    assert server.metric("primes_requests_total", kind="cheap") == before_cheap + 200 * clients
    assert server.metric("primes_requests_total", kind="expensive") == before_expensive + 1
    assert server.metric("primes_connections_total") == before_connections + clients + 1
    info = [key for key in server.scrape() if key[0] == "primes_server_info"]
    assert dict(info[0][1])["model"] == server.model


def test_a_scrape_sees_answers_of_an_open_connection_within_a_second(server):
    """Counts are folded once a second by the monitor, not only when a connection closes."""
    wait_until(lambda: server.metric("primes_connections_active") == 0)  # the earlier tests' counts are in
    before = server.metric("primes_requests_total", kind="cheap")
    with server.connect() as sock:
        for _ in range(50):
            assert ask(sock, b"3\n") == b"5\n"
        answered = time.monotonic()
        wait_until(lambda: server.metric("primes_requests_total", kind="cheap") == before + 50, timeout=10)
        took = time.monotonic() - answered
    print(f"{server.model}: the scrape showed the 50 answers {took:.2f}s after the last")
    assert took < 3.0  # one second plus the monitor's wait for the GIL and the scrape, on a loaded machine

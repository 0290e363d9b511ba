"""The same server on a free-threaded CPython (built from Debian's source by server/Dockerfile) and on the GIL
build, side by side in the real Docker engine: GIL state, protocol, exact totals, the convoy gone without the GIL.
"""
import socket
import threading

import pytest

from tests.freethreaded.images import Container
from tests.support import ask, cheap_rate, docker, expensive_request, wait_until

# The first free-threaded build compiles CPython (about 6 min on 2 cores); later runs hit the layer cache.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]


def test_gil_state_is_reported(server):
    gil_expected = server.python_build == "gil"
    assert server.metric("primes_gil_enabled") == (1.0 if gil_expected else 0.0)
    info = [dict(labels) for (name, labels) in server.scrape() if name == "primes_server_info"]
    assert len(info) == 1
    assert info[0]["gil_enabled"] == ("true" if gil_expected else "false")
    assert info[0]["python_version"].startswith("3.13")
    assert ("GIL enabled" if gil_expected else "GIL disabled") in server.logs()


def test_same_protocol_on_both_builds(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as seed_client:
        assert ask(seed_client, b"1") == b"2"  # the seed's bare framing: no newline either way
        assert ask(seed_client, b"100") == b"541"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"1\n2\n3\n")
        received = b""
        while received.count(b"\n") < 3:
            received += sock.recv(4096)
        assert received == b"2\n3\n5\n"
        assert ask(sock, b"x\n") == b"ERR not an integer\n"
        assert ask(sock, b"0\n") == b"ERR n must be >= 1\n"
        assert ask(sock, b"10\n") == b"29\n"  # still open after errors


def test_exact_totals_under_parallel_load(server):
    """No lost increments: many clients in parallel, pipelined; the counters equal exactly what was sent."""
    clients, connections_each, rounds, pipeline = 16, 4, 10, 20
    # A connection's counts reach the metrics as it closes: the earlier tests' last one may still be closing.
    wait_until(lambda: server.metric("primes_connections_active") == 0, timeout=10)
    before = {"cheap": server.metric("primes_requests_total", kind="cheap"),
              "connections": server.metric("primes_connections_total"),
              "errors": server.metric("primes_errors_total", reason="not_an_integer")}
    failures = []

    def client():
        try:
            for _ in range(connections_each):
                with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
                    for _ in range(rounds):
                        sock.sendall(b"1\n" * pipeline)
                        received = b""
                        while received.count(b"\n") < pipeline:
                            chunk = sock.recv(65536)
                            if not chunk:
                                raise ConnectionError("closed by the server")
                            received += chunk
                        if received != b"2\n" * pipeline:
                            failures.append(f"wrong answers {received[:40]!r}")
                    if ask(sock, b"x\n") != b"ERR not an integer\n":
                        failures.append("wrong error")
        except OSError as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish in 300 s"
    assert failures == []
    sent = clients * connections_each * rounds * pipeline
    wait_until(lambda: server.metric("primes_connections_active") == 0, timeout=10)
    assert server.metric("primes_requests_total", kind="cheap") - before["cheap"] == sent
    assert server.metric("primes_connections_total") - before["connections"] == clients * connections_each
    assert server.metric("primes_errors_total", reason="not_an_integer") - before["errors"] == (
        clients * connections_each)


def test_convoy_only_with_the_gil(server):
    """One naive n=100000 request in flight: the GIL build's cheap stream collapses, the free-threaded one's not."""
    alone = cheap_rate(server.port, 2.0)
    with expensive_request(server.port):
        wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
        with_hog = cheap_rate(server.port, 2.0)
    kept = with_hog / alone
    print(f"{server.python_build}: {alone:,.0f} cheap req/s alone, {with_hog:,.0f} with one expensive request "
          f"({kept:.0%} kept)")
    if server.python_build == "free-threaded":
        assert kept >= 0.5
    else:
        assert kept < 0.5
    wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 0, timeout=5)


def test_runs_healthy_and_non_root(server):
    assert docker("exec", server.name, "id", "-u").stdout.strip() != "0"
    wait_until(lambda: server.state(".State.Health.Status") == "healthy", timeout=90, interval=1)


def test_free_threaded_refuses_to_run_with_the_gil(images):
    """PYTHON_GIL=1 turns the GIL on: the server exits with a clear message unless PRIMES_ALLOW_GIL=1."""
    with Container(images["free-threaded"], env=["PYTHON_GIL=1"]) as refused:
        wait_until(lambda: refused.state(".State.Status") == "exited", timeout=30, interval=0.2)
        assert refused.state(".State.ExitCode") != "0"
        logs = refused.logs()
    assert "refusing to start" in logs and "--allow-gil" in logs
    with Container(images["free-threaded"], env=["PYTHON_GIL=1", "PRIMES_ALLOW_GIL=1"]) as allowed:
        allowed.wait_ready()
        assert allowed.metric("primes_gil_enabled") == 1.0


def test_prometheus_client_keeps_the_gil_off(images):
    """Every module the server imports is free-threading-safe: importing them all leaves the GIL off."""
    check = ("import sys, server.main, server.exporter, server.metrics, prometheus_client; "
             "print(sys._is_gil_enabled())")
    # Without PYTHON_GIL=0 an unsafe extension module would turn the GIL on (with only a warning).
    result = docker("run", "--rm", "--network", "none", "-e", "PYTHON_GIL=", images["free-threaded"],
                    "python", "-W", "error", "-c", check)
    assert result.stdout.strip() == "False"

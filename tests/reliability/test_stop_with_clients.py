"""SIGTERM while dozens of clients are connected, most of them mid-request: a quick, silent stop.

Silent means the log holds the start-up and stop lines and nothing else: no traceback from a handler
thread that finishes after the server closed its watcher.
"""
import signal
import time

import pytest

from tests.support import run_server, wait_until

pytestmark = pytest.mark.reliability

MODELS = ["thread", "pool", "process", "serial"]
CLIENTS = 48


def connect_clients(server):
    """Expensive requests, cheap pipelines, partial lines, bare requests and idle clients, all at once."""
    kinds = [b"150000\n", b"1\n2\n3\n", b"12", b"5", b"", b"3\n4\n", b"150000", b"1\n", b"9", b"",
             b"7\n150000\n", b"10\n1"]
    clients = []
    for i in range(CLIENTS):
        sock = server.connect()
        payload = kinds[i % len(kinds)]
        if payload:
            sock.sendall(payload)
        clients.append(sock)
    return clients


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_with_many_clients_is_quick_and_silent(model):
    with run_server("--model", model, "--workers", "4", "--algorithm", "naive", "--no-monitor") as server:
        clients = connect_clients(server)
        try:
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") >= 1)
            if model in ("thread", "process"):  # every connection has its handler thread
                wait_until(lambda: server.metric("primes_connections_active") == CLIENTS)
            time.sleep(0.3)
            started = time.monotonic()
            status = server.stop(signal.SIGTERM)
            took = time.monotonic() - started
        finally:
            for sock in clients:
                sock.close()
        log = server.log()
        print(f"{model}: exit {status} after {took:.2f}s with {CLIENTS} clients")
        assert status == 0
        assert took < 5.0  # about a switch interval on a quiet machine; docker stop's bound is 10 s
        lines = [line for line in log.splitlines() if line.strip()]
        assert "Traceback" not in log and "Exception" not in log, log
        assert len(lines) == 2, log  # "serving nth primes ..." and "received SIGTERM: stopping"
        assert "stopping" in lines[-1]

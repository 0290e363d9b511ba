"""A 60-second soak of mixed traffic against the thread model: every counter exact, and memory, threads
and file descriptors flat.

Traffic: seed clients (bare ping-pong), a pipelining client, connection churn, every kind of bad input,
completed expensive requests and expensive requests whose client leaves mid-computation. Each client counts
what it sent; at the end the server's counters must equal those counts exactly.
"""
import collections
import threading
import time

import pytest

from tests.support import ask, child_pids, process_footprint, run_server, wait_until

pytestmark = pytest.mark.reliability

SECONDS = 60
WARM_UP = 15  # first footprint sample: allocator arenas and thread stacks have reached their working size
RSS_GROWTH_KIB = 8 * 1024

BAD = {b"x\n": "not_an_integer", b"0\n": "n_too_small", b"999999\n": "n_too_large",
       b"1" * 100 + b"\n": "request_too_long"}
BAD_REPLIES = {b"x\n": b"ERR not an integer\n", b"0\n": b"ERR n must be >= 1\n",
               b"999999\n": b"ERR n above maximum 200000\n", b"1" * 100 + b"\n": b"ERR request too long\n"}


def tree_footprint(pid):
    """(resident KiB, threads, fds) of the server and its child processes together."""
    totals = [0, 0, 0]
    for member in [pid, *child_pids(pid)]:
        for i, value in enumerate(process_footprint(member)):
            totals[i] += value
    return tuple(totals)


class Traffic:
    def __init__(self, server, deadline):
        self.server = server
        self.deadline = deadline
        self.counts = collections.Counter()
        self.lock = threading.Lock()
        self.failures = []

    def add(self, **counts):
        with self.lock:
            self.counts.update(counts)

    def connect(self):
        self.add(connections=1)
        return self.server.connect(timeout=60)

    def running(self):
        return time.monotonic() < self.deadline

    def guarded(self, loop):
        def run():
            try:
                loop()
            except Exception as error:  # noqa: BLE001 - any failure of a traffic loop is reported at the end
                self.failures.append(f"{loop.__name__}: {error!r}")
        return threading.Thread(target=run, name=loop.__name__)

    def seed_client(self):
        with self.connect() as sock:
            done = 0
            while self.running():
                sock.send(b"1")
                assert sock.recv(4096) == b"2"
                done += 1
        self.add(cheap=done)

    def pipelining_client(self):
        with self.connect() as sock:
            batch = b"".join(b"%d\n" % n for n in range(1, 11))
            want = b"2\n3\n5\n7\n11\n13\n17\n19\n23\n29\n"
            done = 0
            while self.running():
                sock.sendall(batch)
                received = b""
                while len(received) < len(want):
                    received += sock.recv(4096)
                assert received == want
                done += 10
        self.add(cheap=done)

    def churn_and_bad_input(self):
        while self.running():
            with self.connect() as sock:
                assert ask(sock, b"7\n") == b"17\n"
                self.add(cheap=1)
                for payload, reason in BAD.items():
                    assert ask(sock, payload) == BAD_REPLIES[payload]
                    self.add(**{reason: 1})
            time.sleep(0.005)

    def expensive_client(self):
        while self.running():
            with self.connect() as sock:  # completed: n=300 takes some milliseconds with the naive loop
                assert ask(sock, b"300\n") == b"1987\n"
                self.add(expensive=1)
            sock = self.connect()  # left mid-computation: must be cancelled
            sock.sendall(b"150000\n")
            time.sleep(0.2)
            sock.close()
            self.add(cancelled=1)
            time.sleep(2.0)


def test_soak(tmp_path):
    with run_server("--model", "thread", "--no-monitor", log_dir=str(tmp_path)) as server:
        pid = server.proc.pid
        with server.connect() as sock:  # warm every code path once before the idle baseline
            assert ask(sock, b"1\n") == b"2\n"
        wait_until(lambda: server.metric("primes_connections_active") == 0)
        idle_before = tree_footprint(pid)
        connections_before = server.metric("primes_connections_total")

        traffic = Traffic(server, time.monotonic() + SECONDS)
        loops = [traffic.seed_client, traffic.seed_client, traffic.pipelining_client,
                 traffic.churn_and_bad_input, traffic.expensive_client]
        threads = [traffic.guarded(loop) for loop in loops]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        samples = []
        while any(thread.is_alive() for thread in threads):
            time.sleep(5)
            samples.append((round(time.monotonic() - started), *tree_footprint(pid)))
        for thread in threads:
            thread.join()
        assert not traffic.failures, traffic.failures

        counts = traffic.counts
        wait_until(lambda: server.metric("primes_connections_active") == 0, timeout=30)
        wait_until(lambda: server.metric("primes_requests_in_progress") == 0, timeout=30)
        scraped = server.scrape()

        def value(name, **labels):
            return sum(v for (sample, found), v in scraped.items()
                       if sample == name and frozenset(labels.items()) <= found)
        # +1: the warm-up request above
        assert value("primes_requests_total", kind="cheap") == counts["cheap"] + 1
        assert value("primes_requests_total", kind="expensive") == counts["expensive"]
        assert value("primes_cancelled_total", kind="expensive") == counts["cancelled"]
        assert value("primes_cancelled_total", kind="cheap") == 0
        for reason in BAD.values():
            assert value("primes_errors_total", reason=reason) == counts[reason], reason
        assert value("primes_errors_total") == sum(counts[reason] for reason in BAD.values())
        assert value("primes_connections_total") == connections_before + counts["connections"]

        # threads and fds back to exactly the idle count (a handler or the exporter's request thread may take
        # a moment to finish)
        try:
            wait_until(lambda: tree_footprint(pid)[1:] == idle_before[1:], timeout=15)
        except TimeoutError:
            raise AssertionError(f"threads and fds not back to the idle count: (RSS KiB, threads, fds) before "
                                 f"{idle_before}, now {tree_footprint(pid)}") from None
        idle_after = tree_footprint(pid)
        during = [s for s in samples if s[0] >= WARM_UP]
        rss_drift = during[-1][1] - during[0][1]
        total = counts["cheap"] + counts["expensive"] + sum(counts[r] for r in BAD.values())
        print(f"soak: {total} requests in {SECONDS}s ({counts['connections']} connections, {counts['cancelled']} "
              f"cancelled); RSS {during[0][1]} -> {during[-1][1]} KiB ({rss_drift:+d} KiB from {during[0][0]}s "
              f"to {during[-1][0]}s); idle before/after (RSS KiB, threads, fds): {idle_before} / {idle_after}")
        print("samples (s, RSS KiB, threads, fds):", samples)
        assert rss_drift < RSS_GROWTH_KIB
        assert counts["cancelled"] >= 10 and counts["cheap"] > 10_000
        assert "Traceback" not in server.log()

"""Benchmark: round-trip time of a 10-request pipeline next to a single request, per model, on loopback.

Run on demand: .venv/bin/python -m tests.reliability.bench_pipelining [--rounds N] [--models thread,process]
Prints p50 and p99 in milliseconds; both depths are measured in the same run against the same server.
"""
import argparse
import socket
import time

from tests.support import run_server


def round_trip_times(port, depth, rounds):
    request = b"".join(b"%d\n" % (i % 10 + 1) for i in range(depth))
    times = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(rounds):
            started = time.perf_counter()
            sock.sendall(request)
            received = 0
            while received < depth:
                received += sock.recv(65536).count(b"\n")
            times.append(time.perf_counter() - started)
    return sorted(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--models", default="thread,pool,process,serial")
    args = parser.parse_args()
    print("model    depth   p50 ms   p99 ms")
    for model in args.models.split(","):
        with run_server("--model", model, "--no-monitor") as server:
            for depth in (1, 10):
                times = round_trip_times(server.port, depth, args.rounds)
                p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
                print(f"{model:8} {depth:5} {p50 * 1e3:8.3f} {p99 * 1e3:8.3f}")


if __name__ == "__main__":
    main()

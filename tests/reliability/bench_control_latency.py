"""Benchmark: how long a switch-interval change (PUT) and a read (GET) take on the control endpoint while one
expensive request holds the server's GIL, at several switch intervals. Prints seconds and intervals.

Run: .venv/bin/python -m tests.reliability.bench_control_latency [--intervals 0.1 0.5 1] [--repeat 5]
"""
import argparse
import statistics
import time

from tests.support import expensive_request, run_server, wait_until


def timed(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def measure(interval, repeat, model):
    with run_server("--model", model, "--switch-interval", repr(interval), "--no-monitor") as server:
        with expensive_request(server.port):
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            time.sleep(2 * interval)  # the hog's connection start-up is over (the accept thread's hand-offs)
            changes, reads = [], []
            for _ in range(repeat):
                changes.append(timed(lambda: server.control(body=repr(interval), timeout=120)))
                time.sleep(interval)  # the previous change's own GIL hand-backs are over
                reads.append(timed(lambda: server.control(timeout=120)))
                time.sleep(interval)
    return changes, reads


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--intervals", type=float, nargs="+", default=[0.1, 0.5, 1.0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--model", default="thread")
    args = parser.parse_args()
    print(f"{'interval':>8}  {'change median':>13}  {'change max':>10}  {'read median':>11}  {'read max':>8}")
    for interval in args.intervals:
        changes, reads = measure(interval, args.repeat, args.model)
        print(f"{interval:>7g}s  {statistics.median(changes):>12.3f}s  {max(changes):>9.3f}s  "
              f"{statistics.median(reads):>10.3f}s  {max(reads):>7.3f}s   "
              f"(change = {statistics.median(changes) / interval:.1f} intervals)")


if __name__ == "__main__":
    main()

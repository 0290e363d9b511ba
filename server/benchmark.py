"""Cheap-stream requests/s of our server (all metrics on) vs a bare seed-equivalent server, measured side by
side by the seed's own client: each round starts a fresh pair of servers, and the client alternates short
slices between them. Prints what our instrumentation costs per request in microseconds (1/ours - 1/bare,
median of the paired slices, which carries across hosts), the servers' CPU time per request, and what
recording one request's metrics costs with upstream prometheus-client's own MultiProcessValue (a write per
request) against our per-connection tally (folded once a second).

By default the servers run on one CPU and the client on another, as in loadgen/bench_locust.py: left to the
scheduler, a ping-pong pair's rate swings with where the two land, more than the difference measured here."""
import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def serve_bare(port):
    """The seed's server with its crash on a closed connection fixed: same algorithm, no metrics."""
    from server.primes import find_nth_prime

    def handle(client):
        with client:
            while True:
                data = client.recv(4096)
                if not data:
                    return
                client.send(str(find_nth_prime(int(data))).encode())

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(5)
    while True:
        client, _ = listener.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()


def run_client(sock, seconds):
    """The seed's run_simple_client on a connected `sock`, bounded in time: requests answered."""
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sock.send(b"1")
        sock.recv(4096)
        count += 1
    return count


def measure_pair(servers, slices, seconds):
    """Alternate `slices` slices of `seconds` between servers [(port, pid), (port, pid)], first one first,
    then the other, on one connection each; prints per pair of slices each server's requests/s and CPU
    nanoseconds per request (or -1 where /proc cannot tell)."""
    socks = [socket.create_connection(("127.0.0.1", port)) for port, _ in servers]
    for sock in socks:  # the connection's thread has started and run the seed loop once
        run_client(sock, 0.05)
    for slice_number in range(slices):
        figures = [None, None]
        # Which goes first alternates, so a drift of the machine's speed favours neither.
        for index in ((0, 1) if slice_number % 2 == 0 else (1, 0)):
            pid = servers[index][1]
            cpu_before = cpu_ns(pid)
            count = run_client(socks[index], seconds)
            cpu_after = cpu_ns(pid)
            cpu = -1 if None in (cpu_before, cpu_after) else (cpu_after - cpu_before) / max(count, 1)
            figures[index] = f"{count / seconds} {cpu}"
        print(*figures, flush=True)
    for sock in socks:
        sock.close()


def _free_port():  # runner/backend.py has the same; server/ is a build context of its own and imports nothing outside
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(port):
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def recording_costs(directory, repeat=7, number=20000):
    """Microseconds to record one cheap request's metrics, with the metric files in `directory`: (upstream
    MultiProcessValue, our tally); best of `repeat`. Run in a subprocess: prometheus-client's value class is
    process-wide."""
    out = subprocess.run([sys.executable, "-m", "server.benchmark", "--recording-costs", directory, str(repeat),
                          str(number)], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    upstream, tally = out.stdout.split()
    return float(upstream), float(tally)


def _print_recording_costs(root, repeat, number):
    from prometheus_client import Counter, Gauge, Histogram, values

    from server.metrics import CHEAP, DURATION_BUCKETS, NOT_COMPUTING, ServerMetrics

    repeat, number = int(repeat), int(number)
    with tempfile.TemporaryDirectory(dir=root) as directory:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        values.ValueClass = values.MultiProcessValue()
        completed = Counter("c_total", "c", ["kind"], registry=None).labels(kind="cheap")
        duration = Histogram("d_seconds", "d", ["kind"], buckets=DURATION_BUCKETS, registry=None).labels(kind="cheap")
        in_progress = Gauge("p", "p", ["kind"], multiprocess_mode="sum", registry=None).labels(kind="cheap")

        def upstream():
            in_progress.inc()
            in_progress.dec()
            duration.observe(0.00003)
            completed.inc()

        upstream_cost = min(timeit.repeat(upstream, number=number, repeat=repeat)) / number
    with tempfile.TemporaryDirectory(dir=root) as directory:
        metrics = ServerMetrics(directory, cheap_max_n=1)
        tally = metrics.open_tally()

        def ours():  # what the server does per request, then its share of the folds that write the files
            for _ in range(number):
                tally.computing = 1
                tally.computing = NOT_COMPUTING
                tally.computed(CHEAP, 0.00003)
            metrics.fold()

        tally_cost = min(timeit.repeat(ours, number=1, repeat=repeat)) / number
        metrics.close_tally(tally)
    print(f"{upstream_cost * 1e6:.3f} {tally_cost * 1e6:.3f}")


def cpu_ns(pid):
    """CPU time of process `pid` and its child processes in nanoseconds, from each thread's schedstat (Linux
    /proc; a slice is too short for the tick-grained utime and stime), or None where /proc cannot tell.
    Threads that have exited are not counted: each measured connection's thread lives for the whole round."""
    if not os.path.exists(f"/proc/{pid}/schedstat"):
        return None
    total = 0
    pids, seen = [pid], set()
    while pids:
        current = pids.pop()
        seen.add(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:  # a worker process that just exited
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/schedstat") as f:
                    total += int(f.read().split()[0])
                with open(f"/proc/{current}/task/{task}/children") as f:
                    pids += [int(child) for child in f.read().split() if int(child) not in seen]
            except (OSError, ValueError, IndexError):  # a thread that just ended
                continue
    return total


def _settle(pid, timeout=10.0):
    """Wait until process `pid` and its children use (almost) no CPU, e.g. once they have started."""
    deadline = time.monotonic() + timeout
    before = cpu_ns(pid)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_ns(pid)
        if before is None or now is None or now - before < 10_000_000:  # under 5% of a CPU
            return
        before = now


def _pinned(cpu):
    """preexec_fn putting a process on one CPU, or None for no pinning."""
    return None if cpu is None else (lambda: os.sched_setaffinity(0, {cpu}))


def _measure(servers, slices, seconds, client_cpu):
    """[((rate, cpu), (rate, cpu)), ...] per pair of slices of measure_pair(), run in a process of its own on
    the client's CPU; cpu is nanoseconds per request, or None."""
    arguments = [f"{port}:{pid}" for port, pid in servers]
    out = subprocess.run([sys.executable, "-m", "server.benchmark", "--pair", *arguments, "--slices", str(slices),
                          "--seconds", str(seconds)], cwd=REPO_ROOT, capture_output=True, text=True, check=True,
                         preexec_fn=_pinned(client_cpu))
    pairs = []
    for line in out.stdout.splitlines():
        first_rate, first_cpu, second_rate, second_cpu = map(float, line.split())
        pairs.append(((first_rate, None if first_cpu < 0 else first_cpu),
                      (second_rate, None if second_cpu < 0 else second_cpu)))
    return pairs


@contextlib.contextmanager
def _servers(model, cpu):
    """A bare server and ours, started fresh on free ports: yields ((port, pid), (port, pid))."""
    bare_port, ours_port, metrics_port = _free_port(), _free_port(), _free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "server.benchmark", "--serve-bare", str(bare_port)], cwd=REPO_ROOT,
                         preexec_fn=_pinned(cpu)),
        subprocess.Popen([sys.executable, "-m", "server", "--port", str(ours_port), "--metrics-port",
                          str(metrics_port), "--control-port", str(_free_port()), "--model", model,
                          "--no-monitor", "--log-level", "warning"], cwd=REPO_ROOT, preexec_fn=_pinned(cpu)),
    ]
    try:
        for port in (bare_port, ours_port, metrics_port):
            _wait(port)
        for proc in procs:  # our exporter may still be importing: its start must not be measured
            _settle(proc.pid)
        yield (bare_port, procs[0].pid), (ours_port, procs[1].pid)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()


def _rates_and_cost(pairs):
    """Bare rates, our rates, and our cost per request in seconds (1/ours - 1/bare, median of the pairs)."""
    bare_rates = [bare[0] for bare, _ in pairs]
    ours_rates = [ours[0] for _, ours in pairs]
    return bare_rates, ours_rates, statistics.median(1 / o - 1 / b for o, b in zip(ours_rates, bare_rates))


def _pair_argument(text):
    port, pid = text.split(":")
    return int(port), int(pid)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.benchmark", description=__doc__)
    parser.add_argument("--rounds", type=int, default=8,
                        help="rounds, each with a fresh bare server and a fresh one of ours (one process's memory "
                             "layout moves its rate for its whole life)")
    parser.add_argument("--slices", type=int, default=16,
                        help="pairs of slices per round, one slice on each server, alternating which goes first")
    parser.add_argument("--seconds", type=float, default=0.25, help="length of one slice")
    parser.add_argument("--model", default="thread", help="our server's --model")
    parser.add_argument("--pin", choices=("split", "none"), default="split",
                        help="split: both servers on one CPU, the client on another; none: let the scheduler "
                             "place them")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--pair", nargs=2, type=_pair_argument, metavar="PORT:PID", help=argparse.SUPPRESS)
    parser.add_argument("--recording-costs", nargs=3, metavar=("DIR", "REPEAT", "NUMBER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        return serve_bare(args.serve_bare)
    if args.pair:
        return measure_pair(args.pair, args.slices, args.seconds)
    if args.recording_costs:
        return _print_recording_costs(*args.recording_costs)
    if args.rounds < 1 or args.slices < 1 or args.seconds <= 0:
        parser.error("--rounds and --slices must be at least 1, --seconds more than 0")

    cpus = sorted(os.sched_getaffinity(0))
    if args.pin == "split" and len(cpus) < 2:
        parser.error("--pin split needs two CPUs; use --pin none")
    server_cpu, client_cpu = (cpus[0], cpus[1]) if args.pin == "split" else (None, None)
    pairs = []  # ((bare rate, bare cpu), (ours rate, ours cpu)) per pair of slices, every round
    for round_number in range(args.rounds):
        # Fresh servers each round: one process's memory layout moves its rate by a few percent for as long
        # as it lives (four identical bare servers side by side: 0.965-1.0 of each other), so the median
        # must be over many processes. Within a round, short slices side by side: the machine's speed
        # drifts by more than the difference measured over a second or two.
        with _servers(args.model, server_cpu) as servers:
            measured = _measure(servers, args.slices, args.seconds, client_cpu)
        # A slice with no answer at all (the machine stalled for its whole length) has no cost to compare.
        measured = [(bare, ours) for bare, ours in measured if bare[0] > 0 and ours[0] > 0]
        if not measured:
            print(f"round {round_number + 1}: no answers in a slice of every pair; skipped", flush=True)
            continue
        pairs += measured
        bare_rates, ours_rates, round_cost = _rates_and_cost(measured)
        print(f"round {round_number + 1}: bare {statistics.median(bare_rates):,.0f} req/s, ours "
              f"{statistics.median(ours_rates):,.0f} req/s, cost {round_cost * 1e6:.2f} µs", flush=True)
    if not pairs:
        print("no measurement: every slice went unanswered", file=sys.stderr)
        return 1
    bare_rates, ours_rates, cost = _rates_and_cost(pairs)
    ratio = statistics.median(o / b for o, b in zip(ours_rates, bare_rates))
    print(f"bare seed-equivalent server: median {statistics.median(bare_rates):,.0f} req/s "
          f"(min {min(bare_rates):,.0f}, max {max(bare_rates):,.0f})")
    print(f"our server ({args.model} model, all metrics on): median {statistics.median(ours_rates):,.0f} req/s "
          f"(min {min(ours_rates):,.0f}, max {max(ours_rates):,.0f})")
    print(f"ratio ours/bare (median of {len(pairs)} paired slices): {ratio:.3f}")
    print(f"our cost per request, 1/ours - 1/bare (median of {len(pairs)} paired slices): {cost * 1e6:.2f} µs")
    bare_cpu = [bare[1] for bare, _ in pairs]
    ours_cpu = [ours[1] for _, ours in pairs]
    if None not in bare_cpu + ours_cpu:
        extra_cpu = statistics.median(o - b for o, b in zip(ours_cpu, bare_cpu))
        print(f"server CPU per request: bare {statistics.median(bare_cpu) / 1e3:.1f} µs, ours "
              f"{statistics.median(ours_cpu) / 1e3:.1f} µs, ours - bare {extra_cpu / 1e3:.2f} µs "
              f"(median of paired slices)")
    print("recording one request's metrics (best of 7), upstream = prometheus-client's MultiProcessValue "
          "(Histogram.observe, Counter.inc, Gauge.inc/dec), tally = ours (folded once a second):")
    for directory in filter(os.path.isdir, ("/tmp", "/dev/shm")):
        upstream, tally = recording_costs(directory)
        print(f"  metric files in {directory}: upstream {upstream:.2f} µs, tally {tally:.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())

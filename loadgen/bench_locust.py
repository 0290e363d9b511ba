"""Benchmark: is Locust the bottleneck? Cheap requests/s from one Locust user (one process) and from the seed's
minimal blocking client, side by side against the same server, counted by the server's own metrics.
"""
import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

LOADGEN = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(LOADGEN)
sys.path.insert(0, REPO)

from loadgen.target import parse_target  # noqa: E402

# The seed's run_simple_client, plus the answer check the lesson leaves out (cheap: a bytes comparison).
RAW_CLIENT = """
import socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])))
while True:
    sock.send(b"1")
    if sock.recv(4096) != b"2":
        sys.exit("wrong answer")
"""


def free_port():  # runner/backend.py has the same; loadgen/ is a build context of its own and imports nothing outside
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cheap_count(metrics_url):
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        families = text_string_to_metric_families(response.read().decode())
        return sum(sample.value for family in families for sample in family.samples
                   if sample.name == "primes_requests_total" and sample.labels.get("kind") == "cheap")


def wait_for(url, proc, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"the server did not answer at {url} within {timeout}s")


def pinned(cpu):
    """preexec_fn putting a process (and its children) on one CPU, or None for no pinning."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def cpu_seconds(pid):
    """User + system CPU of a process so far (/proc: Linux only)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(command, metrics_url, warmup, seconds, cpu=None):
    """Run a client process; the server's cheap counter over `seconds` after `warmup` gives its rate."""
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=pinned(cpu))
    try:
        time.sleep(warmup)
        if proc.poll() is not None:
            sys.exit(f"client exited early ({proc.returncode}): {proc.stderr.read().decode()[-2000:]}")
        before, start, cpu_before = cheap_count(metrics_url), time.perf_counter(), cpu_seconds(proc.pid)
        time.sleep(seconds)
        after, elapsed, cpu_after = cheap_count(metrics_url), time.perf_counter() - start, cpu_seconds(proc.pid)
        if proc.poll() is not None:
            sys.exit(f"client exited during the measurement ({proc.returncode})")
        answered = after - before
        return answered / elapsed, (cpu_after - cpu_before) / max(answered, 1) * 1e6
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__ or "Locust vs a raw socket client, cheap requests/s")
    parser.add_argument("--host", default=os.environ.get("BENCH_HOST", ""),
                        help="host:port of a running server (default: start one from this repo on free ports) "
                             "[env BENCH_HOST]")
    parser.add_argument("--metrics-url", default=os.environ.get("BENCH_METRICS_URL", ""),
                        help="its metrics URL, needed with --host [env BENCH_METRICS_URL]")
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")),
                        help="measurements of each client, alternating [env BENCH_ROUNDS]")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")),
                        help="length of each measurement [env BENCH_SECONDS]")
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", "3")),
                        help="seconds each client runs before its measurement (Locust needs ~2 to start) "
                             "[env BENCH_WARMUP]")
    parser.add_argument("--pin", choices=("split", "none"), default=os.environ.get("BENCH_PIN", "split"),
                        help="split: the server on one CPU, the client on another (stable, 'per core'); "
                             "none: let the scheduler place them (ping-pong rates then swing 3x with placement) "
                             "[env BENCH_PIN]")
    args = parser.parse_args()
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin == "split" and len(cpus) < 2:
        parser.error("--pin split needs two CPUs; use --pin none")
    server_cpu, client_cpu = (cpus[0], cpus[1]) if args.pin == "split" else (None, None)

    server = None
    if args.host:
        if not args.metrics_url:
            parser.error("--host needs --metrics-url (the server's /metrics counts the requests)")
        host, port = parse_target(args.host)
        metrics_url = args.metrics_url
    else:
        host, port, metrics_port = "127.0.0.1", free_port(), free_port()
        log = tempfile.TemporaryFile()
        server = subprocess.Popen([sys.executable, "-m", "server", "--host", host, "--port", str(port),
                                   "--metrics-port", str(metrics_port), "--control-port", str(free_port()),
                                   "--no-monitor"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                  preexec_fn=pinned(server_cpu))
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        wait_for(metrics_url, server)
    raw = [sys.executable, "-c", RAW_CLIENT, host, str(port)]
    locust = [sys.executable, "-m", "locust", "-f", os.path.join(LOADGEN, "locustfile.py"), "--headless",
              "-u", "1", "-r", "1", "--host", f"{host}:{port}", "--only-summary", "--loglevel", "WARNING"]
    rates = {"raw": [], "locust": []}
    cpu_per_request = {"raw": [], "locust": []}
    try:
        for round_number in range(1, args.rounds + 1):
            for name, command in (("raw", raw), ("locust", locust)):
                rate, cpu_us = measure(command, metrics_url, args.warmup, args.seconds, cpu=client_cpu)
                rates[name].append(rate)
                cpu_per_request[name].append(cpu_us)
                print(f"round {round_number}: {name:6s} {rate:9.0f} cheap requests/s, client CPU {cpu_us:5.1f} us "
                      f"per request", flush=True)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(15)
    raw_rate, locust_rate = statistics.median(rates["raw"]), statistics.median(rates["locust"])
    placement = f"server on CPU {server_cpu}, client on CPU {client_cpu}" if args.pin == "split" else "unpinned"
    print(f"median of {args.rounds} rounds of {args.seconds:g}s, one client process each, same server ({placement}):")
    print(f"  raw blocking socket client (the seed's): {raw_rate:9.0f} cheap requests/s")
    print(f"  Locust, one CheapUser in one process:    {locust_rate:9.0f} cheap requests/s")
    print(f"  ratio Locust / raw: {locust_rate / raw_rate:.2f} (goal >= 0.80)")
    # Each round's ratio pairs two neighbouring measurements, so it is less affected by slow drifts in load.
    per_round = statistics.median(locust / raw for locust, raw in zip(rates["locust"], rates["raw"]))
    print(f"  median of the per-round ratios: {per_round:.2f}")
    # CPU per request does not depend on what else the machine is doing: the steadiest view of the overhead.
    raw_cpu, locust_cpu = statistics.median(cpu_per_request["raw"]), statistics.median(cpu_per_request["locust"])
    print(f"  client CPU per request: raw {raw_cpu:.1f} us, Locust {locust_cpu:.1f} us")


if __name__ == "__main__":
    main()

"""Benchmark: is Locust the bottleneck? Cheap requests/s and client CPU per request of one Locust user (one
process) and of the seed's minimal blocking client, alternating against the same server, counted by the server."""
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
# What the lab's Locust client should reach on a 2-core machine (one user, one process, pinned apart).
GOAL_RATE_RATIO = 0.85  # Locust's cheap requests/s over the raw client's
GOAL_CPU_RATIO = 2.0  # Locust's client CPU per request over the raw client's
START_TIMEOUT_S = 60.0  # for a client's first answer


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
        # Warm-up counts from the client's first answers: on a busy machine Locust's start alone can take seconds.
        first, deadline = cheap_count(metrics_url), time.monotonic() + START_TIMEOUT_S
        while cheap_count(metrics_url) == first and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
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
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "5")),
                        help="measurements of each client, alternating [env BENCH_ROUNDS]")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "5")),
                        help="length of each measurement [env BENCH_SECONDS]")
    parser.add_argument("--warmup", type=float, default=float(os.environ.get("BENCH_WARMUP", "1")),
                        help="seconds each client runs after its first answer, before its measurement "
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
    placement = f"server on CPU {server_cpu}, client on CPU {client_cpu}" if args.pin == "split" else "unpinned"
    print(f"median [min-max] of {args.rounds} rounds of {args.seconds:g}s, one client process each, same server "
          f"({placement}):")
    print(f"  raw blocking socket client (the seed's): {spread(rates['raw'], '9.0f')} cheap requests/s")
    print(f"  Locust, one CheapUser in one process:    {spread(rates['locust'], '9.0f')} cheap requests/s")
    # Each round's ratio pairs two neighbouring measurements, so it is less affected by slow drifts in load.
    rate_ratios = [locust / raw for locust, raw in zip(rates["locust"], rates["raw"])]
    print(f"  Locust / raw, per round: {spread(rate_ratios, '.2f')} (goal >= {GOAL_RATE_RATIO:.2f})")
    # CPU per request depends less on what else the machine is doing: the steadiest view of the overhead,
    # and the figure that carries over to other hosts.
    print(f"  client CPU per request: raw {spread(cpu_per_request['raw'], '.1f')} us, "
          f"Locust {spread(cpu_per_request['locust'], '.1f')} us")
    cpu_ratios = [locust / raw for locust, raw in zip(cpu_per_request["locust"], cpu_per_request["raw"])]
    print(f"  client CPU Locust / raw, per round: {spread(cpu_ratios, '.2f')} (goal <= {GOAL_CPU_RATIO:.1f})")


def spread(values, form):
    """median [min-max] of a list of figures."""
    text = format(statistics.median(values), form)
    return text if len(values) == 1 else f"{text} [{format(min(values), form).strip()}-{format(max(values), form).strip()}]"

if __name__ == "__main__":
    main()

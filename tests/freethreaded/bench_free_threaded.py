"""Benchmark: the GIL and free-threaded server images side by side in one run, printing cheap requests/s
alone and with one expensive request in flight, and the free-threaded build's single-thread overhead.
"""
import argparse
import statistics
import sys

from tests.freethreaded.images import PYTHON_BUILDS, Container, build
from tests.support import cheap_rate, docker, expensive_request, wait_until

IMAGE_REPOSITORY = "gil-lab/server-ft-bench"
# Pure computation inside the image, no network: the seed's loop on 1 thread, then on 2 threads at once.
COMPUTE_PROBE = """
import threading, time
from server.primes import find_nth_prime
def work():
    for _ in range(5):
        find_nth_prime(1000)
def timed(threads):
    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    [w.start() for w in workers]
    [w.join() for w in workers]
    return time.perf_counter() - started
timed(1)
one = min(timed(1) for _ in range(3))
two = min(timed(2) for _ in range(3))
print(one, two)
"""


def compute_probe(image):
    """(seconds for one thread's work, speed-up of two threads doing twice the work)."""
    output = docker("run", "--rm", "--network", "none", image, "python", "-c", COMPUTE_PROBE).stdout
    one, two = map(float, output.split())
    return one, 2 * one / two


def measure(image, switch_interval, seconds, cpus, n):
    """(cheap req/s alone, cheap req/s with one expensive request) for one fresh container."""
    docker_args = ["--cpus", str(cpus)] if cpus else []
    with Container(image, *docker_args, env=[f"PRIMES_SWITCH_INTERVAL={switch_interval}"], label="bench") as server:
        server.wait_ready()
        cheap_rate(server.port, 0.5)  # warm-up: first connections, code paths
        alone = cheap_rate(server.port, seconds)
        with expensive_request(server.port, n):
            wait_until(lambda: server.metric("primes_requests_in_progress", kind="expensive") == 1)
            with_hog = cheap_rate(server.port, seconds)
    return alone, with_hog


def span(values):
    return f"{statistics.median(values):>7,.0f} ({min(values):,.0f}-{max(values):,.0f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description="GIL vs free-threaded server images side by side: cheap req/s "
                                                 "alone and with one expensive request, compute overhead")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each cheap-stream measurement")
    parser.add_argument("--switch-intervals", default="0.005,0.0005", help="comma-separated, seconds")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds per cell; the median is shown")
    parser.add_argument("--cpus", type=float, default=0, help="docker --cpus for the servers (0: no limit)")
    parser.add_argument("--n", type=int, default=100000, help="the expensive request (naive algorithm)")
    args = parser.parse_args(argv)

    images = {}
    for python_build in PYTHON_BUILDS:
        images[python_build] = f"{IMAGE_REPOSITORY}:{python_build}"
        seconds, size = build(python_build, images[python_build])
        print(f"{python_build:>13} image: docker build {seconds:.0f}s (layer cache counts), {size / 1e6:.0f} MB")

    print(f"\n{'build':>13} {'1 thread':>9} {'2 threads':>10}   seed loop find_nth_prime(1000) x5 in the image")
    compute = {python_build: compute_probe(image) for python_build, image in images.items()}
    for python_build, (one, speedup) in compute.items():
        print(f"{python_build:>13} {one:>8.2f}s {speedup:>9.2f}x")
    print(f"{'':>13} free-threaded / gil time on 1 thread: {compute['free-threaded'][0] / compute['gil'][0]:.2f}x")

    print(f"\ncheap req/s from one blocking client on the host, {args.seconds:g}s each, median (min-max) of "
          f"{args.repeats}, cpus={args.cpus or 'no limit'}, expensive request n={args.n}")
    print(f"{'switch':>8} {'build':>13} {'alone':>21} {'with hog':>21} {'kept':>6}")
    for switch_interval in [float(value) for value in args.switch_intervals.split(",")]:
        runs = {python_build: [] for python_build in PYTHON_BUILDS}
        for _ in range(args.repeats):  # alternate builds so drift on a noisy host hits both alike
            for python_build in PYTHON_BUILDS:
                runs[python_build].append(measure(images[python_build], switch_interval, args.seconds,
                                                  args.cpus, args.n))
        for python_build, pairs in runs.items():
            alone, with_hog = [pair[0] for pair in pairs], [pair[1] for pair in pairs]
            kept = statistics.median(hog / solo for solo, hog in pairs)
            print(f"{switch_interval * 1000:>6g}ms {python_build:>13} {span(alone):>21} {span(with_hog):>21} "
                  f"{kept:>6.1%}")
        paired = [ft[0] / gil[0] for ft, gil in zip(runs["free-threaded"], runs["gil"])]
        print(f"{'':>8} free-threaded / gil alone, same round: median {statistics.median(paired):.2f}x "
              f"({min(paired):.2f}-{max(paired):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

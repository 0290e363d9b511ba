# Benchmark: the GIL and free-threaded server images side by side in one run, printing cheap requests/s
# alone and with one expensive request in flight, and the free-threaded build's single-thread overhead.
import argparse
import statistics
import sys

from tests.freethreaded.images import PYTHON_BUILDS, Container, build
from tests.support import cheap_rate, expensive_request, wait_until

IMAGE_REPOSITORY = "gil-lab/server-ft-bench"


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


def main(argv=None):
    parser = argparse.ArgumentParser(description="GIL vs free-threaded server images, side by side: cheap req/s alone and with one expensive request")
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

    print(f"\ncheap req/s from one blocking client on the host, {args.seconds:g}s each, median of {args.repeats}, "
          f"cpus={args.cpus or 'no limit'}, expensive request n={args.n}")
    print(f"{'switch':>8} {'build':>13} {'alone':>9} {'with hog':>9} {'kept':>7}")
    for switch_interval in [float(value) for value in args.switch_intervals.split(",")]:
        results = {python_build: [] for python_build in PYTHON_BUILDS}
        for _ in range(args.repeats):  # alternate builds so drift on a noisy host hits both alike
            for python_build in PYTHON_BUILDS:
                results[python_build].append(measure(images[python_build], switch_interval, args.seconds,
                                                     args.cpus, args.n))
        medians = {}
        for python_build, runs in results.items():
            alone = statistics.median(run[0] for run in runs)
            with_hog = statistics.median(run[1] for run in runs)
            medians[python_build] = alone
            print(f"{switch_interval * 1000:>6g}ms {python_build:>13} {alone:>9,.0f} {with_hog:>9,.0f} "
                  f"{with_hog / alone:>7.1%}")
        print(f"{'':>8} free-threaded / gil, alone (single-thread overhead): "
              f"{medians['free-threaded'] / medians['gil']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

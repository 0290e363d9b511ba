"""Benchmark: cheap-stream requests/s of our server (all metrics on) vs a bare seed-equivalent server.
Both are measured side by side in one run, alternating, by the seed's own client in a separate process.
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

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


def run_client(port, seconds):
    """The seed's run_simple_client, bounded in time; prints requests/s."""
    sock = socket.create_connection(("127.0.0.1", port))
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        sock.send(b"1")
        sock.recv(4096)
        count += 1
    sock.close()
    print(count / seconds)


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


def _measure(port, seconds):
    out = subprocess.run([sys.executable, "-m", "server.benchmark", "--client", str(port), "--seconds",
                          str(seconds)], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.benchmark", description=__doc__ or
                                     "Cheap-stream requests/s: our server vs a bare seed-equivalent one.")
    parser.add_argument("--rounds", type=int, default=5, help="measurements of each server, alternating")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    parser.add_argument("--model", default="thread", help="our server's --model")
    parser.add_argument("--serve-bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--client", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_bare:
        return serve_bare(args.serve_bare)
    if args.client:
        return run_client(args.client, args.seconds)

    bare_port, ours_port = _free_port(), _free_port()
    procs = [
        subprocess.Popen([sys.executable, "-m", "server.benchmark", "--serve-bare", str(bare_port)], cwd=REPO_ROOT),
        subprocess.Popen([sys.executable, "-m", "server", "--port", str(ours_port), "--metrics-port",
                          str(_free_port()), "--control-port", str(_free_port()), "--model", args.model,
                          "--no-monitor", "--log-level", "warning"], cwd=REPO_ROOT),
    ]
    try:
        _wait(bare_port)
        _wait(ours_port)
        bare, ours = [], []
        for round_number in range(args.rounds):
            bare.append(_measure(bare_port, args.seconds))
            ours.append(_measure(ours_port, args.seconds))
            print(f"round {round_number + 1}: bare {bare[-1]:,.0f} req/s, ours {ours[-1]:,.0f} req/s", flush=True)
        ratio = statistics.median(o / b for o, b in zip(ours, bare))
        print(f"bare seed-equivalent server: median {statistics.median(bare):,.0f} req/s "
              f"(min {min(bare):,.0f}, max {max(bare):,.0f})")
        print(f"our server ({args.model} model, all metrics on): median {statistics.median(ours):,.0f} req/s "
              f"(min {min(ours):,.0f}, max {max(ours):,.0f})")
        print(f"ratio ours/bare (median of paired rounds): {ratio:.2f}")
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: the convoy of a bare script, no lab code at all, on one core and on two.

One process runs a socket echo thread and a busy thread (the GIL's hog); a client process, pinned to another CPU,
sends one byte and waits for it, as the seed's cheap client does. Printed: round trips/s with the server pinned
to the first CPU, then to the first two.

Whether two cores soften the convoy depends on the host, not on the lab: after the echo thread's short send(),
the hog has to wake on the other core to take the GIL. Where that wake-up is slow (some VMs), the echo thread
takes the GIL back first and answers thousands of round trips/s; where it is fast, the hog wins and the echo
thread waits a switch interval per request, as on one core. Run it before reading a quota or a two-core figure.

Run: python -m server.bench_bare_convoy [--seconds 3] [--switch-interval 0.005]
"""
import argparse
import os
import subprocess
import sys

CLIENT = """
import os, socket, sys, time
os.sched_setaffinity(0, {int(sys.argv[2])})
sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
count, deadline = 0, time.perf_counter() + float(sys.argv[3])
while time.perf_counter() < deadline:
    sock.send(b"1")
    sock.recv(16)
    count += 1
print(count / float(sys.argv[3]))
"""


def serve(cpus, seconds, switch_interval):
    """Round trips/s of the client against an echo thread next to a busy thread, the server on `cpus`."""
    code = f"""
import os, socket, sys, threading
sys.setswitchinterval({switch_interval!r})
os.sched_setaffinity(0, {set(cpus)!r})
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
print(listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
def busy():
    while True:
        pass
threading.Thread(target=busy, daemon=True).start()
while data := conn.recv(16):
    conn.send(data)
"""
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().strip()
        client_cpu = max(os.sched_getaffinity(0) - set(cpus) or os.sched_getaffinity(0))
        out = subprocess.run([sys.executable, "-c", CLIENT, port, str(client_cpu), str(seconds)],
                             capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
        return float(out)
    finally:
        server.kill()
        server.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m server.bench_bare_convoy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--switch-interval", type=float, default=0.005)
    args = parser.parse_args(argv)
    usable = sorted(os.sched_getaffinity(0))
    if len(usable) < 3:
        print(f"note: {len(usable)} usable CPUs, so on two cores the client shares one with the server", flush=True)
    for cpus in [usable[:1], usable[:2]] if len(usable) > 1 else [usable[:1]]:
        rate = serve(cpus, args.seconds, args.switch_interval)
        print(f"server on CPU {','.join(map(str, cpus))}: {rate:,.0f} round trips/s next to a busy thread "
              f"at a {args.switch_interval * 1000:g} ms switch interval "
              f"(one per two intervals would be {1 / (2 * args.switch_interval):,.0f})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

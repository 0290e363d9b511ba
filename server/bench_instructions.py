"""Instructions per request of the bare seed-equivalent server or ours, under valgrind's callgrind: once the
server is up and warm its counters are zeroed, N seed requests (b"1", or b"1\n" with --newline) are sent from
this process, the counters dumped. Deterministic, unlike a rate, so it compares on a shared machine.
Usage: python -m server.bench_instructions {bare,ours} N [--newline]  (needs valgrind)
"""
import glob
import os
import socket
import subprocess
import sys
import tempfile
import time

from server.benchmark import REPO_ROOT
from server.benchmark import _free_port as free_port


def main():
    which, n = sys.argv[1], int(sys.argv[2])
    payload = b"1\n" if "--newline" in sys.argv else b"1"
    port = free_port()
    out = os.path.join(tempfile.mkdtemp(), f"callgrind.{which}")
    py = sys.executable
    if which == "bare":
        cmd = [py, "-m", "server.benchmark", "--serve-bare", str(port)]
    else:
        cmd = [py, "-m", "server", "--port", str(port), "--metrics-port", str(free_port()), "--control-port",
               str(free_port()), "--no-monitor", "--log-level", "warning"]
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p", "-q"] + cmd,
                            cwd=REPO_ROOT)
    try:
        for _ in range(600):
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        sock.settimeout(30)
        for _ in range(50):  # warm up
            sock.send(payload)
            sock.recv(4096)
        time.sleep(1)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], check=True, capture_output=True)
        for _ in range(n):
            sock.send(payload)
            sock.recv(4096)
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], check=True, capture_output=True)
        sock.close()
    finally:
        proc.terminate()
        proc.wait()
    files = sorted(glob.glob(f"{out}.{proc.pid}.*"), key=os.path.getmtime)
    total = 0
    for line in open(files[-1]):
        if line.startswith("summary:") or line.startswith("totals:"):
            total = int(line.split()[1])
            break
    print(f"{which} {payload!r}: {total} instructions for {n} requests, {total / n:,.0f} per request")


if __name__ == "__main__":
    main()

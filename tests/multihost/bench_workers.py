"""Cheap req/s through 1, 2 and 4 Locust workers: across namespace hosts and all on one host, side by side.

    sudo .venv/bin/python -m tests.multihost.bench_workers [--rounds 2] [--seconds 6] [--users-per-worker 2]

Each run starts the docs' own commands (docs/multi-host.md): across hosts, the server, the master and one
worker per load host each in a namespace of its own; on one host, all of them in one namespace. Runs of the
two layouts alternate, and each figure is what the server answered (its /metrics) in a window after warm-up.
Every namespace shares this machine's cores: across hosts measures the network path and the protocol, not
more CPU. Needs root (ip netns).
"""
import argparse
import os
import statistics
import time

from server.config import DEFAULT_PORT as SERVER_PORT
from tests.multihost.docs_commands import role_commands
from tests.multihost.netns import Lab
from tests.multihost.roles import LOCUST_WEB_PORT, MasterApi, server_requests, start_role, wait_port
from tests.support import wait_until

WORKER_COUNTS = (1, 2, 4)


def measure(lab, commands, layout, workers, users_per_worker, seconds, log_dir):
    """Cheap requests per second the server answered in `seconds` after warm-up."""
    if layout == "across":
        server, control, loads = lab["server"], lab["control"], [lab[f"load{i + 1}"] for i in range(workers)]
    else:
        server = control = lab["single"]
        loads = [lab["single"]] * workers
    values = {"SERVER_BIND": server.address, "SERVER_ADDRESS": server.address,
              "LOCUST_MASTER_BIND": control.address, "LOCUST_MASTER_ADDRESS": control.address}
    tag = f"{layout}-w{workers}"
    master = start_role(control, "control", values, os.path.join(log_dir, f"{tag}-master.log"), commands)
    procs = [master]
    try:
        wait_port(control, "127.0.0.1", LOCUST_WEB_PORT)
        api = MasterApi(control)
        procs += [start_role(host, "load", values, os.path.join(log_dir, f"{tag}-worker{i}.log"), commands)
                  for i, host in enumerate(loads)]
        wait_until(lambda: api.report().get("worker_count") == workers, timeout=60, what=f"{workers} workers")
        users = workers * users_per_worker
        api.swarm(user_count=users, spawn_rate=users, host=f"tcp://{server.address}:{SERVER_PORT}")
        wait_until(lambda: [w["user_count"] for w in api.report()["workers"]] == [users_per_worker] * workers,
                   timeout=30, what="users spawned")
        time.sleep(2)  # warm-up
        before, started = server_requests(control, server.address), time.monotonic()
        time.sleep(seconds)
        after, ended = server_requests(control, server.address), time.monotonic()
        api.stop()
        return (after - before) / (ended - started)
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--users-per-worker", type=int, default=2)
    parser.add_argument("--log-dir", default="/tmp")
    args = parser.parse_args()
    roles = ["server", "control", *[f"load{i + 1}" for i in range(max(WORKER_COUNTS))], "single"]
    rates = {}
    commands = role_commands()
    with Lab(roles) as lab:
        for name in ("server", "single"):
            host = lab[name]
            start_role(host, "server", {"SERVER_BIND": host.address}, os.path.join(args.log_dir, f"{name}.log"),
                       commands)
            wait_port(host, host.address, SERVER_PORT)
        for _ in range(args.rounds):
            for workers in WORKER_COUNTS:
                for layout in ("across", "one-host"):
                    name = f"{layout:9} workers={workers} users={workers * args.users_per_worker}"
                    try:
                        rate = measure(lab, commands, layout, workers, args.users_per_worker, args.seconds,
                                       args.log_dir)
                    except TimeoutError as exc:  # e.g. a starved worker marked missing: say so, go on
                        print(f"{name}: no figure ({exc}; logs in {args.log_dir})", flush=True)
                        continue
                    rates.setdefault((layout, workers), []).append(rate)
                    print(f"{name}: {rate:,.0f} req/s", flush=True)
    print(f"\n{os.cpu_count()} cores; median (min–max) of {args.rounds} rounds, {args.seconds:g} s each after a "
          "2 s warm-up")
    print(f"load average when done: {' '.join(f'{v:.1f}' for v in os.getloadavg())}\n")
    print("| workers | users | across namespace hosts | all on one host | across / one host |")
    print("| --- | --- | --- | --- | --- |")

    def cell(values):
        return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"

    for workers in WORKER_COUNTS:
        across, single = rates.get(("across", workers)), rates.get(("one-host", workers))
        if not across or not single:
            print(f"| {workers} | no figure in some layout |")
            continue
        print(f"| {workers} | {workers * args.users_per_worker} | {cell(across)} | {cell(single)} | "
              f"{statistics.median(across) / statistics.median(single):.2f} |")


if __name__ == "__main__":
    main()

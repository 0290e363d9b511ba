"""Drives loadgen's PrimeClient directly, in a gevent-patched process of its own as under Locust, and prints
what the tests in test_client_waits.py check, as JSON. Usage: python -m tests.loadgen.client_probe PORT SCENARIO ...
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
from locust.event import Events  # noqa: E402

from loadgen.tcp_client import PrimeClient  # noqa: E402


def main():
    port, scenario, args = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    events = Events()
    seen = []
    events.request.add_listener(lambda exception=None, **_: seen.append(type(exception).__name__))
    n = int(args[0]) if args else 1
    client = PrimeClient(events, "127.0.0.1", port, name="probe", n=n, timeout=30, backoff_first=0)
    if scenario == "hold":
        # A held event fires once the next request is out, or on flush(), and before a later failure's.
        counts = []
        client.ask(hold=True)
        counts.append(len(seen))
        client.ask(hold=True)
        counts.append(len(seen))
        client.flush()
        counts.append(len(seen))
        client.ask(hold=True)
        client.sock.shutdown(socket.SHUT_RDWR)  # the connection is lost before the next request
        client.ask(hold=True)
        print(json.dumps({"counts": counts, "events": seen}))
    elif scenario == "lone-wait":
        # A lone user's blocking wait is brief: other greenlets keep running during a slow answer.
        ticks = []

        def ticker():
            while True:
                gevent.sleep(0.01)
                ticks.append(time.monotonic())

        client.wait_blocking = True
        gevent.spawn(ticker)
        started = time.monotonic()
        correct = client.ask()
        print(json.dumps({"correct": correct, "seconds": time.monotonic() - started, "ticks": len(ticks)}))
    elif scenario == "loop":
        # args: n, requests, lone (1/0): a run of requests as PrimeUser makes them.
        client.wait_blocking = args[2] == "1"
        for _ in range(int(args[1])):
            client.ask(hold=True)
        client.flush()
        print(json.dumps({"events": len(seen), "failures": len(seen) - seen.count("NoneType")}))
    client.close()


if __name__ == "__main__":
    main()

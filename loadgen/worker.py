"""Start a Locust worker once its master answers: `python -m loadgen.worker [locust worker arguments]`.

On a load host the worker often starts before the master on the control host. Locust alone resends its
hello every 5 s, logs a line per attempt and exits after 60 of them; this waits first instead, probing the
master's port with a backoff that doubles up to --master-retry-max, one log line per state change (down with
a reason, up), no traceback. Then it becomes `python -m locust --worker ARGS` (same process, exec), so
signals and the exit status are Locust's. --master-wait bounds the wait (0: wait as long as it takes).

The master is read from the same arguments Locust reads (--master-host/--master-port, or
LOCUST_MASTER_NODE_HOST/LOCUST_MASTER_NODE_PORT); the two flags of this wrapper are also env vars.
"""
import argparse
import logging
import os
import socket
import sys
import time

log = logging.getLogger("loadgen.worker")

DEFAULT_MASTER_PORT = 5557  # Locust's --master-port default
FIRST_DELAY_S = 0.25


def _non_negative_seconds(text):
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, got {text}")
    return value


def _positive_seconds(text):
    value = _non_negative_seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be > 0 seconds")
    return value


def parse(argv, environ=os.environ):
    """(our options, the master's (host, port), Locust's arguments without ours)."""
    parser = argparse.ArgumentParser(prog="python -m loadgen.worker", add_help=False, allow_abbrev=False,
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--master-wait", type=_non_negative_seconds,
                        default=environ.get("LOCUST_MASTER_WAIT", "0"),
                        help="give up after this many seconds without a master (0: never); env LOCUST_MASTER_WAIT")
    parser.add_argument("--master-retry-max", type=_positive_seconds,
                        default=environ.get("LOCUST_MASTER_RETRY_MAX", "10"),
                        help="longest pause between probes (s); env LOCUST_MASTER_RETRY_MAX")
    parser.add_argument("-h", "--help", action="store_true", help="show this help and exit")
    ours, rest = parser.parse_known_args(argv)
    if ours.help:
        parser.print_help()
        print("\nEvery other argument goes to `locust --worker` (see `locust --help`).")
        sys.exit(0)
    # Only to know whom to wait for: Locust parses the same arguments again after the exec.
    peek = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    peek.add_argument("--master-host", default=environ.get("LOCUST_MASTER_NODE_HOST", "127.0.0.1"))
    peek.add_argument("--master-port", default=environ.get("LOCUST_MASTER_NODE_PORT", str(DEFAULT_MASTER_PORT)))
    master, _ = peek.parse_known_args(rest)
    try:
        port = int(master.master_port)
    except ValueError:
        parser.error(f"--master-port must be a port number, got {master.master_port!r}")
    if not 0 < port < 65536:
        parser.error(f"--master-port must be 1-65535, got {port}")
    return ours, (master.master_host, port), rest


def probe(address, timeout):
    """None when a TCP connection to the master's port opens, else why not (one short phrase)."""
    try:
        socket.create_connection(address, timeout=timeout).close()
        return None
    except socket.gaierror as exc:
        return f"cannot resolve {address[0]!r}: {exc.strerror}"
    except TimeoutError:
        return "no answer (timed out)"
    except OSError as exc:
        return (exc.strerror or str(exc)).lower()


def wait_for_master(address, max_wait, retry_max, probe=probe, sleep=time.sleep, clock=time.monotonic):
    """True once the master's port answers; False after max_wait seconds (0: never give up)."""
    started = clock()
    delay = FIRST_DELAY_S
    state = None
    where = f"{address[0]}:{address[1]}"
    while True:
        reason = probe(address, timeout=min(5.0, retry_max))
        waited = clock() - started
        if reason is None:
            if state is not None:
                log.info("Locust master at %s is up after %.0f s; starting the worker", where, waited)
            return True
        if reason != state:
            log.warning("Locust master at %s not reachable: %s; retrying every %g s at most%s", where, reason,
                        retry_max, f", for {max_wait:g} s" if max_wait else "")
            state = reason
        if max_wait and waited >= max_wait:
            log.error("gave up after %.0f s: no Locust master at %s (%s)", waited, where, reason)
            return False
        sleep(min(delay, max_wait - waited) if max_wait else delay)  # the last probe at the deadline
        delay = min(delay * 2, retry_max)


def main(argv=None):
    logging.basicConfig(level=logging.INFO, format=f"[%(asctime)s] {socket.gethostname()}/%(levelname)s/%(name)s: "
                                                   "%(message)s")
    ours, address, locust_args = parse(sys.argv[1:] if argv is None else argv)
    try:
        if not wait_for_master(address, ours.master_wait, ours.master_retry_max):
            return 1
    except KeyboardInterrupt:
        return 130
    command = [sys.executable, "-m", "locust", "--worker", *locust_args]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    sys.exit(main())

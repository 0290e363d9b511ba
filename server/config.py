"""The server's configuration: every flag, its default and its environment variable, defined once.
Flag --foo-bar is also read from PRIMES_FOO_BAR; a flag given on the command line wins.
"""
import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Mapping, Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 25000
DEFAULT_METRICS_PORT = 8000
DEFAULT_CONTROL_PORT = 8001
ENV_PREFIX = "PRIMES_"

# sys.setswitchinterval keeps whole microseconds: a smaller value would be stored as 0. Above a minute the
# lab freezes (and the control endpoint's answer would take as long).
MIN_SWITCH_INTERVAL_S = 1e-6
MAX_SWITCH_INTERVAL_S = 60.0

MODELS = ("thread", "pool", "process", "serial")
ALGORITHMS = ("naive", "sqrt")


@dataclasses.dataclass(frozen=True)
class Config:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    metrics_host: str | None = None  # None: same as host
    metrics_port: int = DEFAULT_METRICS_PORT
    control_host: str = DEFAULT_HOST
    control_port: int = DEFAULT_CONTROL_PORT
    model: str = "thread"
    workers: int = 4
    switch_interval: float = 0.005
    algorithm: str = "naive"
    max_n: int = 200_000
    max_request_bytes: int = 64
    max_connections: int = 256
    idle_timeout: float = 600.0  # 0: never
    cheap_max_n: int = 100
    cgroup_root: str = "/sys/fs/cgroup"
    allow_gil: bool = False
    monitor: bool = True
    log_level: str = "info"

    @property
    def exporter_host(self) -> str:
        return self.metrics_host or self.host


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port: {text}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def check_switch_interval(seconds: float) -> float:
    """`seconds` if sys.setswitchinterval can hold it and the lab stays usable, else ValueError."""
    if not MIN_SWITCH_INTERVAL_S <= seconds <= MAX_SWITCH_INTERVAL_S:  # NaN fails both
        raise ValueError(f"the switch interval must be between {MIN_SWITCH_INTERVAL_S:g} and "
                         f"{MAX_SWITCH_INTERVAL_S:g} seconds, got {seconds!r}")
    return seconds


def _switch_interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text}") from None
    try:
        return check_switch_interval(seconds)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _seconds_or_never(text: str) -> float:
    value = float(text)
    if value == 0:
        return 0.0
    if not value >= 0.001:  # the kernel's timers count microseconds, and a zero timeout means "never"
        raise argparse.ArgumentTypeError(f"must be 0 (never) or at least 0.001 seconds, got {text}")
    return _seconds(text)


def _bool(text: str) -> bool:
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text}")


# (flag, type, help); the default comes from Config, the variable from the flag's name.
_FLAGS: list[tuple[str, Callable[[str], object], str]] = [
    ("--host", str, "address of the prime service (raw TCP); the container sets 0.0.0.0"),
    ("--port", _port, "TCP port of the prime service"),
    ("--metrics-host", str, "address of the Prometheus exporter; unset means the same as --host"),
    ("--metrics-port", _port, "port of the Prometheus exporter (a separate process: it never waits for our GIL); "
                              "0 picks a free port, printed at start"),
    ("--control-host", str, "address of the HTTP control endpoint (keep it private: loopback or the stack's network)"),
    ("--control-port", _port, "port of the HTTP control endpoint (GET/PUT /switch-interval, served by the "
                              "exporter); 0 picks a free port, printed at start"),
    ("--model", str, "concurrency model: thread (a thread per connection, the seed), pool (bounded thread pool), "
                     "process (I/O threads, computation in worker processes), serial (one connection at a time)"),
    ("--workers", _positive_int, "threads (pool) or processes (process) doing the work"),
    ("--switch-interval", _switch_interval, "sys.setswitchinterval at start-up, in seconds, 1e-06 to 60 "
                                            "(changeable while running)"),
    ("--algorithm", str, "naive (the seed's div <= num/2, holds the GIL for minutes at n=100000) or sqrt"),
    ("--max-n", _positive_int, "largest n accepted; above it the answer is 'ERR n above maximum'"),
    ("--max-request-bytes", _positive_int, "longest request accepted, in bytes"),
    ("--max-connections", _positive_int, "connections served at once; more get 'ERR too many connections'"),
    ("--idle-timeout", _seconds_or_never, "close a connection that sends no request for this many seconds "
                                          "(counted only while waiting for one, never during a computation); 0: never"),
    ("--cheap-max-n", _positive_int, "requests with n <= this are labelled kind=\"cheap\", larger ones \"expensive\""),
    ("--cgroup-root", str, "where the cgroup file systems are mounted (read for the CPU limit metrics)"),
    ("--allow-gil", _bool, "on a free-threaded Python, start even if an import turned the GIL back on"),
    ("--monitor", _bool, "print one line per second with the requests completed in that second"),
    ("--log-level", str, "debug, info, warning or error"),
]


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


def build_parser() -> argparse.ArgumentParser:
    defaults = Config()
    parser = argparse.ArgumentParser(
        prog="python -m server",
        description="GIL Lab's prime server: send an ASCII integer n over TCP, get the nth prime back. "
                    "Every flag can also be set by the environment variable named after it.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    for flag, kind, text in _FLAGS:
        dest = flag.lstrip("-").replace("-", "_")
        default = getattr(defaults, dest)
        extra = {}
        if dest == "model":
            extra["choices"] = MODELS
        elif dest == "algorithm":
            extra["choices"] = ALGORITHMS
        elif dest == "log_level":
            extra["choices"] = ("debug", "info", "warning", "error")
        parser.add_argument(flag, type=kind, default=default, metavar=dest.upper() if kind is not _bool else "BOOL",
                            help=f"{text} [env {env_name(flag)}]", **extra)
    parser.add_argument("--no-monitor", dest="monitor", action="store_false",
                        help="same as --monitor false")
    return parser


def parse_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Flags override environment variables, which override the defaults. Bad values exit with status 2."""
    environ = os.environ if environ is None else environ
    parser = build_parser()
    from_env = []
    for flag, _, _ in _FLAGS:
        value = environ.get(env_name(flag))
        if value is not None and value != "":
            from_env += [f"{flag}={value}"]
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser.parse_args(from_env)
    except SystemExit:
        parser.error("an environment variable above has a bad value (" + ", ".join(
            env_name(f.split("=")[0]) for f in from_env) + ")")
    namespace = parser.parse_args(from_env + argv)
    return Config(**vars(namespace))

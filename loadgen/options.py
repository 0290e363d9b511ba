"""The lab's own Locust command-line arguments (each also an env var, most also editable in the web UI).
Registered through Locust's init_command_line_parser event; read back from environment.parsed_options.
"""
from loadgen.tcp_client import FRAMINGS

# Naive n=100000 takes about 47 minutes alone on one core of the 2-core dev machine (extrapolated from measured
# n=5000/10000/20000, see docs/loadgen.md), longer while cheap requests compete: the timeout leaves room for that.
DEFAULT_EXPENSIVE_TIMEOUT_S = 7200.0
DEFAULT_CHEAP_TIMEOUT_S = 30.0


def _non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError(f"must be >= 0, got {text}")
    return value


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(f"must be >= 1, got {text}")
    return value


def _seconds(text):
    value = float(text)
    if not 0 < value < float("inf"):
        raise ValueError(f"must be a positive number of seconds, got {text}")
    return value


def _non_negative_seconds(text):
    value = float(text)
    if not 0 <= value < float("inf"):
        raise ValueError(f"must be >= 0 seconds, got {text}")
    return value


# (flag, type, default, help, shown in the web UI)
ARGUMENTS = [
    ("--expensive-users", _non_negative_int, 0,
     "How many of the users are ExpensiveUser; the rest are CheapUser", True),
    ("--cheap-n", _positive_int, 1, "n the cheap stream asks for (the lesson: 1)", True),
    ("--expensive-n", _positive_int, 100000, "n the expensive stream asks for (the lesson: 100000)", True),
    ("--cheap-timeout", _seconds, DEFAULT_CHEAP_TIMEOUT_S, "Seconds a cheap request may take", True),
    ("--expensive-timeout", _seconds, DEFAULT_EXPENSIVE_TIMEOUT_S,
     "Seconds an expensive request may take (naive n=100000: ~47 min alone on a core)", True),
    ("--cheap-wait", _non_negative_seconds, 0.0, "Seconds a CheapUser waits between requests (0: as fast as it can)",
     True),
    ("--expensive-wait", _non_negative_seconds, 0.0, "Seconds an ExpensiveUser waits between requests", True),
    ("--framing", str, "bare", "bare: the seed's b'1' -> b'2'; line: b'1\\n' -> b'2\\n'", True),
    ("--connect-timeout", _seconds, 5.0, "Seconds to wait for a TCP connection", False),
    ("--reconnect-max", _seconds, 2.0, "Longest pause (s) between retries after failures (backoff doubles up to it)",
     False),
    ("--scenario", str, "", "YAML scenario file: run it as a LoadTestShape (e.g. loadgen/scenarios/lesson.yaml); "
                            "empty: no shape, users and mix from -u / the web UI", False),
    ("--prometheus-host", str, "127.0.0.1", "Address for --prometheus-port (0.0.0.0 in a container)", False),
    ("--prometheus-port", _non_negative_int, 0,
     "Also serve the load metrics on this port (for headless masters; the web UI always serves /metrics); 0: off",
     False),
]


def env_name(flag):
    return "LOCUST_" + flag.lstrip("-").replace("-", "_").upper()


def add_arguments(parser):
    # Straight on the parser: only LocustArgumentParser.add_argument knows include_in_web_ui (groups do not).
    for flag, kind, default, text, in_ui in ARGUMENTS:
        extra = {"choices": FRAMINGS} if flag == "--framing" else {}
        parser.add_argument(flag, type=kind, default=default, env_var=env_name(flag),
                           help=f"{text} [env {env_name(flag)}]", include_in_web_ui=in_ui, **extra)


def option(environment, name):
    """A custom option's value (the default when Locust runs without parsed options, e.g. as a library)."""
    parsed = environment.parsed_options
    value = getattr(parsed, name, None) if parsed is not None else None
    if value is None:
        value = next(default for flag, _, default, _, _ in ARGUMENTS if flag[2:].replace("-", "_") == name)
    return value


def checked(environment, name):
    """option() run through its flag's own check again: web UI fields arrive unchecked (e.g. -1 or 0)."""
    flag, kind = next((flag, kind) for flag, kind, _, _, _ in ARGUMENTS if flag[2:].replace("-", "_") == name)
    value = option(environment, name)
    try:
        return kind(str(value)) if kind is not str else value
    except ValueError as exc:
        raise ValueError(f"{flag} {value}: {exc}") from None

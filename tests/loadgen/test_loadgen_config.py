"""The load side's settings: --host parsing, the default port agreeing with the server's, the answers it expects.
Pure functions: no server needed.
"""
import pytest

from loadgen.answers import expected_answer, nth_prime
from loadgen.target import DEFAULT_PORT, TargetError, parse_target
from server.config import DEFAULT_PORT as SERVER_DEFAULT_PORT


def test_default_port_matches_the_server():
    # loadgen is its own Docker build context, so it keeps a copy of the port: the copies must agree.
    assert DEFAULT_PORT == SERVER_DEFAULT_PORT


@pytest.mark.parametrize("text, expected", [
    ("127.0.0.1:25000", ("127.0.0.1", 25000)),
    ("tcp://server:26000", ("server", 26000)),
    ("TCP://server:26000/", ("server", 26000)),
    ("server", ("server", DEFAULT_PORT)),
    ("", ("127.0.0.1", DEFAULT_PORT)),
    ("[::1]:25001", ("::1", 25001)),
])
def test_host_forms(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text, message", [
    ("http://127.0.0.1:25000", "raw TCP"),
    ("127.0.0.1:port", "not a TCP port"),
    ("127.0.0.1:70000", "not a TCP port"),
    ("tcp://127.0.0.1:25000/primes", "no path"),
])
def test_bad_hosts_say_why(text, message):
    with pytest.raises(TargetError, match=message):
        parse_target(text)


def test_expected_answers_are_the_known_primes():
    known = {1: 2, 10: 29, 100: 541, 1000: 7919, 10000: 104729, 100000: 1299709}
    assert {n: nth_prime(n) for n in known} == known
    assert expected_answer(1) == b"2"

"""The lesson's computation: known values, cancellation, and that the hot loop stays pure bytecode.
Fidelity matters: the experiment must measure the GIL, not extra calls we slipped into the loop.
"""
import dis
import threading
import time

import pytest

from server.primes import ALGORITHMS, find_nth_prime, is_prime_naive

KNOWN = {1: 2, 2: 3, 3: 5, 10: 29, 100: 541, 1000: 7919, 10000: 104729, 100000: 1299709}


@pytest.mark.parametrize("n", [1, 2, 3, 10, 100, 1000])
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_known_values(algorithm, n):
    assert find_nth_prime(n, ALGORITHMS[algorithm]) == KNOWN[n]


@pytest.mark.parametrize("n", [10000, 100000])
def test_large_known_values_with_sqrt(n):
    assert find_nth_prime(n, ALGORITHMS["sqrt"]) == KNOWN[n]


def test_naive_is_the_seeds_loop():
    # div <= num / 2: the seed's bound, which is what makes n=100000 take minutes
    names = {i.argval for i in dis.get_instructions(is_prime_naive)}
    assert "div" in names and "num" in names
    assert [i.argval for i in dis.get_instructions(is_prime_naive) if i.opname == "LOAD_CONST"].count(2) >= 1
    assert all(is_prime_naive(p) for p in (2, 3, 5, 7, 7919)) and not any(is_prime_naive(c) for c in (4, 9, 7917))


@pytest.mark.parametrize("function", [find_nth_prime, *ALGORITHMS.values()])
def test_compute_loop_makes_no_calls_but_is_prime(function):
    """Cancellation is one subscript per candidate: no function that could release the GIL or make a syscall."""
    called = [i for i in dis.get_instructions(function) if i.opname.startswith("CALL")]
    loaded = {i.argval for i in dis.get_instructions(function) if i.opname in ("LOAD_GLOBAL", "LOAD_ATTR", "LOAD_METHOD")}
    if function is find_nth_prime:
        assert len(called) == 1 and loaded <= {"is_prime"}  # the seed's self.is_prime(i) call, nothing else
    else:
        assert called == [] and loaded == set()


def test_cancel_flag_stops_a_running_computation():
    flag = [False]
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("prime", find_nth_prime(100000, is_prime_naive, flag)))
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    flag[0] = True
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert result["prime"] is None
    assert time.monotonic() - started < 1.0

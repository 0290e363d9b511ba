"""The answers the client expects: the nth prime, computed once per n with a sieve (fast, unlike the server).
Every reply is checked against it, so a wrong answer is a Locust failure, not a silent success.
"""
import functools
import math

# Above this n the client does not compute the answer (memory/time); it then only checks for a decimal integer.
MAX_CHECKED_N = 2_000_000


@functools.lru_cache(maxsize=32)
def nth_prime(n):
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if n < 6:
        return (2, 3, 5, 7, 11)[n - 1]
    # p_n < n (ln n + ln ln n) for n >= 6 (Rosser's bound)
    limit = int(n * (math.log(n) + math.log(math.log(n)))) + 1
    sieve = bytearray([1]) * (limit + 1)
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i::i] = bytes(len(range(i * i, limit + 1, i)))
    count = 0
    for i, flag in enumerate(sieve):
        if flag:
            count += 1
            if count == n:
                return i
    raise AssertionError("sieve bound too small")  # cannot happen: Rosser's bound holds


def expected_answer(n):
    """The bytes the server should answer for n (without framing), or None if too large to check."""
    return str(nth_prime(n)).encode() if n <= MAX_CHECKED_N else None

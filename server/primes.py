"""The lesson's computation: the nth prime by trial division, pure Python bytecode that holds the GIL.
`naive` is the seed's own loop (div <= num / 2); `sqrt` stops at the square root, for when latency matters.
"""


def is_prime_naive(num):
    # The seed's is_prime, unchanged: the slow loop is the point of the lesson.
    if num == 2 or num == 3:
        return True

    div = 2

    while div <= num / 2:
        if num % div == 0:
            return False
        div += 1
    return True


def is_prime_sqrt(num):
    # Same shape, but divisors stop at the square root: n=100000 takes seconds instead of many minutes.
    if num == 2 or num == 3:
        return True

    div = 2

    while div * div <= num:
        if num % div == 0:
            return False
        div += 1
    return True


ALGORITHMS = {"naive": is_prime_naive, "sqrt": is_prime_sqrt}


def find_nth_prime(nth_prime, is_prime=is_prime_naive, cancelled=(False,)):
    """The seed's find_nth_prime. Returns None if cancelled[0] becomes true while it runs.

    `cancelled` is any object whose [0] another thread (or process, through shared memory) sets: reading it
    is one subscript per candidate, no system call and no GIL release, so the loop holds the GIL exactly as
    the seed's does.
    """
    i = 2
    nth = 0
    last_prime = None

    while nth != nth_prime:
        if cancelled[0]:
            return None
        if is_prime(i) == True:  # noqa: E712 - the seed's comparison, kept for fidelity
            nth += 1
            last_prime = i

        i += 1

    return last_prime

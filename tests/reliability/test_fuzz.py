"""A seeded fuzz corpus against the real server, every model: no wrong answer, no crash, no traceback,
and the server still serves afterwards.

Each model gets its own deterministic corpus (random.Random(seed)) of at least 10,000 inputs: valid
numbers in every accepted spelling, numbers out of range, signs, spaces, tabs, carriage returns, NULs,
non-ASCII digits, floats, hex, underscores, random bytes and over-long lines, sent as line-framed sessions
cut at random places (partial lines across sends), as bare seed-style requests, and as sessions that leave
abruptly in the middle. Every reply is checked against this file's own reading of the protocol
(docs/protocol.md), not against the server's code.
"""
import random
import re
import socket
import struct
import threading

import pytest

from tests.support import ask, run_server

pytestmark = pytest.mark.reliability

MODELS = ["thread", "pool", "process", "serial"]
INPUTS_PER_MODEL = 10_000
MAX_N = 5000
MAX_BYTES = 64
SEED = 13


def first_primes(count):
    primes, candidate = [], 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


PRIMES = first_primes(MAX_N)
WHITESPACE = b" \t\r\x0b\x0c"


def expected_reply(request, bare):
    """The protocol's answer to one request (bare: the seed's framing, a prime without newline)."""
    if len(request) > MAX_BYTES:
        return b"ERR request too long\n"
    text = request.strip(WHITESPACE)
    if not re.fullmatch(rb"[+-]?[0-9]+", text):
        return b"ERR not an integer\n"
    n = int(text)
    if n < 1:
        return b"ERR n must be >= 1\n"
    if n > MAX_N:
        return b"ERR n above maximum %d\n" % MAX_N
    return b"%d" % PRIMES[n - 1] + (b"" if bare else b"\n")


def random_request(rng):
    """One request without its newline."""
    kind = rng.random()
    small = rng.choice([rng.randint(1, 100), rng.randint(1, 300), rng.randint(1, 12)])
    if kind < 0.30:
        return b"%d" % small
    if kind < 0.45:  # accepted spellings: padding, signs, leading zeros, CR from telnet
        pad = lambda: bytes(rng.choice(WHITESPACE) for _ in range(rng.randint(0, 3)))  # noqa: E731
        return pad() + rng.choice([b"", b"+"]) + b"0" * rng.randint(0, 5) + b"%d" % small + pad()
    if kind < 0.55:  # out of range
        return rng.choice([b"0", b"-0", b"-%d" % small, b"+0", b"%d" % rng.randint(MAX_N + 1, 10 ** 6),
                           b"9" * rng.randint(7, 60), b"-" + b"9" * rng.randint(1, 60)])
    if kind < 0.70:  # almost numbers
        return rng.choice([b"1.5", b"1e3", b"0x10", b"1_000", b"12 34", b"+-3", b"--3", b"+", b"-", b"",
                           "\u0661\u0662".encode(), "\uff11".encode(), b"\x00", b"7\x00", b"\xff\xfe", b"NaN",
                           b"inf", b" ", b"\t", b"\x0c1", b"1\x85", b"\xa01", b"%d)" % small])
    if kind < 0.80:  # over-long
        return rng.choice([b"1" * rng.randint(MAX_BYTES + 1, 300), b" " * 70 + b"5",
                           bytes(rng.choice(b"0123456789 x") for _ in range(rng.randint(65, 2000)))])
    length = rng.choice([rng.randint(0, 10), rng.randint(0, 80)])  # random bytes, no newline
    return bytes(rng.choice([b for b in range(256) if b != 10]) for _ in range(length))


def line_session(rng, count):
    """("line", requests, cut points): requests sent as lines, the stream cut into sends at random."""
    requests = [random_request(rng) for _ in range(count)]
    stream = b"".join(r + b"\n" for r in requests)
    first = len(requests[0]) + 1  # the first send holds the first newline: the connection is line-framed
    cuts = sorted(rng.sample(range(first + 1, len(stream)), min(rng.randint(0, 12), max(0, len(stream) - first - 1))))
    return ("line", requests, [first] + cuts)


def long_first_line_session(rng, count):
    """("line", ...) opening with a line longer than one recv, in one send: a bare start, one error for it."""
    kind, requests, _ = line_session(rng, count)
    requests = [bytes(rng.choice(b"0123456789") for _ in range(rng.randint(4097, 12000)))] + requests
    return ("line", requests, [len(requests[0]) + 1 + len(requests[1]) + 1])


def bare_session(rng, count):
    """("bare", requests, None): the seed client's framing, one request per send, each answered first."""
    requests = []
    for _ in range(count):
        request = random_request(rng)
        if not request or len(request) > 4000:
            continue  # an empty send is no request; the seed reads 4096 bytes at most
        requests.append(request)
        if len(request) > MAX_BYTES:
            break  # an over-long bare request lasts until a newline: the seed client cannot continue
    return ("bare", requests, None)


def corpus(seed):
    rng = random.Random(seed)
    sessions, total = [], 0
    while total < INPUTS_PER_MODEL:
        roll = rng.random()
        if roll < 0.72:
            session = line_session(rng, rng.randint(1, 120))
        elif roll < 0.75:
            session = long_first_line_session(rng, rng.randint(1, 20))
        elif roll < 0.95:
            session = bare_session(rng, rng.randint(1, 8))
        else:  # leaves in the middle: sends, then resets or half-closes without reading everything
            kind, requests, cuts = line_session(rng, rng.randint(1, 40))
            session = (rng.choice(["reset", "half-close"]), requests, cuts)
        if session[1]:
            sessions.append(session)
            total += len(session[1])
    return sessions, total


def run_session(server, session):
    kind, requests, cuts = session
    with server.connect(timeout=60) as sock:
        if kind == "bare":
            for request in requests:
                reply = expected_reply(request, bare=True)
                sock.sendall(request)
                received = b""
                while len(received) < len(reply):
                    chunk = sock.recv(4096)
                    assert chunk, f"connection closed after bare {short(request)}"
                    received += chunk
                assert received == reply, f"bare {short(request)}: {received!r}, expected {reply!r}"
            return
        stream = b"".join(r + b"\n" for r in requests)
        for start, end in zip([0] + cuts, cuts + [len(stream)]):
            if start < end:
                sock.sendall(stream[start:end])
        if kind == "reset":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if kind == "half-close":
            sock.shutdown(socket.SHUT_WR)
            return
        want = b"".join(expected_reply(r, bare=False) for r in requests)
        received = b""
        while len(received) < len(want):
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {len(received)} of {len(want)} bytes"
            received += chunk
        if received != want:
            got, exp = received.split(b"\n"), want.split(b"\n")
            index = next(i for i, (g, e) in enumerate(zip(got, exp)) if g != e)
            raise AssertionError(f"request {short(requests[index])}: {got[index]!r}, expected {exp[index]!r}")


def short(request):
    text = repr(request)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(request)} bytes)"


@pytest.mark.parametrize("model", MODELS)
def test_fuzz_corpus(model):
    sessions, total = corpus(SEED + MODELS.index(model))
    assert total >= INPUTS_PER_MODEL
    failures = []
    with run_server("--model", model, "--workers", "2", "--algorithm", "sqrt", "--max-n", str(MAX_N),
                    "--no-monitor") as server:
        def client(share):
            for session in share:
                try:
                    run_session(server, session)
                except Exception as error:  # noqa: BLE001 - collected: one report with every wrong answer
                    failures.append(f"{session[0]} session: {error!r}")
        clients = 1 if model == "serial" else 4
        threads = [threading.Thread(target=client, args=(sessions[i::clients],)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, f"{len(failures)} failed sessions, e.g. {failures[:5]}"
        with server.connect() as sock:  # still serving, both framings
            assert ask(sock, b"1000") == b"7919"
        with server.connect() as sock:
            assert ask(sock, b"10\n") == b"29\n"
        log = server.log()
        assert "Traceback" not in log and "Exception" not in log and "ERROR" not in log, log[-3000:]
        assert server.proc.poll() is None
    print(f"{model}: {total} inputs in {len(sessions)} sessions, seed {SEED + MODELS.index(model)}")

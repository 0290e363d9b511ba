"""Framing and parsing rules of the wire protocol, byte for byte (docs/protocol.md documents the same rules).
These are the pure functions; tests/server/test_server_protocol.py checks them over real sockets.
"""
import pytest

from server.protocol import Framer, ProtocolError, parse_n


def texts(requests):
    return [(raw.reply() if isinstance(raw, ProtocolError) else raw, newline) for raw, newline in requests]


def test_bare_chunk_is_one_request():
    framer = Framer(64)
    assert texts(framer.feed(b"1")) == [(b"1", False)]
    assert texts(framer.feed(b"100000")) == [(b"100000", False)]
    assert not framer.line_mode


def test_lines_are_requests_and_partial_lines_wait():
    framer = Framer(64)
    assert texts(framer.feed(b"1\n2\n3\n")) == [(b"1", True), (b"2", True), (b"3", True)]
    assert texts(framer.feed(b"10")) == []  # line mode: wait for the newline
    assert texts(framer.feed(b"0\r\n")) == [(b"100\r", True)]


def test_overlong_requests_get_an_error_and_the_stream_resyncs():
    framer = Framer(8)
    assert texts(framer.feed(b"123456789")) == [(b"ERR request too long\n", False)]
    framer = Framer(8)
    assert texts(framer.feed(b"1\n" + b"9" * 20)) == [(b"1", True), (b"ERR request too long\n", True)]
    assert texts(framer.feed(b"99999\n5\n")) == [(b"5", True)]  # the rest of the long line is skipped
    assert texts(Framer(8).feed(b"123456789\n2\n")) == [(b"ERR request too long\n", True), (b"2", True)]


def test_an_overlong_bare_request_gets_one_error_and_ends_at_its_newline():
    # b"7" * 10240 + b"\n5\n" in one send arrives as several recv()s: one error for the whole line, then 5.
    framer = Framer(64)
    assert texts(framer.feed(b"7" * 4096)) == [(b"ERR request too long\n", False)]
    assert texts(framer.feed(b"7" * 4096)) == []
    assert texts(framer.feed(b"7" * 30)) == []
    assert texts(framer.feed(b"7" * 2018 + b"\n5\n")) == [(b"5", True)]
    assert framer.line_mode
    framer = Framer(8)
    assert texts(framer.feed(b"123456789")) == [(b"ERR request too long\n", False)]
    assert texts(framer.feed(b"1")) == []  # still the over-long request: it has not ended yet
    assert texts(framer.feed(b"\n1\n")) == [(b"1", True)]


@pytest.mark.parametrize("raw,n", [(b"1", 1), (b" 42 ", 42), (b"7\r", 7), (b"+5", 5), (b"200000", 200000)])
def test_parse_valid(raw, n):
    assert parse_n(raw, 200000) == n


@pytest.mark.parametrize("raw,reply", [
    (b"", b"ERR not an integer\n"),
    (b"abc", b"ERR not an integer\n"),
    (b"1.5", b"ERR not an integer\n"),
    (b"1_000", b"ERR not an integer\n"),
    (b"\xd9\xa3", b"ERR not an integer\n"),  # a non-ASCII digit
    (b"0", b"ERR n must be >= 1\n"),
    (b"-3", b"ERR n must be >= 1\n"),
    (b"200001", b"ERR n above maximum 200000\n"),
])
def test_parse_errors(raw, reply):
    with pytest.raises(ProtocolError) as caught:
        parse_n(raw, 200000)
    assert caught.value.reply() == reply

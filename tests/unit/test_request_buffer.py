"""Where a chunked body ends, found as its bytes arrive in any splits (api/request_buffer.py)."""

from __future__ import annotations

from api.request_buffer import ChunkScanner

BODY = b"5;name=value\r\nhello\r\n1A\r\n" + b"x" * 26 + b"\r\n0\r\nDigest: abc\r\n\r\n"


def test_the_end_of_a_chunked_body_is_found_at_its_last_byte_whatever_the_splits() -> None:
    for size in (1, 2, 3, 7, len(BODY)):
        scanner = ChunkScanner()
        pieces = [BODY[at : at + size] for at in range(0, len(BODY), size)]
        ends = [scanner.feed(piece) for piece in pieces]
        assert ends == [False] * (len(pieces) - 1) + [True], size


def test_chunk_data_that_looks_like_a_last_chunk_does_not_end_the_body() -> None:
    scanner = ChunkScanner()
    assert not scanner.feed(b"7\r\n0\r\n\r\n\r\n\r\n")
    assert scanner.feed(b"0\r\n\r\n")


def test_a_broken_chunk_size_hands_the_body_over_for_gunicorn_to_refuse() -> None:
    assert ChunkScanner().feed(b"zz\r\n")

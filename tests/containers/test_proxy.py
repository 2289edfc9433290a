"""nginx in front of the API in the compose stack (deploy/nginx/readface.conf): what it refuses
itself carries the contract's JSON error, and what it passes on is answered in order."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import requests

from harness.http_corpus import OTHER_ID, UNKNOWN_ID, closed, read_answers
from tests.containers.stack import Stack

LIMIT_BYTES = 20 * 1024 * 1024  # READFACE_MAX_UPLOAD_BYTES in docker-compose.yml


def connect(stack: Stack) -> socket.socket:
    address = urlsplit(stack.url("proxy", 8000))
    return socket.create_connection((address.hostname, address.port), timeout=30)


def test_an_upload_over_the_limit_is_refused_by_nginx_with_the_json_error(stack: Stack) -> None:
    answer = requests.post(
        stack.url("proxy", 8000) + "/v1/analyses",
        data=b"\0" * (LIMIT_BYTES + 100 * 1024),
        headers={"Content-Type": "image/jpeg"},
        timeout=60,
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "too_large"


def test_pipelined_requests_through_nginx_get_their_own_answers_in_order(stack: Stack) -> None:
    with connect(stack) as sock:
        sock.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
            + f"GET /v1/analyses/{UNKNOWN_ID} HTTP/1.1\r\nHost: t\r\n\r\n".encode()
            + f"GET /v1/analyses/{OTHER_ID} HTTP/1.1\r\nHost: t\r\n".encode()
            + b"Connection: close\r\n\r\n"
        )
        answers = read_answers(sock, 3)
        assert closed(sock)
    assert [status for status, _ in answers] == [200, 404, 404]
    assert UNKNOWN_ID in json.loads(answers[1][1])["error"]["message"]
    assert OTHER_ID in json.loads(answers[2][1])["error"]["message"]


def test_a_bare_lf_chunked_body_is_answered_at_once_not_held(stack: Stack) -> None:
    # nginx reads bare-LF chunk framing itself and passes the body on with a Content-Length: the
    # API answers for the five bytes, which are not an image.
    with connect(stack) as sock:
        sock.sendall(
            b"POST /v1/analyses HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\nabcde\n0\n\n"
        )
        ((status, body),) = read_answers(sock, 1)
    assert 400 <= status < 500
    assert json.loads(body)["error"]["code"]


def test_an_oversized_chunked_trailer_is_refused_not_a_500(stack: Stack) -> None:
    trailers = b"".join(b"X-T%d: v\r\n" % n for n in range(101))
    with connect(stack) as sock:
        sock.sendall(
            b"POST /v1/analyses HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nabcde\r\n0\r\n"
            + trailers
            + b"\r\n"
        )
        ((status, _),) = read_answers(sock, 1)
    assert 400 <= status < 500

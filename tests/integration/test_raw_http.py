"""Requests only a raw socket can send, answered by gunicorn or by the app: each answer is the
contract's JSON error body, with the right status, never HTML, a redirect or a 500."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from harness.service import Api

pytestmark = pytest.mark.integration


def exchange(api: Api, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the whole answer (the server closes the connection)."""
    address = urlsplit(api.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass  # a server refusing a request may close before reading all of it
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def get(target: bytes, extra_headers: bytes = b"") -> bytes:
    return (
        b"GET "
        + target
        + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        + extra_headers
        + b"\r\n"
    )


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> None:
    got_status, headers, body = answer
    assert got_status == status, body
    assert headers["content-type"].startswith("application/json")
    assert int(headers["content-length"]) == len(body)
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"]


def test_duplicate_content_length_is_a_json_400(api: Api) -> None:
    request = (
        b"POST /v1/analyses HTTP/1.1\r\nHost: t\r\nContent-Type: image/jpeg\r\n"
        b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
    )
    assert_json_error(exchange(api, request), 400, "bad_request")


def test_a_100_kb_header_is_a_json_431(api: Api) -> None:
    request = get(b"/healthz", b"X-Big: " + b"a" * 100_000 + b"\r\n")
    assert_json_error(exchange(api, request), 431, "headers_too_large")


def test_a_request_line_over_the_limit_is_a_json_414(api: Api) -> None:
    assert_json_error(exchange(api, get(b"/v1/analyses/" + b"a" * 9000)), 414, "uri_too_long")


def test_a_request_line_under_the_limit_reaches_the_app(api: Api) -> None:
    # A 2,048-character callback URL, percent-encoded, must fit (the documented limit).
    target = b"/v1/analyses/" + b"a" * 64 + b"?x=" + b"%41" * 2048
    assert_json_error(exchange(api, get(target)), 404, "not_found")


def test_an_invalid_method_token_is_a_json_400(api: Api) -> None:
    request = b"G(T /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    assert_json_error(exchange(api, request), 400, "bad_request")


def test_leading_double_slash_reaches_the_route(api: Api) -> None:
    # Werkzeug ignores leading slashes: the route's own answer for a malformed id, in JSON.
    assert_json_error(exchange(api, get(b"//v1/analyses/x")), 400, "bad_request")


def test_inner_double_slash_is_a_json_404_not_a_redirect(api: Api) -> None:
    assert_json_error(exchange(api, get(b"/v1//analyses/" + b"a" * 64)), 404, "not_found")


def test_percent_encoded_non_utf8_query_is_a_json_400(api: Api) -> None:
    assert_json_error(exchange(api, get(b"/v1/analyses/abc?wait=%ff")), 400, "bad_request")


def test_raw_non_utf8_query_byte_is_a_json_400(api: Api) -> None:
    answer = exchange(api, get(b"/v1/analyses/" + b"a" * 64 + b"?wait=\xff"))
    assert_json_error(answer, 400, "bad_request")
    assert "UTF-8" in json.loads(answer[2])["error"]["message"]


def test_wrong_method_is_a_json_405_with_allow(api: Api) -> None:
    request = b"PATCH /v1/analyses HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    answer = exchange(api, request)
    assert_json_error(answer, 405, "method_not_allowed")
    assert {m.strip() for m in answer[1]["allow"].split(",")} == {"POST", "OPTIONS"}

"""The HTTP conformance and request-smuggling corpus (harness/http_corpus.py) against the API under
gunicorn, over raw sockets: each case gets exactly its expected answers, in order, and either the
connection closes or the next request on it is answered as itself."""

from __future__ import annotations

import json
import socket
from urllib.parse import urlsplit

import pytest

from harness.http_corpus import CASES, OTHER_ID, PROBE, UNKNOWN_ID, Case, closed, read_answers
from harness.service import Api

pytestmark = pytest.mark.integration

# Longer than any answer takes; a case whose server waits on the client fails here, not hangs.
ANSWER_TIMEOUT = 20.0


def connect(api: Api) -> socket.socket:
    address = urlsplit(api.url)
    return socket.create_connection((address.hostname, address.port), timeout=ANSWER_TIMEOUT)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(api: Api, case: Case) -> None:
    with connect(api) as sock:
        sock.sendall(case.raw)
        answers = read_answers(sock, len(case.answers))
        assert [status for status, _ in answers] == list(case.answers), answers
        if case.closes:
            assert closed(sock)
        else:
            sock.sendall(PROBE)
            assert [status for status, _ in read_answers(sock, 2)] == [200]
            assert closed(sock)
    for status, body in answers:
        if status >= 400:
            error = json.loads(body)["error"]
            assert error["code"] and error["message"]


def test_pipelined_answers_each_name_their_own_request(api: Api) -> None:
    case = next(case for case in CASES if case.name == "pipelined GETs")
    with connect(api) as sock:
        sock.sendall(case.raw)
        (_, health), (_, first), (_, second) = read_answers(sock, 3)
    assert json.loads(health)["status"] == "ok"
    assert UNKNOWN_ID in json.loads(first)["error"]["message"]
    assert OTHER_ID in json.loads(second)["error"]["message"]


def test_a_form_of_too_many_parts_is_a_400_that_says_so(api: Api) -> None:
    boundary = "b0undary"
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="f{n}"\r\n\r\nx\r\n'.encode()
        for n in range(1002)
    )
    answer = api.post(
        "/v1/analyses",
        data=parts + f"--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert answer.status_code == 400
    assert "parts" in answer.json()["error"]["message"]

"""Fuzzing the upload endpoint over real HTTP: whatever arrives, no 5xx and the server stays up."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.images import astronaut_jpeg
from harness.service import Api
from shared.imageinfo import MEDIA_TYPES

pytestmark = pytest.mark.integration

MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"BM", b""]
CONTENT_TYPES = [
    *MEDIA_TYPES.values(),
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "",
    "image/jpeg; charset=utf-8",
]
REAL = astronaut_jpeg(quality=30)

bodies = st.one_of(
    st.tuples(st.sampled_from(MAGIC), st.binary(max_size=2048)).map(lambda t: t[0] + t[1]),
    # a real photo with a cut, a flipped byte or a spliced tail: damaged but plausible
    st.tuples(st.integers(0, len(REAL)), st.integers(0, 255)).map(
        lambda t: REAL[: t[0]] + bytes([t[1]]) + REAL[t[0] + 1 : t[0] + 200]
    ),
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    callback=st.one_of(st.none(), st.text(max_size=40)),
)
def test_raw_uploads_never_cause_a_server_error(
    api: Api, body: bytes, content_type: str, callback: str | None
) -> None:
    params = {"callback_url": callback} if callback is not None else {}
    response = api.post(
        "/v1/analyses", data=body, params=params, headers={"Content-Type": content_type}
    )
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] and error["message"]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    field=st.sampled_from(["image", "file", ""]),
    body=bodies,
    filename=st.text(max_size=30),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=3),
)
def test_multipart_uploads_never_cause_a_server_error(
    api: Api, field: str, body: bytes, filename: str, extra: dict[str, str]
) -> None:
    response = api.post("/v1/analyses", files={field or "x": (filename or "f", body)}, data=extra)
    assert response.status_code < 500, response.text


def test_server_is_still_up_after_fuzzing(api: Api) -> None:
    assert api.get("/healthz").status_code == 200
    assert api.get("/readyz").status_code == 200

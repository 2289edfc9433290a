"""Photos as users send them (tests/corpus.py), by every way they send them, through the real API
under gunicorn: raw bytes, `curl -F image=@file`, and `requests.post(..., files=...)`.

Multipart bodies are decoded by Werkzeug's streaming parser with a receive buffer that grows with
the upload under gunicorn (Flask's test client never shows it), so only uploads of real size over
real HTTP catch a limit applied to the wrong thing.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.service import Api
from tests.corpus import NAMES, ORIENTATIONS, Box, Corpus, Photo

PATHS = ("raw", "curl multipart", "requests multipart")


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus.for_session(tmp_path_factory)


def upload(api: Api, path: Path, content_type: str, how: str) -> tuple[int, dict]:
    """POST the file to /v1/analyses the way a user would; the status and the JSON body."""
    if how == "raw":
        response = api.post(
            "/v1/analyses", data=path.read_bytes(), headers={"Content-Type": content_type}
        )
        return response.status_code, response.json()
    if how == "curl multipart":
        # Exactly what a user types (curl picks the part's type from the extension and sends
        # `Expect: 100-continue` for a big body).
        command = ["curl", "-sS", "-F", f"image=@{path}", "-w", "\n%{http_code}"]
        done = subprocess.run(
            [*command, api.url + "/v1/analyses"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        body, status = done.stdout.rsplit("\n", 1)
        return int(status), json.loads(body)
    with path.open("rb") as file:  # requests' own habit: no part type, the file's name
        response = api.post("/v1/analyses", files={"image": file})
    return response.status_code, response.json()


def analysed(api: Api, photo: Photo) -> dict:
    """The finished analysis of the photo (submitted raw, or found already done)."""
    status, body = upload(api, photo.path, photo.content_type, "raw")
    assert status in (200, 202), body
    return api.wait_done(body["id"])


@pytest.mark.parametrize("how", PATHS)
@pytest.mark.parametrize("name", NAMES)
def test_photo_arrives_whole_and_its_one_face_is_found(
    api: Api, corpus: Corpus, name: str, how: str
) -> None:
    photo = corpus.photo(name)
    before = api.get(f"/v1/analyses/{photo.sha256}")
    # The first path to send these bytes starts the analysis; the others are dedup hits.
    expected_status = 200 if before.status_code == 200 else 202

    status, body = upload(api, photo.path, photo.content_type, how)

    assert status == expected_status, body
    assert body["id"] == photo.sha256  # every byte arrived, unaltered
    done = api.wait_done(body["id"])
    assert done["status"] == "succeeded", done["error"]
    image = done["result"]["image"]
    assert (image["width"], image["height"]) == (photo.width, photo.height)
    [face] = done["result"]["faces"]
    assert Box.of(face["box"]).iou(photo.face) > 0.7, (face["box"], photo.face)


@pytest.mark.parametrize("name", ORIENTATIONS[1:])
def test_exif_orientation_puts_the_box_on_the_face_of_the_upright_photo(
    api: Api, corpus: Corpus, name: str
) -> None:
    upright = analysed(api, corpus.photo("orientation-1.jpg"))
    oriented = analysed(api, corpus.photo(name))
    [upright_face] = upright["result"]["faces"]
    [oriented_face] = oriented["result"]["faces"]
    assert Box.of(oriented_face["box"]).iou(Box.of(upright_face["box"])) > 0.8


@pytest.mark.parametrize("how", PATHS)
def test_one_byte_over_the_default_limit_is_too_large(api: Api, corpus: Corpus, how: str) -> None:
    status, body = upload(api, corpus.over_limit(), "image/jpeg", how)
    assert status == 413, body
    assert body["error"]["code"] == "too_large"

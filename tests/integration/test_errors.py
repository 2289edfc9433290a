"""Every error code of the contract, each with the JSON error body and nothing left in Redis."""

from __future__ import annotations

import subprocess
import sys

import pytest

from harness.images import astronaut_jpeg, png_header_only
from harness.paths import REPO
from harness.service import (
    UNWRITTEN,
    Api,
    assert_error,
    running_api,
    running_redis,
    service_env,
)
from shared.store import Store

pytestmark = pytest.mark.integration


@pytest.fixture()
def nothing_stored(store: Store):  # type: ignore[no-untyped-def]
    """Assert the test added no job, upload or result keys."""

    def job_keys() -> set[bytes]:
        return {k for k in store.scan_keys() if b":rate:" not in k and b":stats:" not in k}

    before = job_keys()
    yield
    assert job_keys() == before


@pytest.mark.usefixtures("nothing_stored")
class TestUploadErrors:
    def test_multipart_without_image_is_bad_request(self, api: Api) -> None:
        assert_error(api.post("/v1/analyses", files={"other": ("a", b"x")}), 400, "bad_request")

    def test_empty_body_is_bad_request(self, api: Api) -> None:
        assert_error(api.submit(b""), 400, "bad_request")

    def test_malformed_multipart_is_bad_request(self, api: Api) -> None:
        response = api.post(
            "/v1/analyses",
            data=b"--xyz\r\ngarbage",
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert_error(response, 400, "bad_request")

    def test_text_is_unsupported_media_type(self, api: Api) -> None:
        assert_error(api.submit(b"just some text\n" * 20), 415, "unsupported_media_type")

    def test_wrong_content_type_is_unsupported(self, api: Api) -> None:
        response = api.post(
            "/v1/analyses", data=astronaut_jpeg(), headers={"Content-Type": "text/plain"}
        )
        assert_error(response, 415, "unsupported_media_type")

    def test_pixel_bomb_is_invalid_image(self, api: Api) -> None:
        response = api.post(
            "/v1/analyses",
            data=png_header_only(20000, 20000),
            headers={"Content-Type": "image/png"},
        )
        assert_error(response, 422, "invalid_image")

    def test_non_http_callback_is_invalid_callback(self, api: Api) -> None:
        assert_error(
            api.submit(astronaut_jpeg(), callback_url="ftp://example.com/x"),
            422,
            "invalid_callback",
        )

    def test_private_callback_refused_unless_allowed(self, strict_api: Api) -> None:
        for url in (
            "http://127.0.0.1:9/hook",
            "http://10.1.2.3/hook",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
            "http://localhost/hook",
        ):
            response = strict_api.post(
                "/v1/analyses",
                data=astronaut_jpeg(),
                params={"callback_url": url},
                headers={"Content-Type": "image/jpeg", "X-API-Key": "k-one"},
            )
            assert_error(response, 422, "invalid_callback")

    def test_oversized_body_is_too_large(self, strict_api: Api) -> None:
        response = strict_api.post(
            "/v1/analyses",
            data=b"\xff\xd8\xff" + b"\0" * 400_000,
            headers={"Content-Type": "image/jpeg", "X-API-Key": "k-one"},
        )
        assert_error(response, 413, "too_large")

    def test_missing_or_wrong_api_key_is_unauthorized(self, strict_api: Api) -> None:
        assert_error(strict_api.submit(astronaut_jpeg()), 401, "unauthorized")
        response = strict_api.post(
            "/v1/analyses",
            data=astronaut_jpeg(),
            headers={"Content-Type": "image/jpeg", "X-API-Key": "nope"},
        )
        assert_error(response, 401, "unauthorized")


def test_right_api_key_is_accepted_either_way(strict_api: Api) -> None:
    for headers in ({"X-API-Key": "k-two"}, {"Authorization": "Bearer k-one"}):
        response = strict_api.get("/v1/analyses/" + "a" * 64, headers=headers)
        assert_error(response, 404, "not_found")


def test_bad_ids_are_bad_requests(api: Api) -> None:
    for bad in ("abc", "G" * 64, "A" * 64, "a" * 65, "a" * 63 + "%00"):
        assert_error(api.get(f"/v1/analyses/{bad}"), 400, "bad_request")
        assert_error(api.delete(f"/v1/analyses/{bad}"), 400, "bad_request")
    # a slash inside the id leaves the route: an ordinary JSON 404
    assert_error(api.get("/v1/analyses/..%2F..%2Fetc%2Fpasswd"), 404, "not_found")


def test_every_405_names_the_allowed_methods(api: Api) -> None:
    analysis = "/v1/analyses/" + "a" * 64
    for path, allowed in (
        ("/v1/analyses", {"POST", "OPTIONS"}),
        (analysis, {"GET", "HEAD", "DELETE", "OPTIONS"}),
        (analysis + "/annotated", {"GET", "HEAD", "OPTIONS"}),
        ("/healthz", {"GET", "HEAD", "OPTIONS"}),
    ):
        response = api.session.request("PUT", api.url + path, timeout=10)
        assert_error(response, 405, "method_not_allowed")
        assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


def test_unknown_id_is_not_found(api: Api) -> None:
    assert_error(api.get("/v1/analyses/" + "0" * 64), 404, "not_found")
    assert_error(api.get("/v1/analyses/" + "0" * 64 + "/annotated"), 404, "not_found")


def test_bad_wait_is_bad_request(api: Api, store: Store) -> None:
    analysis_id = "c" * 64
    store.claim(analysis_id, 3, "nobody-runs-this", None, upload=UNWRITTEN)
    try:
        for wait in ("-1", "31", "soon", "nan"):
            response = api.get(f"/v1/analyses/{analysis_id}", params={"wait": wait})
            assert_error(response, 400, "bad_request")
    finally:
        store.delete(analysis_id)


def test_flood_trips_the_rate_limit(redis_url: str) -> None:
    env = service_env(
        redis_url, READFACE_RATE_LIMIT_PER_MINUTE="5", READFACE_KEY_PREFIX="ratelimited:"
    )
    with running_api(env) as limited:
        statuses = [limited.submit(b"not an image").status_code for _ in range(8)]
        assert statuses[:5] == [415] * 5
        response = limited.submit(b"not an image")
        assert_error(response, 429, "rate_limited")
        assert int(response.headers["Retry-After"]) >= 1


def test_readyz_is_503_without_a_worker() -> None:
    with running_redis() as server, running_api(service_env(server.url)) as lonely:
        assert lonely.get("/healthz").status_code == 200
        response = lonely.get("/readyz")
        assert_error(response, 503, "unavailable")
        assert "worker" in response.json()["error"]["message"]


def test_redis_down_is_503_with_retry_after_and_the_api_recovers() -> None:
    # (A claim whose task cannot be sent is rolled back: test_analyses tests that half-write.)
    with running_redis() as server, running_api(service_env(server.url)) as api:
        server.stop()
        response = api.submit(astronaut_jpeg(quality=70))
        assert_error(response, 503, "unavailable")
        assert int(response.headers["Retry-After"]) > 0
        assert_error(api.get("/readyz"), 503, "unavailable")
        server.start()
        assert api.submit(astronaut_jpeg(quality=70)).status_code == 202


def test_api_never_imports_opencv_or_numpy() -> None:
    code = (
        "import sys, api; api.create_app(); "
        "bad = [m for m in ('cv2', 'numpy', 'worker') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr

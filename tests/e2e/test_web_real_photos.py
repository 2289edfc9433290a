"""Photos as users send them (tests/corpus.py) through the web page in headless chromium: chosen
with the file chooser and dropped from the desktop, against the whole service under gunicorn."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.web import human_size
from tests.corpus import NAMES, Corpus
from tests.e2e.page import choose_files, drop_files, wait_for_status, wait_until_all_settled
from tests.service import Api, running_api, service_env

pytestmark = pytest.mark.e2e
SETTLE_SECONDS = 180  # every photo of the corpus, one worker process, on a shared 2-core machine


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    return Corpus.for_session(tmp_path_factory)


@pytest.fixture()
def small_limit_api(redis_url: str, stack: Api) -> Iterator[Api]:
    """An API with a 200 KB upload limit: what a proxy with a lower limit than the service's
    looks like to the page."""
    with running_api(service_env(redis_url, READFACE_MAX_UPLOAD_BYTES="200000")) as api:
        yield api


def test_every_photo_is_analysed_when_chosen_and_when_dropped(
    stack: Api, browser: WebDriver, corpus: Corpus
) -> None:
    paths = [corpus.photo(name).path for name in NAMES]
    browser.get(stack.url + "/")

    choose_files(browser, *paths)
    chosen = wait_until_all_settled(browser, len(paths), SETTLE_SECONDS)
    for path in paths:
        drop_files(browser, browser.find_element(By.ID, "drop-zone"), path)
    dropped = wait_until_all_settled(browser, 2 * len(paths), SETTLE_SECONDS)

    failed = {
        f"{how}: {name}": status
        for how, statuses in (("chosen", chosen), ("dropped", dropped))
        for name, status in statuses.items()
        if not status.startswith("Done: 1 face found")
    }
    assert not failed, failed


def test_a_file_one_byte_over_the_limit_is_too_large_before_any_upload(
    stack: Api, browser: WebDriver, corpus: Corpus
) -> None:
    browser.get(stack.url + "/")
    choose_files(browser, corpus.over_limit())
    status = wait_for_status(browser, "large")
    assert status == "This file is too large to analyse (the limit is 20 MB)."


def test_a_413_for_a_file_under_the_limit_blames_a_lower_limit_in_front(
    small_limit_api: Api, browser: WebDriver, corpus: Corpus
) -> None:
    browser.get(small_limit_api.url + "/")
    # The page shows the service's 20 MB limit; the server it reaches refuses over 200 KB.
    browser.execute_script(
        "document.body.dataset.maxUploadBytes = String(20 * 2 ** 20);"
        "document.body.dataset.maxUploadText = '20 MB';"
    )
    photo = corpus.photo("phone-12mp.jpg").path
    choose_files(browser, photo)
    status = wait_for_status(browser, "refused")
    assert f"refused this {human_size(photo.stat().st_size)} file as too large" in status
    assert "within this service's limit of 20 MB" in status
    assert not browser.find_element(By.CLASS_NAME, "retry").is_displayed()

"""Photos as users send them (tests/corpus.py) through the web page in headless chromium: chosen
with the file chooser and dropped from the desktop, against the whole service under gunicorn."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from api.web import human_size
from harness.service import Api, running_api, service_env
from tests.corpus import NAMES, Corpus
from tests.drawn import marks_of, number_read
from tests.e2e.page import (
    assert_box_and_number_over_the_drawn,
    cards,
    choose_files,
    drop_files,
    wait_for_image,
    wait_for_status,
    wait_until_all_settled,
)

pytestmark = pytest.mark.e2e
PHONE = "phone-12mp.jpg"
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
    # A 12 MP photo's annotated image is drawn on a reduced decode, smaller than the photo: the
    # page's box and number still lie over the drawn ones.
    [card] = [c for c in cards(browser) if c.find_element(By.TAG_NAME, "h3").text == PHONE]
    image = card.find_element(By.CSS_SELECTOR, "img.annotated")
    assert wait_for_image(browser, image) == 4032 // 2
    link = str(card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href"))
    resource = stack.get(link.removeprefix(stack.url)).json()
    jpeg = stack.get(resource["links"]["annotated"]).content
    drawn = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert drawn is not None and drawn.shape[:2] == (3024 // 2, 4032 // 2)
    [mark] = marks_of(resource["result"], (4032 // 2, 3024 // 2))
    assert number_read(drawn, mark.number, range(1, 10)) == 1
    box = card.find_element(By.CSS_SELECTOR, ".face-box")
    assert_box_and_number_over_the_drawn(browser, box, image, mark)
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

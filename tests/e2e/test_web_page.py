"""The web page in a real browser (Debian's chromium) against the whole running service."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from harness.service import Api, running_worker, service_env, store_for
from tests.e2e.page import (
    PHONE,
    cards,
    choose_files,
    drop_files,
    face_rows,
    horizontal_overflow,
    set_viewport,
    wait_for_image,
    wait_for_status,
    write_photo,
)

pytestmark = pytest.mark.e2e
DONE = re.compile(r"Done: 1 face found in \d+\.\d s\.")


def test_upload_shows_faces_annotated_image_errors_and_dedup(
    redis_url: str, stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    photo = write_photo(tmp_path, "astronaut.jpg", quality=77)
    browser.get(stack.url + "/")
    assert "readface" in browser.title

    choose_files(browser, photo)
    first = wait_for_status(browser, "Done")
    assert DONE.fullmatch(first), first
    card = cards(browser)[0]
    assert card.find_element(By.CSS_SELECTOR, "h3.name").text == "astronaut.jpg"
    headers = card.find_elements(By.CSS_SELECTOR, "table.faces thead th")
    # coordinates: in the JSON only
    assert [h.text for h in headers] == ["#", "Gender", "Age", "Expression"]
    [row] = face_rows(card)
    assert row[0] == "1" and re.fullmatch(r"Female \d+%", row[1]), row
    assert re.fullmatch(r"\d+, likely \d+–\d+ \(\d+%\)", row[2]), row
    assert re.fullmatch(r"Happy \d+%", row[3]), row  # she smiles broadly
    caption = card.find_element(By.TAG_NAME, "caption").text
    assert "1 is the face the detector is surest of" in caption
    key = card.find_element(By.CLASS_NAME, "key").text
    assert "how sure the model is" in key and "an expression under 50%" in key
    assert wait_for_image(browser, card.find_element(By.CSS_SELECTOR, "img.annotated")) == 512
    json_link = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href") or ""
    assert re.search(r"/v1/analyses/[0-9a-f]{64}$", json_link)
    download = card.find_element(By.CSS_SELECTOR, "a.download")
    assert download.get_attribute("download") == "astronaut.annotated.jpg"

    notes, empty = tmp_path / "notes.jpg", tmp_path / "empty.jpg"
    notes.write_text("this is not a photo\n")
    empty.write_bytes(b"")
    choose_files(browser, notes, empty)
    # The server's own words; sending the same bytes again cannot help, so no Try again.
    assert wait_for_status(browser, "image", card=0) == (
        "The file is not a JPEG, PNG, WebP, BMP or HEIF image."
    )
    assert wait_for_status(browser, "empty", card=1) == "The image is empty."
    for refused in cards(browser)[:2]:
        assert not refused.find_element(By.CLASS_NAME, "retry").is_displayed()

    hits = store_for(redis_url).counters()["dedup_hits"]
    choose_files(browser, photo)
    again = wait_for_status(browser, "Done")
    assert store_for(redis_url).counters()["dedup_hits"] == hits + 1  # found analysed before...
    assert DONE.fullmatch(again), again  # ...and said in the very same words
    assert len(face_rows(cards(browser)[0])) == 1

    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert all(url.startswith((stack.url, "blob:")) for url in loaded), loaded


def test_several_photos_at_once_by_picker_and_by_drop(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    picked = [write_photo(tmp_path, f"picked-{q}.jpg", quality=q) for q in (70, 71)]
    dropped = [write_photo(tmp_path, f"dropped-{q}.jpg", quality=q) for q in (72, 73)]
    browser.get(stack.url + "/")

    choose_files(browser, *picked)
    drop_files(browser, browser.find_element(By.ID, "drop-zone"), *dropped)

    assert len(cards(browser)) == 4
    for index in range(4):
        assert "1 face found" in wait_for_status(browser, "Done", card=index)
    names = {card.find_element(By.CLASS_NAME, "name").text for card in cards(browser)}
    assert names == {path.name for path in picked + dropped}


def test_page_fits_a_phone_and_is_keyboard_reachable(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    set_viewport(browser, PHONE)
    browser.get(stack.url + "/")
    assert horizontal_overflow(browser) <= 0

    # The first Tab lands on the (visually hidden) file input, and its label shows the focus.
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    assert browser.execute_script("return document.activeElement.id") == "file-input"
    outline = browser.execute_script(
        "return getComputedStyle(document.querySelector('label[for=file-input]')).outlineStyle"
    )
    assert outline == "solid"

    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=75))
    wait_for_status(browser, "Done")
    image = cards(browser)[0].find_element(By.CSS_SELECTOR, "img.annotated")
    wait_for_image(browser, image)
    assert horizontal_overflow(browser) <= 0
    # The image fills the card's width; the faces table fits too (its columns wrap).
    assert browser.execute_script(
        "const img = arguments[0], card = img.closest('.result');"
        "return Math.abs(img.getBoundingClientRect().width - card.clientWidth) < 1",
        image,
    )
    assert browser.execute_script(
        "const box = document.querySelector('.table-scroll');"
        "return box.scrollWidth <= box.clientWidth"
    )


def test_progress_goes_from_queued_to_done_with_a_running_clock(
    idle_redis_url: str, workerless_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(workerless_api.url + "/")
    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=79))
    wait_for_status(browser, "Queued")
    card = cards(browser)[0]
    assert card.find_element(By.CLASS_NAME, "status").get_attribute("role") == "status"
    # The clock ticks outside that live region, so screen readers are not flooded.
    elapsed = card.find_element(By.CLASS_NAME, "elapsed")
    first = WebDriverWait(browser, 5).until(lambda _: elapsed.text)
    assert re.fullmatch(r"\d+\.\d s", first)
    WebDriverWait(browser, 5).until(lambda _: elapsed.text != first)

    # A worker arrives: the queued job runs and the long-poll in flight answers with the result.
    with running_worker(service_env(idle_redis_url)):
        assert "1 face found in" in wait_for_status(browser, "Done")
    assert elapsed.text == ""

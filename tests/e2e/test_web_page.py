"""The web page in a real browser (Debian's chromium) against the whole running service."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.page import (
    cards,
    choose_files,
    drop_files,
    face_rows,
    horizontal_overflow,
    wait_for_image,
    wait_for_status,
    write_photo,
)
from tests.service import Api, running_worker, service_env

pytestmark = pytest.mark.e2e
SCREENSHOT_COPY = Path("/tmp/readface-screenshot.png")
PHONE_SCREENSHOT_COPY = Path("/tmp/readface-screenshot-phone.png")


def save_full_page(browser: WebDriver, path: Path, copy: Path) -> None:
    """Grow the window to the page's height so the screenshot shows every card."""
    width = browser.get_window_size()["width"]
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(int(height) + 150, 5000))
    browser.save_screenshot(str(path))
    shutil.copyfile(path, copy)


def test_upload_shows_faces_annotated_image_errors_and_dedup(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    photo = write_photo(tmp_path, "astronaut.jpg", quality=77)
    browser.get(stack.url + "/")
    assert "readface" in browser.title

    choose_files(browser, photo)
    assert "1 face found in" in wait_for_status(browser, "Done")
    card = cards(browser)[0]
    [row] = face_rows(card)
    assert row[0] == "1" and row[2].startswith("female")
    assert re.fullmatch(r"\d+, \d+, \d+×\d+", row[1])
    assert re.fullmatch(r"\d+ y, \d+-\d+ \(\d+%\)", row[3])
    assert wait_for_image(browser, card.find_element(By.CSS_SELECTOR, "img.annotated")) == 512
    json_link = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href") or ""
    assert re.search(r"/v1/analyses/[0-9a-f]{64}$", json_link)
    download = card.find_element(By.CSS_SELECTOR, "a.download")
    assert download.get_attribute("download") == "astronaut.annotated.jpg"

    notes = tmp_path / "notes.jpg"
    notes.write_text("this is not a photo\n")
    choose_files(browser, notes)
    assert "not an image we can read" in wait_for_status(browser, "not an image")
    # Sending the same bytes again cannot help, so the page does not offer it.
    assert not cards(browser)[0].find_element(By.CLASS_NAME, "retry").is_displayed()

    choose_files(browser, photo)
    assert "Analysed before — instant" in wait_for_status(browser, "Done")
    assert len(face_rows(cards(browser)[0])) == 1

    loaded = browser.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)"
    )
    assert all(url.startswith((stack.url, "blob:")) for url in loaded), loaded
    save_full_page(browser, tmp_path / "result.png", SCREENSHOT_COPY)


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
    browser.set_window_size(390, 844)
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
    wait_for_image(browser, cards(browser)[0].find_element(By.CSS_SELECTOR, "img.annotated"))
    assert horizontal_overflow(browser) <= 0
    # The faces table fits too: its columns wrap rather than scroll inside their box.
    assert browser.execute_script(
        "const box = document.querySelector('.table-scroll');"
        "return box.scrollWidth <= box.clientWidth"
    )
    save_full_page(browser, tmp_path / "phone.png", PHONE_SCREENSHOT_COPY)


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

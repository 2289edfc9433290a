"""axe-core finds nothing on the page in each of its states, at laptop and phone sizes; a
screenshot of each state at both sizes goes to var/screenshots/ for review; a touch phone of
320 px is not told to drop photos, and its age ranges stay on one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from harness.images import astronaut_grid, encode
from harness.service import Api
from tests.e2e.page import (
    LAPTOP,
    PHONE,
    axe_violations,
    cards,
    choose_files,
    horizontal_overflow,
    screenshot,
    set_viewport,
    wait_for_image,
    wait_until_all_settled,
    write_photo,
)

pytestmark = pytest.mark.e2e


def assert_accessible(browser: WebDriver, axe_source: str, state: str) -> None:
    """No axe violation at either size; a screenshot of each (var/screenshots/STATE-SIZE.png)."""
    for name, size in (("laptop", LAPTOP), ("phone", PHONE)):
        set_viewport(browser, size)
        assert horizontal_overflow(browser) <= 0, f"{state} at {name}"
        assert axe_violations(browser, axe_source) == [], f"{state} at {name}"
        screenshot(browser, f"{state}-{name}")


def test_empty_page_results_and_errors_have_no_axe_violations(
    stack: Api, browser: WebDriver, axe_source: str, tmp_path: Path
) -> None:
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(astronaut_grid(3, 2), "JPEG", quality=90))
    empty, notes = tmp_path / "empty.jpg", tmp_path / "notes.jpg"
    empty.write_bytes(b"")
    notes.write_text("this is not a photo\n")
    browser.get(stack.url + "/")
    assert_accessible(browser, axe_source, "empty")

    choose_files(browser, group, write_photo(tmp_path, "astronaut.jpg", quality=82))
    wait_until_all_settled(browser, 2, timeout=60)
    for card in cards(browser):
        wait_for_image(browser, card.find_element(By.CSS_SELECTOR, "img.annotated"))
    assert_accessible(browser, axe_source, "results")

    choose_files(browser, empty, notes)
    statuses = wait_until_all_settled(browser, 4, timeout=60)
    assert statuses["empty.jpg"] == "The image is empty."
    assert_accessible(browser, axe_source, "errors")

    set_viewport(browser, LAPTOP)
    cards(browser)[-1].find_element(By.CLASS_NAME, "enlarge").click()
    assert browser.find_element(By.ID, "viewer").is_displayed()
    assert_accessible(browser, axe_source, "enlarged")


def test_a_refused_key_has_no_axe_violations(
    keyed_api: Api, browser: WebDriver, axe_source: str
) -> None:
    browser.get(keyed_api.url + "/")
    browser.find_element(By.ID, "api-key").send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    WebDriverWait(browser, 10).until(lambda b: b.find_element(By.ID, "key-error").is_displayed())
    assert_accessible(browser, axe_source, "key-refused")


def test_a_touch_phone_of_320_px_is_not_told_to_drop_and_ranges_stay_whole(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(astronaut_grid(3, 2), "JPEG", quality=89))
    browser.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
    set_viewport(browser, (320, 640))
    browser.get(stack.url + "/")
    help_text = browser.find_element(By.ID, "upload-help").text
    assert help_text.startswith("Choose photos (JPEG") and "Drop" not in help_text

    choose_files(browser, group)
    wait_until_all_settled(browser, 1, timeout=60)
    wait_for_image(browser, cards(browser)[0].find_element(By.CSS_SELECTOR, "img.annotated"))
    assert horizontal_overflow(browser) <= 0
    lines = browser.execute_script(
        "return Array.from(document.querySelectorAll('.range'), (r) => r.getClientRects().length)"
    )
    assert lines == [1] * 6
    assert browser.execute_script(
        "const box = document.querySelector('.table-scroll');"
        "return box.scrollWidth <= box.clientWidth"
    )
    screenshot(browser, "results-touch-320")

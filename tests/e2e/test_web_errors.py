"""The page in a real browser when things go wrong: keys, limits, a dead backend, no server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from cli.up import stop
from tests.e2e.page import cards, choose_files, wait_for_image, wait_for_status, write_photo
from tests.service import Api

pytestmark = pytest.mark.e2e


def retry_offered(browser: WebDriver) -> bool:
    return cards(browser)[0].find_element(By.CLASS_NAME, "retry").is_displayed()


def test_page_asks_for_an_api_key_and_retries_with_it(
    keyed_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(keyed_api.url + "/")
    panel = browser.find_element(By.ID, "key-panel")
    key_input = browser.find_element(By.ID, "api-key")
    assert panel.is_displayed()
    key_input.send_keys("wrong")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    assert not panel.is_displayed()

    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=76))
    assert "needs a valid API key" in wait_for_status(browser, "API key")
    assert panel.is_displayed()
    assert browser.execute_script("return document.activeElement.id") == "api-key"

    key_input.clear()
    key_input.send_keys("s3cret")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    # The upload the wrong key stopped goes again by itself, now with the header.
    assert "1 face found" in wait_for_status(browser, "Done")
    card = cards(browser)[0]
    assert wait_for_image(browser, card.find_element(By.CSS_SELECTOR, "img.annotated")) == 512
    json_link = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href") or ""
    assert json_link.startswith("blob:")
    assert browser.execute_script("return sessionStorage.getItem('readface-api-key')") == "s3cret"


def test_limits_a_dead_backend_and_a_gone_server_are_told_in_words(
    backendless_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.jpg"
    notes.write_text("small enough to send\n")
    browser.get(backendless_api.url + "/")

    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=74))
    assert "too large to analyse (the limit is 20 KB)" in wait_for_status(browser, "large")
    assert not retry_offered(browser)

    choose_files(browser, notes)
    assert "busy or restarting" in wait_for_status(browser, "busy")
    assert retry_offered(browser)

    stop(backendless_api.process)
    choose_files(browser, notes)
    assert "Could not reach the server" in wait_for_status(browser, "reach")


def test_rate_limit_says_how_long_to_wait(
    limited_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(limited_api.url + "/")
    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=78))
    status = wait_for_status(browser, "Too many")
    assert re.search(r"Wait \d+ seconds? and try again", status), status
    assert retry_offered(browser)

"""The page in a real browser when things go wrong: keys, limits, a dead backend, no server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from cli.processes import stop
from harness.service import Api
from tests.e2e.page import cards, choose_files, wait_for_image, wait_for_status, write_photo

pytestmark = pytest.mark.e2e


def retry_offered(browser: WebDriver) -> bool:
    return cards(browser)[0].find_element(By.CLASS_NAME, "retry").is_displayed()


def stored_key(browser: WebDriver) -> str | None:
    return browser.execute_script("return sessionStorage.getItem('readface-api-key')")  # type: ignore[no-any-return]


def enter_key(browser: WebDriver, key: str) -> None:
    field = browser.find_element(By.ID, "api-key")
    field.send_keys(key, Keys.ENTER)


def key_refused_at_the_field(browser: WebDriver) -> bool:
    """The refusal shows, the field is described by it, emptied and focused."""
    message = browser.find_element(By.ID, "key-error")
    field = browser.find_element(By.ID, "api-key")
    WebDriverWait(browser, 10).until(lambda _: message.is_displayed())
    assert message.text == "That key was not accepted."
    assert "key-error" in (field.get_attribute("aria-describedby") or "").split()
    assert field.get_attribute("aria-invalid") == "true"
    return field.get_attribute("value") == "" and browser.switch_to.active_element == field


def test_a_refused_key_is_said_at_the_field_and_the_waiting_photo_goes_with_a_good_one(
    keyed_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    # A key kept from earlier in this tab, which the server no longer accepts.
    browser.get(keyed_api.url + "/")
    browser.execute_script("sessionStorage.setItem('readface-api-key', 'stale')")
    browser.refresh()
    assert browser.find_element(By.ID, "change-key").is_displayed()
    choose_files(browser, write_photo(tmp_path, "astronaut.jpg", quality=76))
    status = wait_for_status(browser, "API key")
    assert status == "Waiting for a valid API key: enter it above and this photo is sent again."
    assert not retry_offered(browser)
    assert key_refused_at_the_field(browser) and stored_key(browser) is None

    enter_key(browser, "wrong")  # checked at once, before any photo goes with it
    assert key_refused_at_the_field(browser) and stored_key(browser) is None
    assert cards(browser)[0].find_element(By.CLASS_NAME, "status").text == status

    enter_key(browser, "s3cret")
    # The upload the refused key stopped goes again by itself, now with the header.
    assert "1 face found" in wait_for_status(browser, "Done")
    assert stored_key(browser) == "s3cret"
    assert browser.find_element(By.ID, "api-key").get_attribute("value") == ""  # not left there
    assert not browser.find_element(By.ID, "key-error").is_displayed()
    card = cards(browser)[0]
    assert wait_for_image(browser, card.find_element(By.CSS_SELECTOR, "img.annotated")) == 512
    json_link = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href") or ""
    assert json_link.startswith("blob:")

    browser.find_element(By.ID, "change-key").click()
    field = browser.find_element(By.ID, "api-key")
    assert field.is_displayed() and browser.switch_to.active_element == field


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

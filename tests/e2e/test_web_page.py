"""The web page in a real browser (Debian's chromium) against the whole running service."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from tests.images import astronaut_jpeg
from tests.service import Api, running_api, running_redis, running_worker, service_env, wait_ready

pytestmark = pytest.mark.e2e
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
SCREENSHOT_COPY = Path("/tmp/readface-screenshot.png")


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with running_redis() as server:
        yield server.url


@pytest.fixture(scope="module")
def stack(redis_url: str) -> Iterator[Api]:
    env = service_env(redis_url)
    with running_worker(env), running_api(env) as api:
        wait_ready(api)
        yield api


@pytest.fixture(scope="module")
def keyed_api(redis_url: str, stack: Api) -> Iterator[Api]:
    with running_api(service_env(redis_url, READFACE_API_KEYS="s3cret")) as api:
        yield api


@pytest.fixture()
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("chromium and chromedriver are not installed (make test installs them)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-component-update",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,1500",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def upload(browser: WebDriver, path: Path) -> None:
    browser.find_element(By.ID, "file-input").send_keys(str(path))


def newest_status(browser: WebDriver, contains: str, timeout: float = 60) -> str:
    def status(_: WebDriver) -> str | bool:
        cards = browser.find_elements(By.CSS_SELECTOR, "#uploads .upload .status")
        text = cards[0].text if cards else ""
        return text if contains in text else False

    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(status)  # type: ignore[return-value]


def test_upload_shows_faces_annotated_image_errors_and_dedup(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg(quality=77))
    browser.get(stack.url + "/")
    assert "readface" in browser.title

    upload(browser, photo)
    assert "1 face found in" in newest_status(browser, "Done")
    card = browser.find_element(By.CSS_SELECTOR, "#uploads .upload")
    rows = card.find_elements(By.CSS_SELECTOR, "table.faces tbody tr")
    assert len(rows) == 1
    cells = [cell.text for cell in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[0] == "1" and cells[2].startswith("female")
    assert any(bucket in cells[3] for bucket in ("25-32", "38-43"))
    image = card.find_element(By.CSS_SELECTOR, "img.annotated")
    WebDriverWait(browser, 10).until(
        lambda _: browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", image
        )
    )
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 512
    json_link = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href") or ""
    assert re.search(r"/v1/analyses/[0-9a-f]{64}$", json_link)
    assert card.find_element(By.CSS_SELECTOR, "a.download").get_attribute("download") == (
        "astronaut.annotated.jpg"
    )
    browser.save_screenshot(str(tmp_path / "result.png"))
    shutil.copyfile(tmp_path / "result.png", SCREENSHOT_COPY)

    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n")
    upload(browser, text)
    assert "not an image we can read" in newest_status(browser, "not an image")

    upload(browser, photo)
    assert "Analysed before — instant" in newest_status(browser, "Done")


def test_page_fits_a_phone_and_is_keyboard_reachable(stack: Api, browser: WebDriver) -> None:
    browser.set_window_size(390, 844)
    browser.get(stack.url + "/")
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0
    focused = browser.execute_script(
        "document.getElementById('file-input').focus(); return document.activeElement.id"
    )
    assert focused == "file-input"


def test_page_asks_for_an_api_key_and_keeps_it_for_the_session(
    keyed_api: Api, browser: WebDriver, tmp_path: Path
) -> None:
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(astronaut_jpeg(quality=76))
    browser.get(keyed_api.url + "/")
    panel = browser.find_element(By.ID, "key-panel")
    assert panel.is_displayed()
    browser.find_element(By.ID, "api-key").send_keys("s3cret")
    browser.find_element(By.CSS_SELECTOR, "#key-form button").click()
    assert not panel.is_displayed()
    upload(browser, photo)
    assert "1 face found" in newest_status(browser, "Done")
    assert browser.execute_script("return sessionStorage.getItem('readface-api-key')") == "s3cret"

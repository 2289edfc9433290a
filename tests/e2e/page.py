"""What the browser tests do on the page, named for what a person does."""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from tests.images import astronaut_jpeg

# Builds a drop event the way a real drag from the desktop delivers it (a DataTransfer of Files);
# WebDriver has no native file drag-and-drop.
DROP_FILES_JS = """
const [names, types, payloads, target] = arguments;
const transfer = new DataTransfer();
names.forEach((name, i) => {
  const bytes = Uint8Array.from(atob(payloads[i]), (c) => c.charCodeAt(0));
  transfer.items.add(new File([bytes], name, {type: types[i]}));
});
for (const type of ["dragenter", "dragover", "drop"]) {
  target.dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                            cancelable: true}));
}
"""


def write_photo(folder: Path, name: str, quality: int) -> Path:
    """The astronaut portrait as a file; each quality gives different bytes, so a new analysis."""
    path = folder / name
    path.write_bytes(astronaut_jpeg(quality=quality))
    return path


def choose_files(browser: WebDriver, *paths: Path) -> None:
    """Pick files with the file input (chromedriver takes several, newline-separated)."""
    browser.find_element(By.ID, "file-input").send_keys("\n".join(str(p) for p in paths))


def drop_files(browser: WebDriver, target: WebElement, *paths: Path) -> None:
    """Drop files from the desktop; each File's type is what its extension says, as the
    browser sets it (empty when unknown)."""
    types = [mimetypes.guess_type(p.name)[0] or "" for p in paths]
    payloads = [base64.b64encode(p.read_bytes()).decode() for p in paths]
    browser.execute_script(DROP_FILES_JS, [p.name for p in paths], types, payloads, target)


def cards(browser: WebDriver) -> list[WebElement]:
    """The upload cards, newest first (as the page shows them)."""
    return browser.find_elements(By.CSS_SELECTOR, "#uploads .upload")


def wait_for_status(browser: WebDriver, contains: str, card: int = 0, timeout: float = 60) -> str:
    """Wait until a card's status (the newest by default) contains the text; return it."""

    def status(_: WebDriver) -> str | bool:
        found = cards(browser)
        text = found[card].find_element(By.CLASS_NAME, "status").text if len(found) > card else ""
        return text if contains in text else False

    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(status)  # type: ignore[return-value]


def wait_until_all_settled(browser: WebDriver, count: int, timeout: float) -> dict[str, str]:
    """Wait until there are count cards and none is still in progress; name -> status text
    (the newest card of a name wins)."""
    settled = """return Array.from(document.querySelectorAll('#uploads .upload'), (card) => [
        card.querySelector('.name').textContent, card.querySelector('.status').textContent,
        /\\b(done|error)\\b/.test(card.querySelector('.status').className)])"""

    def statuses(_: WebDriver) -> dict[str, str] | bool:
        found = browser.execute_script(settled)
        if len(found) != count or not all(ended for _, _, ended in found):
            return False
        return {name: text for name, text, _ in reversed(found)}

    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(statuses)  # type: ignore[return-value]


def face_rows(card: WebElement) -> list[list[str]]:
    rows = card.find_elements(By.CSS_SELECTOR, "table.faces tbody tr")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def wait_for_image(browser: WebDriver, image: WebElement) -> int:
    """Wait until the <img> has decoded; its natural width (0 means it failed to load)."""
    loaded = "return arguments[0].complete && arguments[0].naturalWidth"
    WebDriverWait(browser, 10).until(lambda _: browser.execute_script(loaded, image))
    return int(browser.execute_script("return arguments[0].naturalWidth", image))


def horizontal_overflow(browser: WebDriver) -> int:
    """How many CSS pixels the page is wider than the window (<= 0: no sideways scrolling)."""
    return int(
        browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    )

"""What the browser tests do on the page, named for what a person does."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Literal

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from harness.images import astronaut_jpeg
from harness.paths import REPO
from harness.service import poll
from worker.annotate import FaceMarks

LAPTOP, PHONE = (1280, 800), (390, 844)
# Where the tests leave a screenshot of each state of the page for people to review.
SCREENSHOTS = REPO / "var" / "screenshots"
# The Files a real drag from the desktop, or a paste, delivers (a DataTransfer of them):
# WebDriver has neither native file drag-and-drop nor a clipboard. The Files come from a file
# input of the test's own, given the paths as the file chooser is: the browser reads them from
# disk and types them by extension itself, however big they are.
STAGING_INPUT_JS = """
const input = document.createElement("input");
input.type = "file";
input.multiple = true;
document.body.append(input);
return input;
"""
FILES_JS = """
const transfer = new DataTransfer();
for (const file of arguments[0].files) transfer.items.add(file);
arguments[0].remove();
"""
DROP_FILES_JS = (
    FILES_JS
    + """
for (const type of ["dragenter", "dragover", "drop"]) {
  arguments[1].dispatchEvent(new DragEvent(type, {dataTransfer: transfer, bubbles: true,
                                                  cancelable: true}));
}
"""
)
PASTE_FILES_JS = (
    FILES_JS
    + """
document.activeElement.dispatchEvent(
  new ClipboardEvent("paste", {clipboardData: transfer, bubbles: true, cancelable: true}));
"""
)
# Where an element is over the annotated image, in the image's own pixels.
RECT_IN_IMAGE_JS = """
const [element, image] = arguments;
const box = element.getBoundingClientRect(), frame = image.getBoundingClientRect();
const scale = image.naturalWidth / frame.width;
return [(box.left - frame.left) * scale, (box.top - frame.top) * scale,
        (box.right - frame.left) * scale, (box.bottom - frame.top) * scale];
"""
# axe-core's default rules over the whole page; each violation as "rule: selector, selector".
AXE_RUN_JS = """
const done = arguments[arguments.length - 1];
axe.run(document).then(
  (results) => done(results.violations.map(
    (v) => `${v.id}: ${v.nodes.map((node) => node.target.join(" ")).join(", ")}`)),
  (error) => done([`axe failed: ${error}`]));
"""


def write_photo(folder: Path, name: str, quality: int) -> Path:
    """The astronaut portrait as a file; each quality gives different bytes, so a new analysis."""
    path = folder / name
    path.write_bytes(astronaut_jpeg(quality=quality))
    return path


def choose_files(browser: WebDriver, *paths: Path) -> None:
    """Pick files with the file input (chromedriver takes several, newline-separated)."""
    browser.find_element(By.ID, "file-input").send_keys("\n".join(str(p) for p in paths))


def _staged(browser: WebDriver, paths: tuple[Path, ...]) -> WebElement:
    """A file input of the test's own holding the files, for FILES_JS to take them from; the
    focus stays where it was, as a drag or a paste leaves it."""
    focused = browser.switch_to.active_element
    staging: WebElement = browser.execute_script(STAGING_INPUT_JS)
    staging.send_keys("\n".join(str(p) for p in paths))
    browser.execute_script("arguments[0].focus()", focused)
    return staging


def drop_files(browser: WebDriver, target: WebElement, *paths: Path) -> None:
    """Drop files from the desktop onto the target element."""
    browser.execute_script(DROP_FILES_JS, _staged(browser, paths), target)


def paste_files(browser: WebDriver, *paths: Path) -> None:
    """Paste files (as a copied image arrives) where the focus is."""
    browser.execute_script(PASTE_FILES_JS, _staged(browser, paths))


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

    def statuses(_: WebDriver) -> dict[str, str] | Literal[False]:
        found = browser.execute_script(settled)
        if len(found) != count or not all(ended for _, _, ended in found):
            return False
        return {name: text for name, text, _ in reversed(found)}

    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(statuses)


def face_rows(card: WebElement) -> list[list[str]]:
    """The faces table's rows as text: number, gender, age, expression."""
    rows = card.find_elements(By.CSS_SELECTOR, "table.faces tbody tr")
    return [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")] for row in rows]


def wait_for_image(browser: WebDriver, image: WebElement) -> int:
    """Wait until the <img> has decoded; its natural width (0 means it failed to load)."""
    loaded = "return arguments[0].complete && arguments[0].naturalWidth"
    WebDriverWait(browser, 10).until(lambda _: browser.execute_script(loaded, image))
    return int(browser.execute_script("return arguments[0].naturalWidth", image))


def assert_box_and_number_over_the_drawn(
    browser: WebDriver, box: WebElement, image: WebElement, mark: FaceMarks
) -> None:
    """The page's box for a face lies on the drawn box, and its number covers the drawn one."""
    left, top, right, bottom = browser.execute_script(RECT_IN_IMAGE_JS, box, image)
    drawn = mark.box
    assert abs(left - drawn.left) < 2 and abs(right - drawn.right) < 2
    assert abs(top - drawn.top) < 2 and abs(bottom - drawn.bottom) < 2
    chip = box.find_element(By.CLASS_NAME, "chip")
    left, top, right, bottom = browser.execute_script(RECT_IN_IMAGE_JS, chip, image)
    tag = mark.number.rect
    assert left <= tag.left + 1 and top <= tag.top + 1
    assert right >= tag.right - 1 and bottom >= tag.bottom - 1


def horizontal_overflow(browser: WebDriver) -> int:
    """How many CSS pixels the page is wider than the window (<= 0: no sideways scrolling)."""
    return int(
        browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    )


def set_viewport(browser: WebDriver, size: tuple[int, int]) -> None:
    """Make the page's viewport this many CSS pixels (the window's frame adds to its height;
    outerWidth is no guide, headless chromium reports at least 500)."""
    width, height = size
    frame = browser.execute_script("return window.outerHeight - window.innerHeight")
    browser.set_window_size(width, height + frame)
    # The page learns its new size a moment after the window has it.
    inner = "return [window.innerWidth, window.innerHeight]"
    WebDriverWait(browser, 5).until(lambda _: tuple(browser.execute_script(inner)) == size)


def screenshot(browser: WebDriver, name: str) -> Path:
    """The whole page at the current width, as SCREENSHOTS/name.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = browser.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
    )
    path = SCREENSHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def axe_violations(browser: WebDriver, axe_source: str) -> list[str]:
    """axe-core's violations of its default rules on the page as it is now."""
    if not browser.execute_script("return typeof window.axe === 'object'"):
        browser.execute_script(axe_source)
    browser.set_script_timeout(60)
    return browser.execute_async_script(AXE_RUN_JS)  # type: ignore[no-any-return]


def throttle_uploads(browser: WebDriver, bytes_per_second: int | None) -> None:
    """Send request bodies at this rate, as over a slow link (None: at full speed again)."""
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": bytes_per_second or -1,
        },
    )


def allow_downloads(browser: WebDriver, folder: Path) -> None:
    """Save the page's downloads into folder without asking."""
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )


def downloaded(folder: Path, name: str, timeout: float = 10) -> Path:
    """The file once the browser has finished writing it (it writes NAME.crdownload first)."""
    path = folder / name
    poll(lambda: path.exists() and not any(folder.glob("*.crdownload")), timeout, f"{name}")
    return path


def active_element(browser: WebDriver) -> WebElement:
    return browser.switch_to.active_element

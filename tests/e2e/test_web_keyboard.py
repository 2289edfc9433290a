"""The page by keyboard alone: Tab reaches every control, Enter works each one, the focus ring
shows at 3:1 or more, and focus is never dropped (after Cancel, Try again, Close, Remove)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from harness.service import Api
from tests.e2e.page import (
    LAPTOP,
    active_element,
    cards,
    screenshot,
    set_viewport,
    throttle_uploads,
    wait_for_status,
    write_photo,
)

pytestmark = pytest.mark.e2e
WHITE, GREEN = (255, 255, 255), (10, 125, 50)  # the page's background and its buttons
# What shows the focus of an element: its own outline, or for the visually hidden file input,
# its label's. Also the element's background, which the ring may touch.
FOCUS_JS = """
const element = document.activeElement;
const shown = element.id === "file-input" ? document.querySelector("label[for=file-input]")
                                          : element;
const style = getComputedStyle(shown);
return [style.outlineStyle, parseFloat(style.outlineWidth), style.outlineColor,
        style.backgroundColor];
"""


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(v) for v in re.findall(r"[\d.]+", css)[:3])


def contrast(one: tuple[int, ...], other: tuple[int, ...]) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""

    def luminance(colour: tuple[int, ...]) -> float:
        linear = [
            c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in colour
        ]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def assert_focus_shows(browser: WebDriver) -> None:
    style, width, colour, background = browser.execute_script(FOCUS_JS)
    what = (active_element(browser).get_attribute("outerHTML") or "")[:80]
    assert style != "none" and width >= 2, what
    neighbours = [WHITE, GREEN] + ([rgb(background)] if background != "rgba(0, 0, 0, 0)" else [])
    assert all(contrast(rgb(colour), n) >= 3 for n in neighbours), (what, colour, background)


def press(browser: WebDriver, key: str) -> None:
    """A key press where the focus is, as a person makes it (send_keys to a file input would
    choose a file instead)."""
    ActionChains(browser).send_keys(key).perform()


def tab_until(browser: WebDriver, matches: str, most: int = 12, back: bool = False) -> WebElement:
    """Press Tab (Shift+Tab when back) until the focused element matches the CSS selector;
    each element on the way must show its focus."""
    for _ in range(most):
        keys = ActionChains(browser)
        if back:
            keys.key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            keys.send_keys(Keys.TAB).perform()
        assert_focus_shows(browser)
        focused = active_element(browser)
        if browser.execute_script("return arguments[0].matches(arguments[1])", focused, matches):
            return focused
    raise AssertionError(f"{most} Tabs did not reach {matches}")


def focused_is(browser: WebDriver, selector: str) -> bool:
    return bool(browser.execute_script(f"return document.activeElement.matches('{selector}')"))


def test_everything_by_keyboard_with_a_slow_upload_cancelled_and_tried_again(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    set_viewport(browser, LAPTOP)
    browser.get(stack.url + "/")
    press(browser, Keys.TAB)
    assert focused_is(browser, "#file-input")
    assert_focus_shows(browser)

    # 50 KB at 500 B/s: Tab reaches Cancel long before the upload could end, however busy the
    # machine (at 15 KB/s, it once ended first with the suite and two CPU hogs beside it)
    throttle_uploads(browser, 500)
    active_element(browser).send_keys(str(write_photo(tmp_path, "astronaut.jpg", quality=83)))
    card = cards(browser)[0]
    percent = card.find_element(By.CLASS_NAME, "percent")
    WebDriverWait(browser, 10).until(lambda _: re.fullmatch(r"([1-9]|[1-9]\d)%", percent.text))
    screenshot(browser, "uploading-laptop")
    tab_until(browser, ".cancel")
    press(browser, Keys.ENTER)
    assert wait_for_status(browser, "Cancelled") == "Cancelled."
    WebDriverWait(browser, 5).until(lambda _: focused_is(browser, ".retry"))
    assert_focus_shows(browser)

    throttle_uploads(browser, None)
    press(browser, Keys.ENTER)
    assert focused_is(browser, ".status")  # the button went away; focus did not
    assert "1 face found" in wait_for_status(browser, "Done")
    assert focused_is(browser, ".status")

    # From the top, Tab reaches every control once, in reading order.
    browser.find_element(By.TAG_NAME, "h1").click()
    box = card.find_element(By.CSS_SELECTOR, ".face-box")
    for selector in (
        "#file-input", "#download-csv", "#download-json", "#clear-all", ".remove", ".enlarge",
        "tbody tr", ".json-link", "a.download",
    ):  # fmt: skip
        tab_until(browser, selector, most=1)
        if selector == "tbody tr":
            # Checked while the row has focus: later, a scroll can put the box under the pointer
            # and light it by hover instead.
            assert "active" in (box.get_attribute("class") or "")

    tab_until(browser, ".enlarge", most=3, back=True)
    press(browser, Keys.ENTER)
    assert browser.find_element(By.ID, "viewer").is_displayed()
    assert focused_is(browser, "#viewer .close")
    press(browser, Keys.ENTER)
    assert not browser.find_element(By.ID, "viewer").is_displayed()
    assert focused_is(browser, ".enlarge")

    browser.execute_script("document.querySelector('.remove').focus()")
    press(browser, Keys.ENTER)
    assert cards(browser) == [] and focused_is(browser, "#file-input")
    assert not browser.find_element(By.ID, "results").is_displayed()

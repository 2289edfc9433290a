"""Which face is which: rows, boxes on the page and numbers in the annotated JPEG agree; a
paste; every result as CSV and JSON."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from harness.images import astronaut_grid, encode
from harness.service import Api
from tests.drawn import marks_of, number_read
from tests.e2e.page import (
    active_element,
    allow_downloads,
    assert_box_and_number_over_the_drawn,
    cards,
    choose_files,
    downloaded,
    face_rows,
    paste_files,
    wait_for_image,
    wait_for_status,
    write_photo,
)

pytestmark = pytest.mark.e2e


def lit(card: WebElement, what: str) -> list[str]:
    """The face numbers of the rows or boxes lit up on this card."""
    elements = card.find_elements(By.CSS_SELECTOR, f"{what}.active")
    return [element.get_attribute("data-face") or "" for element in elements]


def test_group_photo_row_box_and_drawn_number_agree(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    group = tmp_path / "group.jpg"
    group.write_bytes(encode(astronaut_grid(3, 2), "JPEG", quality=92))  # 1536x1024, 6 faces
    browser.get(stack.url + "/")
    choose_files(browser, group)
    assert "6 faces found" in wait_for_status(browser, "Done")
    card = cards(browser)[0]
    image = card.find_element(By.CSS_SELECTOR, "img.annotated")
    assert wait_for_image(browser, image) == 1536
    analysis_id = card.find_element(By.CSS_SELECTOR, "a.json-link").get_attribute("href")
    resource = stack.get(f"/v1/analyses/{str(analysis_id).rsplit('/', 1)[1]}").json()
    jpeg = stack.get(resource["links"]["annotated"]).content
    drawn = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert drawn is not None
    assert drawn.shape[:2] == (1024, 1536)  # drawn at its own size: the JSON's boxes apply
    marks = marks_of(resource["result"], (1536, 1024))

    rows = card.find_elements(By.CSS_SELECTOR, "table.faces tbody tr")
    boxes = card.find_elements(By.CSS_SELECTOR, ".result .face-box")
    assert len(rows) == len(boxes) == len(marks) == 6
    pointer = ActionChains(browser)
    for number, (row, box, mark) in enumerate(zip(rows, boxes, marks, strict=True), start=1):
        assert row.find_element(By.TAG_NAME, "th").text == box.text == str(number)
        pointer.move_to_element(row).perform()
        assert lit(card, ".face-box") == [str(number)]
        pointer.move_to_element(box).perform()
        assert lit(card, "tbody tr") == [str(number)]
        # The box on the page is the JSON's box, and its number covers the one drawn there...
        assert_box_and_number_over_the_drawn(browser, box, image, mark)
        # ...which is this row's number, read back from the JPEG's pixels.
        assert number_read(drawn, mark.number, range(1, 13)) == number

    # By keyboard: the table is one stop, arrows move between rows, the box follows.
    rows[0].click()
    pointer.move_to_element(browser.find_element(By.TAG_NAME, "h1")).perform()
    assert lit(card, ".face-box") == ["1"]  # lit by the focus, the pointer gone
    active_element(browser).send_keys(Keys.ARROW_DOWN)
    assert active_element(browser) == rows[1] and lit(card, ".face-box") == ["2"]
    active_element(browser).send_keys(Keys.END)
    assert active_element(browser) == rows[5] and lit(card, ".face-box") == ["6"]


def math_round(value: float) -> int:
    """As the page rounds, JavaScript's Math.round: halves up (Python's round() goes to even,
    so an age of 26.5 reads 27 on the page and 26 through round())."""
    return math.floor(value + 0.5)


def test_a_pasted_photo_is_analysed_and_every_result_downloads_as_csv_and_json(
    stack: Api, browser: WebDriver, tmp_path: Path
) -> None:
    folder = tmp_path / "downloads"
    folder.mkdir()
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    browser.get(stack.url + "/")
    allow_downloads(browser, folder)
    paste_files(browser, write_photo(tmp_path, "image.png", quality=81))
    assert "1 face found" in wait_for_status(browser, "Done")
    assert cards(browser)[0].find_element(By.CLASS_NAME, "name").text == "pasted-1.png"
    choose_files(browser, empty)
    wait_for_status(browser, "empty")
    [[number, gender, age, expression]] = face_rows(cards(browser)[1])

    browser.find_element(By.ID, "download-csv").click()
    with downloaded(folder, "readface-results.csv").open(newline="") as file:
        lines = list(csv.DictReader(file))
    assert [(line["file"], line["status"]) for line in lines] == [
        ("empty.jpg", "error"),
        ("pasted-1.png", "succeeded"),
    ]
    assert lines[0]["error"] == "The image is empty."
    face = lines[1]
    assert face["face"] == number == "1" and gender.startswith(face["gender"].capitalize())
    assert age.startswith(f"{math_round(float(face['age_years']))}, likely ")
    assert face["age_range"].replace("-", "–") in age
    assert face["expression"] == "happy"
    confidence = math_round(100 * float(face["expression_confidence"]))
    assert expression == f"Happy {confidence}%"
    assert int(face["box_width"]) > 50

    browser.find_element(By.ID, "download-json").click()
    items = json.loads(downloaded(folder, "readface-results.json").read_text())
    assert [item["file"] for item in items] == ["empty.jpg", "pasted-1.png"]
    assert items[0]["error"] == {"code": "bad_request", "message": "The image is empty."}
    analysis = items[1]["analysis"]
    assert stack.get(f"/v1/analyses/{analysis['id']}").json() == analysis

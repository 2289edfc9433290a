// One result on its card: the annotated image with a numbered box per face laid over it, the
// faces table, and the link between them (hover or focus a row and its box lights up, and the
// reverse). Row N, box N and the number drawn in the image all come from the JSON's face N.
import { plural } from "./messages.js";

const UNSURE_BELOW = 0.7;
// Seven expressions share the probability: under half, the likeliest is as likely wrong as not.
const EXPRESSION_UNSURE_BELOW = 0.5;
// worker/annotate.py draws its number tags in Hershey digits at a font scale of 1/900 of the
// shorter side (never under 0.35), no taller than half the box.
const MIN_FONT_SCALE = 0.35;

const percent = (value) => `${Math.round(value * 100)}%`;
const capitalized = (word) => word.charAt(0).toUpperCase() + word.slice(1);
// Python's round() and OpenCV's cvRound take a half to the even neighbour; Math.round goes up.
const rounded = (value) => {
  const up = Math.round(value);
  return up - value === 0.5 && up % 2 ? up - 1 : up;
};

// A drawn number tag's size at a font scale: cv2.getTextSize's arithmetic for Hershey simplex
// digits (20 units wide, 21 tall of which 9 below the baseline), plus annotate.py's padding.
// Exact, so the page knows, as the worker did, whether the tag went above the box.
function tagSize(digits, scale) {
  const thickness = Math.max(1, rounded(scale * 1.6));
  const textHeight = rounded(21 * scale + Math.floor((thickness + 1) / 2));
  const baseline = rounded(9 * scale + thickness / 2);
  const pad = Math.max(2, Math.floor(textHeight / 4));
  return {
    width: rounded(20 * digits * scale + thickness) + 2 * pad,
    height: textHeight + baseline + 2 * pad,
  };
}

// Where annotate.py's _place_number drew a face's number, in annotated-image pixels.
function numberTag(digits, box, canvas) {
  let scale = Math.max(MIN_FONT_SCALE, Math.min(canvas.width, canvas.height) / 900);
  let size = tagSize(digits, scale);
  const most = Math.max(1, Math.floor(box.height / 2));
  if (size.height > most) {
    scale = Math.max(MIN_FONT_SCALE, (scale * most) / size.height);
    size = tagSize(digits, scale);
  }
  const top = box.top >= size.height ? box.top - size.height : box.top;
  const clamped = (value, highest) => Math.max(0, Math.min(value, highest));
  return {
    ...size,
    left: clamped(box.left, canvas.width - size.width),
    top: clamped(top, canvas.height - size.height),
  };
}

// A face's box in annotated-image pixels, rounded as annotate.py's _scaled does.
function boxInCanvas({ x, y, width, height }, scale) {
  const left = rounded(x * scale), top = rounded(y * scale);
  return {
    left, top,
    width: Math.max(1, rounded((x + width) * scale) - left),
    height: Math.max(1, rounded((y + height) * scale) - top),
  };
}

function faceBox(face, number, image, canvas) {
  const box = document.createElement("span");
  box.className = "face-box";
  box.dataset.face = String(number);
  const { x, y, width, height } = face.box;
  Object.assign(box.style, {
    left: `${(100 * x) / image.width}%`, top: `${(100 * y) / image.height}%`,
    width: `${(100 * width) / image.width}%`, height: `${(100 * height) / image.height}%`,
  });
  // The page's number lies over the drawn one, at least as large, so the two never show side
  // by side; a chip above the box grows upwards, off the face.
  const inCanvas = boxInCanvas(face.box, canvas.width / image.width);
  const tag = numberTag(String(number).length, inCanvas, canvas);
  const chip = document.createElement("span");
  const above = tag.top + tag.height <= inCanvas.top;
  chip.className = above ? "chip above" : "chip";
  chip.textContent = String(number);
  chip.style.left = `${(100 * (tag.left - inCanvas.left)) / inCanvas.width}%`;
  if (!above) chip.style.top = `${(100 * (tag.top - inCanvas.top)) / inCanvas.height}%`;
  chip.style.width = `max(var(--chip-least), ${(100 * tag.width) / inCanvas.width}%)`;
  chip.style.height = `max(var(--chip-least), ${(100 * tag.height) / inCanvas.height}%)`;
  // Its digits as large as the drawn ones where those are larger (cqw: of the image's width).
  chip.style.fontSize = `max(var(--chip-font), ${(55 * tag.height) / canvas.width}cqw)`;
  box.append(chip);
  return box;
}

function cells(face) {
  const unsure = (confidence) => (confidence < UNSURE_BELOW ? ", uncertain" : "");
  const gender = `${capitalized(face.gender.label)} ${percent(face.gender.confidence)}` +
    unsure(face.gender.confidence);
  const age = document.createDocumentFragment();
  const range = document.createElement("span");
  range.className = "range"; // never broken across lines, even at 320 px
  range.textContent = face.age.range.replace("-", "–");
  age.append(`${Math.round(face.age.years)}, likely `, range,
    ` (${percent(face.age.confidence)})${unsure(face.age.confidence)}`);
  if (!face.expression) return [gender, age];
  const { label, confidence } = face.expression;
  const expression = `${capitalized(label)} ${percent(confidence)}` +
    (confidence < EXPRESSION_UNSURE_BELOW ? ", uncertain" : "");
  return [gender, age, expression];
}

function fillTable(card, faces) {
  card.querySelector("caption").textContent = faces.length
    ? `${plural(faces.length, "face")}, numbered as on the image: 1 is the face the detector ` +
      "is surest of, and so on."
    : "No faces found in this photo.";
  const body = card.querySelector("tbody");
  body.replaceChildren();
  faces.forEach((face, index) => {
    const row = body.insertRow();
    row.dataset.face = String(index + 1);
    row.tabIndex = index === 0 ? 0 : -1; // one stop for the table; arrows move between rows
    const number = document.createElement("th");
    number.scope = "row";
    number.textContent = String(index + 1);
    row.append(number);
    cells(face).forEach((content) => { row.insertCell().append(content); });
  });
  card.querySelector(".key").hidden = faces.length === 0;
  // The column and its note only where the server's pack estimates expressions.
  const expressions = faces.some((face) => face.expression);
  card.querySelectorAll(".expression").forEach((element) => { element.hidden = !expressions; });
}

// Rows and boxes light up together: the row under the pointer and the focused row.
function linkRowsAndBoxes(card) {
  const rows = Array.from(card.querySelectorAll("tbody tr"));
  const boxes = Array.from(card.querySelectorAll(".result .face-box"));
  const lit = { hover: null, focus: null };
  const update = () => {
    [...rows, ...boxes].forEach((element) => {
      const face = element.dataset.face;
      element.classList.toggle("active", face === lit.hover || face === lit.focus);
    });
  };
  const hover = (element) => {
    element.addEventListener("mouseenter", () => { lit.hover = element.dataset.face; update(); });
    element.addEventListener("mouseleave", () => { lit.hover = null; update(); });
  };
  [...rows, ...boxes].forEach(hover);
  rows.forEach((row, index) => {
    row.addEventListener("focus", () => { lit.focus = row.dataset.face; update(); });
    row.addEventListener("blur", () => { lit.focus = null; update(); });
    row.addEventListener("keydown", (event) => {
      const moves = { ArrowDown: index + 1, ArrowUp: index - 1, Home: 0, End: rows.length - 1 };
      const to = moves[event.key];
      if (to === undefined || !rows[to]) return;
      event.preventDefault();
      row.tabIndex = -1;
      rows[to].tabIndex = 0;
      rows[to].focus();
    });
  });
}

export async function showResult(card, analysis, name, imageUrl, jsonHref) {
  const { faces, image } = analysis.result;
  const annotated = card.querySelector(".annotated");
  annotated.src = imageUrl;
  // The boxes' numbers go where the worker drew them, on the image as drawn: smaller than the
  // photo when shrunk, or when drawn on a reduced decode of a large JPEG.
  await annotated.decode();
  const canvas = { width: annotated.naturalWidth, height: annotated.naturalHeight };
  annotated.alt =
    `${name} annotated: ${plural(faces.length, "face")}, boxed and numbered as in the table`;
  const photo = card.querySelector(".photo");
  // Full card width, unless that would make it taller than the screen (a portrait photo).
  photo.style.maxWidth = `min(100%, calc(90vh * ${canvas.width / canvas.height}))`;
  const boxes = card.querySelector(".boxes");
  boxes.replaceChildren(...faces.map((face, i) => faceBox(face, i + 1, image, canvas)));
  const download = card.querySelector(".download");
  download.href = imageUrl;
  download.download = `${name.replace(/\.[^.]+$/, "")}.annotated.jpg`;
  card.querySelector(".json-link").href = jsonHref;
  fillTable(card, faces);
  linkRowsAndBoxes(card);
  card.querySelector(".result").hidden = false;
}

// The annotated image at its own size in a dialog, with the same numbered boxes.
export function enlarge(card, name) {
  const viewer = document.getElementById("viewer");
  document.getElementById("viewer-title").textContent = name;
  const photo = card.querySelector(".photo").cloneNode(true);
  const { naturalWidth, naturalHeight } = card.querySelector(".annotated");
  // Its own size, scrolled when larger than the screen; a small image as large as fits.
  const fit = `min(calc(95vw - 2rem), calc((95vh - 5rem) * ${naturalWidth / naturalHeight}))`;
  photo.style.maxWidth = "none";
  photo.style.width = `max(${naturalWidth}px, ${fit})`;
  viewer.querySelector(".viewer-body").replaceChildren(photo);
  viewer.showModal();
}

export function initViewer() {
  const viewer = document.getElementById("viewer");
  viewer.querySelector(".close").addEventListener("click", () => viewer.close());
  // A click on the backdrop (outside the dialog's box) closes it too.
  viewer.addEventListener("click", (event) => { if (event.target === viewer) viewer.close(); });
}

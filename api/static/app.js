// readface web page: sends photos to the public API (POST /v1/analyses) and long-polls each one.
"use strict";

const KEY_STORAGE = "readface-api-key";
const POLL_SECONDS = 10;
const FRIENDLY = {
  too_large: "This file is too large to analyse (the limit is {max}).",
  // A 413 for a file the page let through (so within the service's limit): something in front
  // of the API, or the server itself, was configured with a lower limit than this page shows.
  refused_as_too_large: "The server, or a proxy in front of it, refused this {size} file as too " +
    "large, although it is within this service's limit of {max}: its own upload limit is " +
    "probably lower. Ask whoever runs this server.",
  unsupported_media_type: "This is not an image we can read. Use a JPEG, PNG, WebP, BMP or HEIC photo.",
  invalid_image: "This image is damaged, or has too many pixels to analyse.",
  rate_limited: "Too many uploads right now. Wait {retry} and try again.",
  unauthorized: "This server needs a valid API key. Enter it above and the upload is retried.",
  unavailable: "The service is busy or restarting. Try again in a few seconds.",
  bad_request: "The upload did not reach the server intact. Try again.",
  not_found: "This analysis has expired or was deleted. Try again to analyse the photo anew.",
  timeout: "The analysis took too long and was stopped.",
  internal: "Something went wrong on the server while analysing this photo.",
  network: "Could not reach the server. Check your connection and try again.",
};
// When something in front of the API answers (a proxy's HTML 413 or 502), the body is not the
// contract's JSON error: fall back to the code the contract gives that status.
const CODE_BY_STATUS = {
  400: "bad_request", 401: "unauthorized", 404: "not_found", 413: "too_large",
  415: "unsupported_media_type", 422: "invalid_image", 429: "rate_limited",
  502: "unavailable", 503: "unavailable", 504: "unavailable",
};
const STATE_LABEL = { uploading: "Uploading…", queued: "Queued", running: "Running" };

const uploads = document.getElementById("uploads");
const template = document.getElementById("upload-template");
const keyPanel = document.getElementById("key-panel");
const keyInput = document.getElementById("api-key");
const files = new WeakMap(); // upload card -> its File, so "Try again" can resend it

class ApiError extends Error {
  constructor(code, retryAfter = null) { super(code); this.code = code; this.retryAfter = retryAfter; }
}

function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }
function authHeaders() { const key = apiKey(); return key ? { "X-API-Key": key } : {}; }
function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }
function seconds(since) { return ((performance.now() - since) / 1000).toFixed(1); }
// The service's limit, as api/web.py renders it into the page.
function maxUploadBytes() { return Number(document.body.dataset.maxUploadBytes); }
// A byte count as api/web.py's human_size writes it ("20 MB", "195 KB").
function humanSize(size) {
  if (size >= 2 ** 20) return `${Number((size / 2 ** 20).toPrecision(3))} MB`;
  return `${Math.max(1, Math.round(size / 2 ** 10))} KB`;
}

function friendly(error, file) {
  const wait = error.retryAfter ? plural(error.retryAfter, "second") : "a minute";
  return (FRIENDLY[error.code] || FRIENDLY.internal)
    .replace("{max}", document.body.dataset.maxUploadText).replace("{retry}", wait)
    .replace("{size}", humanSize(file.size));
}

function askForKey() {
  if (!keyPanel.hidden) return;
  keyPanel.hidden = false;
  keyInput.focus();
}

if (document.body.dataset.keysEnabled === "true" && !apiKey()) keyPanel.hidden = false;

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, keyInput.value.trim());
  keyPanel.hidden = true;
  // Whatever the missing key stopped goes again, so nobody has to re-pick the photos.
  uploads.querySelectorAll(".upload[data-error='unauthorized']").forEach(run);
});

async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...options.headers } });
  } catch (_) {
    throw new ApiError("network");
  }
  if (response.ok) return response;
  let code = CODE_BY_STATUS[response.status] || "internal";
  try { code = (await response.json()).error.code; } catch (_) { /* not our JSON */ }
  if (code === "unauthorized") askForKey();
  throw new ApiError(code, Number(response.headers.get("Retry-After")) || null);
}

function setStatus(card, text, kind = "") {
  const status = card.querySelector(".status");
  if (status.textContent === text) return; // a repeat would be announced again
  status.textContent = text;
  status.className = `status ${kind}`;
}

function addCard(file) {
  const card = template.content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = file.name;
  const preview = card.querySelector(".preview");
  // A file that is not an image leaves the empty grey square, not a broken-image icon.
  preview.addEventListener("error", () => { preview.hidden = true; }, { once: true });
  preview.src = URL.createObjectURL(file);
  card.querySelector(".retry").addEventListener("click", () => run(card));
  files.set(card, file);
  uploads.prepend(card);
  run(card);
}

async function run(card) {
  const file = files.get(card);
  delete card.dataset.error;
  card.querySelector(".retry").hidden = true;
  card.querySelector(".result").hidden = true;
  const elapsed = card.querySelector(".elapsed");
  const started = performance.now();
  // The clock ticks outside the live region: a screen reader hears state changes, not every tick.
  const ticker = setInterval(() => { elapsed.textContent = `${seconds(started)} s`; }, 100);
  setStatus(card, STATE_LABEL.uploading);
  try {
    if (file.size > maxUploadBytes()) throw new ApiError("too_large"); // spare a futile upload
    const form = new FormData();
    form.append("image", file);
    const submitted = await call("/v1/analyses", { method: "POST", body: form }).catch((error) => {
      throw error.code === "too_large" ? new ApiError("refused_as_too_large") : error;
    });
    let analysis = await submitted.json();
    const dedup = submitted.status === 200;
    while (analysis.status === "queued" || analysis.status === "running") {
      setStatus(card, STATE_LABEL[analysis.status]);
      const polled = await call(`/v1/analyses/${analysis.id}?wait=${POLL_SECONDS}`);
      analysis = await polled.json();
    }
    if (analysis.status === "failed") throw new ApiError(analysis.error ? analysis.error.code : "");
    await showResult(card, analysis, file.name);
    const found = `${plural(analysis.result.faces.length, "face")} found`;
    setStatus(card, dedup ? `Done: ${found}. Analysed before — instant.`
      : `Done: ${found} in ${seconds(started)} s.`, "done");
  } catch (error) {
    card.dataset.error = error.code;
    setStatus(card, friendly(error, file), "error");
    // Retrying the same bytes cannot help a file the server refused for what it is.
    const permanent = [
      "too_large", "refused_as_too_large", "unsupported_media_type", "invalid_image",
    ];
    card.querySelector(".retry").hidden = permanent.includes(error.code);
  } finally {
    clearInterval(ticker);
    elapsed.textContent = "";
  }
}

async function showResult(card, analysis, name) {
  // Fetched, not linked, so the X-API-Key header goes along when keys are on.
  const image = await call(analysis.links.annotated);
  const url = URL.createObjectURL(await image.blob());
  const faces = analysis.result.faces;
  const annotated = card.querySelector(".annotated");
  if (annotated.src) URL.revokeObjectURL(annotated.src); // a retried card's earlier result
  annotated.src = url;
  annotated.alt = `${name} with a green box and a label on each of ${plural(faces.length, "face")}`;
  const download = card.querySelector(".download");
  download.href = url;
  download.download = name.replace(/\.[^.]+$/, "") + ".annotated.jpg";
  // A plain link cannot send the key header; with a key, link the copy we already have.
  const json = new Blob([JSON.stringify(analysis, null, 2)], { type: "application/json" });
  card.querySelector(".json-link").href = apiKey() ? URL.createObjectURL(json) : analysis.links.self;
  card.querySelector("caption").textContent = faces.length
    ? `${plural(faces.length, "face")}, most certain first`
    : "No faces found in this photo.";
  const body = card.querySelector("tbody");
  body.replaceChildren();
  faces.forEach((face, index) => {
    const row = body.insertRow();
    const { x, y, width, height } = face.box;
    const percent = (value) => `${Math.round(value * 100)}%`;
    [
      String(index + 1),
      `${x}, ${y}, ${width}×${height}`,
      `${face.gender.label} (${percent(face.gender.confidence)})`,
      `${face.age.years.toFixed(0)} y, ${face.age.range} (${percent(face.age.confidence)})`,
    ].forEach((text) => { row.insertCell().textContent = text; });
  });
  card.querySelector(".result").hidden = false;
}

function addAll(list) { Array.from(list).forEach(addCard); }

const input = document.getElementById("file-input");
input.addEventListener("change", () => { addAll(input.files); input.value = ""; });

// The whole page takes drops: a photo dropped just beside the zone would otherwise make the
// browser navigate to it and abandon the uploads in progress.
const zone = document.getElementById("drop-zone");
let dragDepth = 0; // dragenter/dragleave also fire for every child element crossed
document.addEventListener("dragenter", (event) => {
  event.preventDefault();
  dragDepth += 1;
  zone.classList.add("over");
});
document.addEventListener("dragleave", () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) zone.classList.remove("over");
});
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  zone.classList.remove("over");
  addAll(event.dataTransfer.files);
});

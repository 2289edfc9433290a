// readface web page: uploads photos through the public API and long-polls each analysis.
"use strict";

const KEY_STORAGE = "readface-api-key";
const POLL_SECONDS = 10;
const FRIENDLY = {
  too_large: "This file is too large to analyse (the limit is {max} MB).",
  unsupported_media_type: "This is not an image we can read. Use a JPEG, PNG, WebP or BMP photo.",
  invalid_image: "This image is damaged, or has too many pixels to analyse.",
  rate_limited: "Too many uploads right now. Wait a minute and try again.",
  unauthorized: "This server needs a valid API key. Enter it above, then try again.",
  unavailable: "The service is busy or restarting. Try again in a few seconds.",
  bad_request: "The upload did not reach the server intact. Try again.",
  timeout: "The analysis took too long and was stopped.",
  internal: "Something went wrong on the server while analysing this photo.",
  network: "Could not reach the server. Check your connection and try again.",
};

const uploads = document.getElementById("uploads");
const template = document.getElementById("upload-template");
const keyPanel = document.getElementById("key-panel");
const maxMb = document.body.dataset.maxUploadMb;

function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }
function authHeaders() { const key = apiKey(); return key ? { "X-API-Key": key } : {}; }
function friendly(code) { return (FRIENDLY[code] || FRIENDLY.internal).replace("{max}", maxMb); }

if (document.body.dataset.keysEnabled === "true" && !apiKey()) keyPanel.hidden = false;

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY_STORAGE, document.getElementById("api-key").value.trim());
  keyPanel.hidden = true;
});

class ApiError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function call(path, options = {}) {
  let response;
  try {
    response = await fetch(path, { ...options, headers: { ...authHeaders(), ...options.headers } });
  } catch (_) {
    throw new ApiError("network", "network error");
  }
  if (response.ok) return response;
  let code = "internal";
  try { code = (await response.json()).error.code; } catch (_) { /* not our JSON */ }
  if (code === "unauthorized") keyPanel.hidden = false;
  throw new ApiError(code, `HTTP ${response.status}`);
}

function setStatus(card, text, kind = "") {
  const status = card.querySelector(".status");
  status.textContent = text;
  status.className = `status ${kind}`;
}

function seconds(since) { return ((performance.now() - since) / 1000).toFixed(1); }

async function analyse(file) {
  const card = template.content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = file.name;
  const preview = card.querySelector(".preview");
  preview.src = URL.createObjectURL(file);
  preview.alt = `Preview of ${file.name}`;
  uploads.prepend(card);
  const started = performance.now();
  let state = "uploading";
  const ticker = setInterval(() => setStatus(card, `${label(state)} — ${seconds(started)} s`), 100);
  try {
    const form = new FormData();
    form.append("image", file);
    const submitted = await call("/v1/analyses", { method: "POST", body: form });
    let analysis = await submitted.json();
    const dedup = submitted.status === 200;
    while (analysis.status === "queued" || analysis.status === "running") {
      state = analysis.status;
      const polled = await call(`/v1/analyses/${analysis.id}?wait=${POLL_SECONDS}`);
      analysis = await polled.json();
    }
    clearInterval(ticker);
    if (analysis.status === "failed") {
      setStatus(card, friendly(analysis.error && analysis.error.code), "error");
      return;
    }
    await showResult(card, analysis, file.name);
    const faces = analysis.result.faces.length;
    const what = `${faces} face${faces === 1 ? "" : "s"} found`;
    setStatus(card, dedup ? `Done: ${what}. Analysed before — instant.`
      : `Done: ${what} in ${seconds(started)} s.`, "done");
  } catch (error) {
    clearInterval(ticker);
    setStatus(card, friendly(error.code), "error");
  }
}

function label(state) {
  return { uploading: "Uploading", queued: "Queued", running: "Running" }[state] || state;
}

async function showResult(card, analysis, name) {
  const image = await call(analysis.links.annotated);
  const url = URL.createObjectURL(await image.blob());
  card.querySelector(".annotated").src = url;
  const download = card.querySelector(".download");
  download.href = url;
  download.download = name.replace(/\.[^.]+$/, "") + ".annotated.jpg";
  card.querySelector(".json-link").href = analysis.links.self;
  const faces = analysis.result.faces;
  card.querySelector("caption").textContent = faces.length
    ? `${faces.length} face${faces.length === 1 ? "" : "s"}, most certain first`
    : "No faces found in this photo.";
  const body = card.querySelector("tbody");
  faces.forEach((face, index) => {
    const row = body.insertRow();
    const box = face.box;
    const cells = [
      String(index + 1),
      `${box.x}, ${box.y}, ${box.width}×${box.height}`,
      `${face.gender.label} (${Math.round(face.gender.confidence * 100)}%)`,
      `${face.age.years.toFixed(0)} y, ${face.age.range} (${Math.round(face.age.confidence * 100)}%)`,
    ];
    cells.forEach((text) => { row.insertCell().textContent = text; });
  });
  card.querySelector(".result").hidden = false;
}

function analyseAll(files) { Array.from(files).forEach((file) => analyse(file)); }

const input = document.getElementById("file-input");
input.addEventListener("change", () => { analyseAll(input.files); input.value = ""; });

const zone = document.getElementById("drop-zone");
["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
  event.preventDefault();
  zone.classList.add("over");
}));
["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
zone.addEventListener("drop", (event) => {
  event.preventDefault();
  analyseAll(event.dataTransfer.files);
});

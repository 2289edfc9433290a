// readface web page: sends photos to the public API (POST /v1/analyses), long-polls each one
// and shows its result on a card of its own.
import { ApiError, apiKey, call, upload } from "./client.js";
import { csvOf, jsonOf, save } from "./exports.js";
import { initKeyPanel } from "./key-panel.js";
import { describe, PERMANENT, plural, secondsSince } from "./messages.js";
import { enlarge, initViewer, showResult } from "./result-view.js";

const POLL_SECONDS = 10;
const STATE_LABEL = { uploading: "Uploading…", queued: "Queued", running: "Running" };

const uploads = document.getElementById("uploads");
const results = document.getElementById("results");
const template = document.getElementById("upload-template");
const fileInput = document.getElementById("file-input");
// Each card's file, its analysis or error, what is in flight, and the object URLs it holds.
const entries = new Map();

function setStatus(card, text, kind = "") {
  const status = card.querySelector(".status");
  if (status.textContent === text) return; // a repeat would be announced again
  status.textContent = text;
  status.className = `status ${kind}`;
}

function showProgress(card, fraction) {
  const value = Math.floor(fraction * 100);
  card.querySelector(".progress").value = value;
  // Outside the live region, like the clock: a screen reader hears states, not every percent.
  card.querySelector(".percent").textContent = `${value}%`;
}

function newCard(file) {
  const card = template.content.firstElementChild.cloneNode(true);
  card.querySelector(".name").textContent = file.name;
  const preview = card.querySelector(".preview");
  // A file that is not an image leaves the empty grey square, not a broken-image icon.
  preview.addEventListener("error", () => { preview.hidden = true; }, { once: true });
  const previewUrl = URL.createObjectURL(file);
  preview.src = previewUrl;
  card.querySelector(".progress").setAttribute("aria-label", `Upload of ${file.name}`);
  card.querySelector(".remove").setAttribute("aria-label", `Remove ${file.name}`);
  card.querySelector(".retry").addEventListener("click", () => {
    run(card);
    // The button hides itself: focus goes to what now tells what happens.
    card.querySelector(".status").focus();
  });
  card.querySelector(".cancel").addEventListener("click", () => {
    const entry = entries.get(card);
    entry.controller.abort();
    entry.running.then(() => card.querySelector(".retry").focus());
  });
  card.querySelector(".remove").addEventListener("click", () => removeCard(card, true));
  card.querySelector(".enlarge").addEventListener("click", () => enlarge(card, file.name));
  entries.set(card, { file, urls: [previewUrl], analysis: null, error: null });
  return card;
}

// Newest first; the photos of one choice, drop or paste in the order they came.
function addFiles(list) {
  const batch = Array.from(list);
  if (!batch.length) return;
  const first = uploads.firstElementChild;
  const added = batch.map((file) => uploads.insertBefore(newCard(file), first));
  results.hidden = false;
  added.forEach(run);
}

function removeCard(card, moveFocus) {
  const entry = entries.get(card);
  entry.removed = true;
  if (entry.controller) entry.controller.abort();
  entry.urls.forEach((url) => URL.revokeObjectURL(url));
  const neighbour = card.nextElementSibling || card.previousElementSibling;
  card.remove();
  entries.delete(card);
  if (!uploads.children.length) results.hidden = true;
  if (moveFocus) (neighbour ? neighbour.querySelector(".remove") : fileInput).focus();
}

async function fetchResult(card, entry, signal) {
  // Fetched, not linked, so the X-API-Key header goes along when keys are on.
  const image = await (await call(entry.analysis.links.annotated, { signal })).blob();
  const imageUrl = URL.createObjectURL(image);
  // A plain link cannot send the key header; with a key, link the copy we already have.
  let jsonHref = entry.analysis.links.self;
  if (apiKey()) {
    const json = JSON.stringify(entry.analysis, null, 2);
    jsonHref = URL.createObjectURL(new Blob([json], { type: "application/json" }));
    entry.urls.push(jsonHref);
  }
  entry.urls.push(imageUrl);
  await showResult(card, entry.analysis, entry.file.name, imageUrl, jsonHref);
}

async function analyse(card, entry, signal) {
  const { file } = entry;
  if (file.size > Number(document.body.dataset.maxUploadBytes)) {
    throw new ApiError("too_large"); // spare a futile upload
  }
  const progress = card.querySelector(".progress-line");
  showProgress(card, 0);
  progress.hidden = false;
  const sent = await upload(file, { signal, onProgress: (f) => showProgress(card, f) })
    .catch((error) => {
      throw error.code === "too_large" ? new ApiError("refused_as_too_large") : error;
    })
    .finally(() => { progress.hidden = true; });
  let { analysis } = sent;
  while (analysis.status === "queued" || analysis.status === "running") {
    entry.state = analysis.status;
    setStatus(card, STATE_LABEL[analysis.status]);
    const polled = await call(`/v1/analyses/${analysis.id}?wait=${POLL_SECONDS}`, { signal });
    analysis = await polled.json();
  }
  if (analysis.status === "failed") {
    const { code, message } = analysis.error || {};
    throw new ApiError(code || "internal", { serverMessage: message });
  }
  entry.analysis = analysis;
  await fetchResult(card, entry, signal);
  return analysis;
}

function run(card) {
  const entry = entries.get(card);
  const controller = new AbortController();
  Object.assign(entry, { controller, analysis: null, error: null, state: "uploading" });
  delete card.dataset.error;
  card.querySelector(".retry").hidden = true;
  card.querySelector(".cancel").hidden = false;
  card.querySelector(".result").hidden = true;
  const elapsed = card.querySelector(".elapsed");
  const started = performance.now();
  // The clock ticks outside the live region: a screen reader hears state changes, not every tick.
  const ticker = setInterval(() => { elapsed.textContent = `${secondsSince(started)} s`; }, 100);
  setStatus(card, STATE_LABEL.uploading);
  entry.running = analyse(card, entry, controller.signal).then((analysis) => {
    const found = `${plural(analysis.result.faces.length, "face")} found`;
    // The same words whether this photo was analysed just now or found already analysed:
    // telling them apart would tell a visitor what others have sent.
    setStatus(card, `Done: ${found} in ${secondsSince(started)} s.`, "done");
  }).catch((error) => {
    if (entry.removed) return;
    // Aborted while reading a body, the browser's own error has no code of ours.
    const code = controller.signal.aborted ? "cancelled" : error.code || "internal";
    entry.error = { code, message: describe(error, entry.file) };
    card.dataset.error = code;
    setStatus(card, entry.error.message, "error");
    // A missing key resends by itself once a key is entered; a refused file cannot change.
    card.querySelector(".retry").hidden = PERMANENT.has(code) || code === "unauthorized";
  }).finally(() => {
    clearInterval(ticker);
    elapsed.textContent = "";
    card.querySelector(".cancel").hidden = true;
  });
}

function pageEntries() {
  return Array.from(uploads.children, (card) => entries.get(card));
}

initKeyPanel(() => uploads.querySelectorAll(".upload[data-error='unauthorized']").forEach(run));
initViewer();

fileInput.addEventListener("change", () => { addFiles(fileInput.files); fileInput.value = ""; });

if (/Mac|iPhone|iPad/.test(navigator.platform)) {
  document.querySelectorAll(".paste-keys").forEach((keys) => { keys.textContent = "⌘V"; });
}

document.getElementById("clear-all").addEventListener("click", () => {
  Array.from(uploads.children).forEach((card) => removeCard(card, false));
  fileInput.focus();
});
document.getElementById("download-csv").addEventListener("click", () => {
  save(csvOf(pageEntries()), "text/csv", "readface-results.csv");
});
document.getElementById("download-json").addEventListener("click", () => {
  save(jsonOf(pageEntries()), "application/json", "readface-results.json");
});

// A photo pasted anywhere on the page (a screenshot, an image copied in another app). Pasted
// images arrive all named "image.png": they get a name of their own.
let pasted = 0;
document.addEventListener("paste", (event) => {
  const files = Array.from(event.clipboardData ? event.clipboardData.files : []);
  if (!files.length) return; // text, e.g. a key pasted into its field
  event.preventDefault();
  addFiles(files.map((file) => {
    pasted += 1;
    const extension = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
    return new File([file], `pasted-${pasted}.${extension}`, { type: file.type });
  }));
});

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
  addFiles(event.dataTransfer.files);
});

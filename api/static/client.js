// The page's side of the public API: fetch for reads, XMLHttpRequest for uploads (fetch reports
// no upload progress). Every failure becomes an ApiError carrying the contract's error code.

const KEY_STORAGE = "readface-api-key";
// When something in front of the API answers (a proxy's HTML 413 or 502), the body is not the
// contract's JSON error: fall back to the code the contract gives that status.
const CODE_BY_STATUS = {
  400: "bad_request", 401: "unauthorized", 404: "not_found", 413: "too_large",
  415: "unsupported_media_type", 422: "invalid_image", 429: "rate_limited",
  502: "unavailable", 503: "unavailable", 504: "unavailable",
};
// Fired on document whenever the server refuses the key (or its absence).
export const UNAUTHORIZED_EVENT = "readface:unauthorized";

export class ApiError extends Error {
  constructor(code, { serverMessage = null, retryAfter = null } = {}) {
    super(code);
    this.code = code;
    this.serverMessage = serverMessage;
    this.retryAfter = retryAfter;
  }
}

export function apiKey() { return sessionStorage.getItem(KEY_STORAGE); }
export function setApiKey(key) { sessionStorage.setItem(KEY_STORAGE, key); }
export function forgetApiKey() { sessionStorage.removeItem(KEY_STORAGE); }
function authHeaders(key = apiKey()) { return key ? { "X-API-Key": key } : {}; }

function errorFrom(status, bodyText, retryAfter) {
  let code = CODE_BY_STATUS[status] || "internal";
  let serverMessage = null;
  try {
    const { error } = JSON.parse(bodyText);
    ({ code } = error);
    serverMessage = error.message || null;
  } catch (_) { /* not our JSON */ }
  return new ApiError(code, { serverMessage, retryAfter: Number(retryAfter) || null });
}

function announced(error) {
  if (error.code === "unauthorized") document.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
  return error;
}

// A GET with the key header (the stored one, or the one given); resolves to the Response when
// it is 2xx. Only a refusal of the stored key is announced.
export async function call(path, { signal, key } = {}) {
  let response;
  try {
    response = await fetch(path, { signal, headers: authHeaders(key) });
  } catch (_) {
    throw new ApiError(signal && signal.aborted ? "cancelled" : "network");
  }
  if (response.ok) return response;
  const retryAfter = response.headers.get("Retry-After");
  const error = errorFrom(response.status, await response.text(), retryAfter);
  throw key === undefined ? announced(error) : error;
}

// POST the file as multipart; onProgress gets the fraction sent so far. Resolves to
// { status, analysis } (200: a dedup hit, 202: queued).
export function upload(file, { signal, onProgress }) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v1/analyses");
    Object.entries(authHeaders()).forEach(([name, value]) => xhr.setRequestHeader(name, value));
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status < 200 || xhr.status >= 300) {
        const retryAfter = xhr.getResponseHeader("Retry-After");
        reject(announced(errorFrom(xhr.status, xhr.responseText, retryAfter)));
        return;
      }
      try {
        resolve({ status: xhr.status, analysis: JSON.parse(xhr.responseText) });
      } catch (_) {
        reject(new ApiError("internal"));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError("network")));
    xhr.addEventListener("abort", () => reject(new ApiError("cancelled")));
    signal.addEventListener("abort", () => xhr.abort(), { once: true });
    const form = new FormData();
    form.append("image", file);
    xhr.send(form);
  });
}

// Whether the server takes this key: one read of an id that cannot exist (404 with a good key,
// 401 with a bad one), so a wrong key is caught at the field, before any photo is sent.
export async function keyAccepted(key) {
  try {
    await call(`/v1/analyses/${"0".repeat(64)}`, { key });
  } catch (error) {
    return error.code !== "unauthorized";
  }
  return true;
}

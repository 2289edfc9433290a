// What the page says about an upload that did not work, and the small formatting helpers.

const FRIENDLY = {
  too_large: "This file is too large to analyse (the limit is {max}).",
  // A 413 for a file the page let through (so within the service's limit): something in front
  // of the API, or the server itself, was configured with a lower limit than this page shows.
  refused_as_too_large: "The server, or a proxy in front of it, refused this {size} file as too " +
    "large, although it is within this service's limit of {max}: its own upload limit is " +
    "probably lower. Ask whoever runs this server.",
  unsupported_media_type:
    "This is not an image we can read. Use a JPEG, PNG, WebP, BMP or HEIC photo.",
  invalid_image: "This image is damaged, or has too many pixels to analyse.",
  bad_request: "The server could not read this upload.",
  rate_limited: "Too many uploads right now. Wait {retry} and try again.",
  unauthorized: "Waiting for a valid API key: enter it above and this photo is sent again.",
  unavailable: "The service is busy or restarting. Try again in a few seconds.",
  not_found: "This analysis has expired or was deleted. Try again to analyse the photo anew.",
  timeout: "The analysis took too long and was stopped.",
  internal: "Something went wrong on the server while analysing this photo.",
  network: "Could not reach the server. Check your connection and try again.",
  cancelled: "Cancelled.",
};

// Refusals of the file itself: sending the same bytes again cannot help, so no "Try again".
export const PERMANENT = new Set([
  "too_large", "refused_as_too_large", "unsupported_media_type", "invalid_image", "bad_request",
]);
// For these the server's own sentence says what is wrong with this file ("The image is empty.")
// better than any general wording; the general one stays for answers from a proxy.
const SERVER_SAYS = new Set(["bad_request", "unsupported_media_type", "invalid_image"]);

export function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

// A byte count as api/web.py's human_size writes it ("20 MB", "195 KB").
function humanSize(size) {
  if (size >= 2 ** 20) return `${Number((size / 2 ** 20).toPrecision(3))} MB`;
  return `${Math.max(1, Math.round(size / 2 ** 10))} KB`;
}

export function secondsSince(start) { return ((performance.now() - start) / 1000).toFixed(1); }

export function describe(error, file) {
  if (SERVER_SAYS.has(error.code) && error.serverMessage) return error.serverMessage;
  const wait = error.retryAfter ? plural(error.retryAfter, "second") : "a minute";
  return (FRIENDLY[error.code] || FRIENDLY.internal)
    .replace("{max}", document.body.dataset.maxUploadText).replace("{retry}", wait)
    .replace("{size}", humanSize(file.size));
}

// The API key panel, shown when the server has keys on. A key is checked as it is entered, so a
// wrong one is refused at the field; it is kept for this tab only (sessionStorage), and the
// input is emptied once the key is used.
import { apiKey, forgetApiKey, keyAccepted, setApiKey, UNAUTHORIZED_EVENT } from "./client.js";

const panel = document.getElementById("key-panel");
const entry = document.getElementById("key-entry");
const keySet = document.getElementById("key-set");
const input = document.getElementById("api-key");
const fieldError = document.getElementById("key-error");
const announcer = document.getElementById("key-status");

function showEntry(problem = null) {
  panel.hidden = false;
  entry.hidden = false;
  keySet.hidden = true;
  fieldError.hidden = !problem;
  fieldError.textContent = problem || "";
  if (problem) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-describedby", "key-error key-help");
  } else {
    input.removeAttribute("aria-invalid");
    input.setAttribute("aria-describedby", "key-help");
  }
}

function showKeySet() {
  panel.hidden = false;
  entry.hidden = true;
  keySet.hidden = false;
}

// onAccepted runs after a key is accepted (to resend what a missing or wrong key stopped).
export function initKeyPanel(onAccepted) {
  if (document.body.dataset.keysEnabled === "true") {
    if (apiKey()) showKeySet(); else showEntry();
  }
  document.getElementById("key-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    input.value = "";
    if (!key) {
      showEntry("Enter the key first.");
      input.focus();
      return;
    }
    if (!(await keyAccepted(key))) {
      showEntry("That key was not accepted.");
      input.focus();
      return;
    }
    setApiKey(key);
    showKeySet();
    announcer.textContent = "Key accepted.";
    // The entry form is gone: the next thing to do is choosing photos.
    document.getElementById("file-input").focus();
    onAccepted();
  });
  document.getElementById("change-key").addEventListener("click", () => {
    announcer.textContent = "";
    showEntry();
    input.focus();
  });
  document.addEventListener(UNAUTHORIZED_EVENT, () => {
    const asking = !panel.hidden && !entry.hidden;
    // A stored key the server now refuses (revoked, or keys changed) is forgotten.
    const refused = apiKey() !== null;
    forgetApiKey();
    if (refused || !asking) showEntry(refused ? "That key was not accepted." : null);
    if (!asking) input.focus();
  });
}

// The notice under the header. Errors and states (paused) stay until dismissed or changed;
// other news fades after 10 s. A failure's notice says it in the window's words; the Rust
// message (which names the file, folder or bucket) is under its Details.
import { $, setDetail, setText } from "./dom.js";
import { errorWords } from "./errors.js";
import { state } from "./state.js";

/** Words, or a function that makes them in the current language (so a switch re-words it).
 * @typedef {string | (() => string)} Words */

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {Words} */
let what = "";
let detail = "";

/** @param {Words} words @param {boolean} [isError] @param {boolean} [sticky]
 * @param {string} [why] the Rust side's own words, shown under Details */
export function notice(words, isError = false, sticky = false, why = "") {
  clearTimeout(timer);
  what = words;
  detail = words ? why : "";
  if (words && !isError && !sticky) timer = setTimeout(() => notice(""), 10000);
  $("notice").hidden = !words;
  renderNotice();
  $("notice").classList.toggle("error", isError);
}

export function renderNotice() {
  setText("notice-text", typeof what === "function" ? what() : what || "");
  setDetail("notice-detail", detail, state.t.details);
}

/** A command's failure ({code, message}) or any other error, as a notice. @param {unknown} e */
export function showError(e) {
  notice(() => errorWords(e, state.t).text, true, false, errorWords(e, state.t).detail);
}

export function initNotice() {
  $("notice-close").addEventListener("click", () => notice(""));
}

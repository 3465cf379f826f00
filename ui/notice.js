// The notice under the header. Errors and states (paused) stay until dismissed or changed;
// other news fades after 10 s.
import { $, setText } from "./dom.js";

/** Words, or a function that makes them in the current language (so a switch re-words it).
 * @typedef {string | (() => string)} Words */

/** @type {ReturnType<typeof setTimeout> | undefined} */
let timer;
/** @type {Words} */
let what = "";

/** @param {Words} words @param {boolean} [isError] @param {boolean} [sticky] */
export function notice(words, isError = false, sticky = false) {
  clearTimeout(timer);
  what = words;
  if (words && !isError && !sticky) timer = setTimeout(() => notice(""), 10000);
  $("notice").hidden = !words;
  renderNotice();
  $("notice").classList.toggle("error", isError);
}

export function renderNotice() { setText("notice-text", typeof what === "function" ? what() : what || ""); }

/** A command's failure ({code, message}) or any other error, as a notice. @param {unknown} e */
export function showError(e) {
  const m = e && typeof e === "object" && "message" in e ? e.message : null;
  notice(m ? String(m) : String(e), true);
}

export function initNotice() {
  $("notice-close").addEventListener("click", () => notice(""));
}

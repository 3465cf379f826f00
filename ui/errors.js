// A command's failure in the window's words. Rust sends a code and its own message (English,
// naming the file, folder or bucket); the window says by the code what happened, what it
// means for the user's copies and what to do, and keeps the message as the detail.
// Pure, tested with `node --test` (errors.test.js also checks that every code the Rust
// sources can send has words in every language).

/** @typedef {import("./state.js").Strings} Strings */

/** The code and message of whatever a command's promise was rejected with: a `UiError`
 * ({code, message}), a JavaScript error (no code), or anything else (its text).
 * @param {unknown} e @returns {{ code: string, message: string }} */
export function failure(e) {
  if (e && typeof e === "object") {
    const code = "code" in e && typeof e.code === "string" ? e.code : "";
    const message = "message" in e && e.message != null ? String(e.message) : String(e);
    return { code, message };
  }
  return { code: "", message: e == null ? "" : String(e) };
}

/** The words for a code, or null when the window has none for it.
 * @param {string | null | undefined} code @param {Strings} t */
export function wordsFor(code, t) {
  const why = /** @type {Record<string, string>} */ (t.failedWhy);
  return code && Object.prototype.hasOwnProperty.call(why, code) ? why[code] : null;
}

/** What the window shows for a failure: its sentence (the generic one for a code without
 * words) and the Rust message as the detail (never dropped).
 * @param {string | null | undefined} code @param {string | null | undefined} message @param {Strings} t
 * @returns {{ text: string, detail: string }} */
export function worded(code, message, t) {
  return { text: wordsFor(code, t) || t.failedOther, detail: message || "" };
}

/** A command's failure, worded. @param {unknown} e @param {Strings} t */
export function errorWords(e, t) {
  const { code, message } = failure(e);
  return worded(code, message, t);
}

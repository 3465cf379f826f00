// What the Put back dialog offers, without the page: the copies on this computer, then the
// copies kept in buckets (from the library's offsite records), so a copy can be put back
// after the local file is gone. Tested with `node --test`.
import { bytes, time } from "./format.js";

/** @typedef {import("./ipc.js").LibraryEntry} LibraryEntry */
/** @typedef {import("./ipc.js").OffsiteCopy} OffsiteCopy */
/** @typedef {import("./state.js").Strings} Strings */

/**
 * One choice of the dialog's list. `value` is a local path, or `offsite:N` for the Nth
 * copy kept in a bucket; a copy whose destination was removed here is shown, not offered.
 * @typedef {{ group: "here" | "offsite", value: string, text: string, disabled: boolean }} Choice
 */

/** The value of the Nth copy kept in a bucket. @param {number} n */
export const offsiteValue = (n) => `offsite:${n}`;

/** Which copy kept in a bucket a value names (null: a file on this computer).
 * @param {string} value @param {OffsiteCopy[]} offsite @returns {OffsiteCopy | null} */
export function offsiteOf(value, offsite) {
  const m = /^offsite:(\d+)$/.exec(value);
  return m ? offsite[Number(m[1])] || null : null;
}

/**
 * The dialog's choices, newest first in each group.
 * @param {LibraryEntry[]} local @param {OffsiteCopy[]} offsite @param {Strings} t @param {string} [locale]
 * @returns {Choice[]}
 */
export function putBackChoices(local, offsite, t, locale) {
  // An encrypted copy on this computer says so.
  /** @type {Choice[]} */
  const out = local.map((c) => ({ group: "here", value: c.path,
    text: `${time(c.taken_at, locale)} · ${bytes(c.size)}${c.sealed_size != null ? ` · ${t.encrypted}` : ""}`, disabled: false }));
  offsite.forEach((c, n) => {
    const where = c.configured ? t.putBackInBucket(c.destination, c.bucket, c.sealed) : t.putBackRemovedDest(c.destination);
    out.push({ group: "offsite", value: offsiteValue(n), text: `${time(c.taken_at, locale)} · ${bytes(c.size)} · ${where}`, disabled: !c.configured });
  });
  return out;
}

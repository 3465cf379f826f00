// What the window knows, in one object: the views read it and the loaders and events write
// it. What only one view needs (its scroll bookkeeping, its open menu) stays in that view.
import { strings } from "./i18n.js";
import { PressGate } from "./paint.js";

/** @typedef {typeof strings.en} Strings */
/** @typedef {import("./ipc.js").EngineEvent} EngineEvent */
/** @typedef {import("./ipc.js").Progress} Progress */
/**
 * A line of the transfers drawer. `kind` is what it is doing; `last` is the engine's latest
 * word about it; `retry` starts it again after a failure.
 * `upload`: the line is an upload of a local copy to that destination's bucket.
 * @typedef {{ name: string, kind?: "waiting" | "busy" | "failed" | "done", last?: EngineEvent,
 *   progress?: Progress | null, retry: () => void, upload?: { destination: string, bucket: string } }} Transfer
 */
/** A job done in this session; `to`: an upload, of the local copy at `path`, to that bucket;
 * `outbox`: the offsite destination a download went to (offsite only, so not kept here).
 * @typedef {{ id: string, name: string, path: string, at: string, to?: { destination: string, bucket: string }, outbox?: string }} Finished */

export const state = {
  /** The words of the window's language. @type {Strings} */
  t: strings.en,
  /** @type {import("./ipc.js").Session | null} */
  session: null,
  /** @type {import("./ipc.js").SettingsView | null} */
  settings: null,
  queuePaused: false,
  /** The sidebar tab shown. @type {"resources" | "library" | "history" | "settings"} */
  view: "resources",
  /** @type {import("./ipc.js").ResourceRow[]} */
  rows: [],
  /** @type {import("./ipc.js").LibraryEntry[]} */
  library: [],
  /** @type {import("./ipc.js").PlansView | null} */
  plansView: null,
  /** Which folders keep copies encrypted, and whether a recovery key was written.
   * @type {import("./ipc.js").Encryption | null} */
  encryption: null,
  /** The account's offsite destinations. @type {import("./ipc.js").OffsiteView[]} */
  offsite: [],
  /** @type {import("./ipc.js").HistoryRow[]} */
  runs: [],
  /** Something dragged over the window: whether it can be dropped, and why not (its code
   * and the Rust side's words). @type {{ ok: boolean, code: string | null, message: string | null } | null} */
  drag: null,
  /** The sign-in form's answer: checking the key, or the failure it was refused with.
   * @type {"checking" | { failed: unknown } | null} */
  signIn: null,
  /** Resource ids ticked by the user; survives re-renders. @type {Set<string>} */
  selected: new Set(),
  /** Resource id (or an upload's `upload:…` id) -> its line in the drawer. @type {Map<string, Transfer>} */
  transfers: new Map(),
  /** Done in this session, newest first. @type {Finished[]} */
  finished: [],
  /** How many of `finished` the drawer no longer counts (Clear). */
  cleared: 0,
  /** Library files that failed Verify in this session. @type {Set<string>} */
  damaged: new Set(),
  /** The accounts this computer knows (the header's menu). @type {import("./ipc.js").AccountEntry[]} */
  accounts: [],
  /** "All accounts": the list holds every signed-in account's resources, grouped by account. */
  allAccounts: false,
  /** The accounts of that list, in order, each with why it could not be listed.
   * @type {import("./ipc.js").AccountGroup[]} */
  groups: [],
  /** The sign-in form is open to add one more account (the others stay signed in). */
  adding: false,
  /** Resource id -> the id of its account, for every row seen in this run: a transfer
   * started for one account stays with it after the window shows another.
   * @type {Map<string, string>} */
  owner: new Map(),
};

/** The person's choices kept by the page itself (language and theme before sign-in). */
export const store = window.localStorage;

/** The window's language, as set on the page. */
export const lang = () => document.documentElement.lang;

export const signedIn = () => !!(state.session && state.session.signed_in);

/** Whether this computer knows more than one account: then every line names its account. */
export const manyAccounts = () => !!(state.session && state.session.accounts > 1);

/** A resource's name, with its account's when more than one is known (a transfer line).
 * @param {string} id */
export function lineName(id) {
  const r = state.rows.find((x) => x.id === id);
  const name = r ? r.name : id;
  return manyAccounts() && r && r.account ? state.t.inAccount(name, r.account.name) : name;
}

/** A resource's name, or its id when the list does not have it (any more).
 * @param {string} id */
export function nameOf(id) {
  const r = state.rows.find((x) => x.id === id);
  return r ? r.name : id;
}

// The views draw themselves: each registers its painter at init, and whoever changed the
// state asks for the parts to be drawn again, without knowing the views.
/** @typedef {"rows" | "banner" | "transfers" | "library" | "history" | "plans" | "settings" | "offsite"} Part */
/** @type {Map<Part, () => void>} */
const painters = new Map();

/** @param {Part} part @param {() => void} paint */
export function painter(part, paint) { painters.set(part, paint); }

/** No part is drawn again between a click's press and release (see PressGate): app.js
 * tells it of the pointer's presses. */
export const gate = new PressGate(() => performance.now(), (fn, ms) => { setTimeout(fn, ms); });

/** Draws `paint` now, or after the click in progress (see PressGate). @param {() => void} paint */
export function paintNow(paint) { if (!gate.holds(paint)) paint(); }

/** Draws the parts named, or every part. @param {Part[]} parts */
export function repaint(...parts) {
  for (const [part, paint] of painters) if (!parts.length || parts.includes(part)) paintNow(paint);
}

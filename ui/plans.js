// Plans in words, and the plan form's values as the plan add_plan takes, without the page.
// Tested with `node --test`.

import { worded } from "./errors.js";

/** @typedef {import("./ipc.js").Plan} Plan */
/** @typedef {import("./state.js").Strings} Strings */

/** "nightly — Snapshot, daily at 03:30, Every resource; keep: 7 daily, 4 weekly, 6 monthly; copies on this computer".
 * @param {Plan} p @param {Strings} t @param {(id: string) => string} nameOf */
export function planWords(p, t, nameOf) {
  const s = p.schedule, at = "at" in s ? s.at.slice(0, 5) : "";
  const w = s.every === "hour" ? t.planHourly : s.every === "hours" ? t.planEvery(s.hours)
    : s.every === "day" ? t.planDaily(at) : t.planWeekly(t.weekdays[s.weekday], at);
  const scope = p.scope.scope === "all" ? t.scopes.all : `${p.scope.ids.length} × ${p.scope.ids.map(nameOf).join(", ")}`;
  const r = p.retention;
  const keep = r.keep === "last" ? t.keeps.last.replace("N", String(r.n)) : t.keeps[r.keep];
  return `${p.id} — ${t.kinds[p.kind].split(":")[0]}, ${w}, ${scope}; ${t.planKeep.toLowerCase()}: ${keep}; ${copiesWords(p, t)}`;
}

/** Where a plan keeps its copies, in words. @param {Plan} p @param {Strings} t */
export function copiesWords(p, t) {
  return !p.offsite ? t.planCopiesHere : p.offsite_only ? t.planCopiesOnlyIn(p.offsite) : t.planCopiesBoth(p.offsite);
}

/** The plan form's "Keep copies" choices: on this computer, then for each destination in it only,
 * and here and there. The value says both ("only:NAME", "both:NAME"; "" is this computer).
 * @param {string[]} names the account's offsite destinations @param {Strings} t
 * @returns {[string, string][]} */
export function copiesChoices(names, t) {
  return [["", t.planKeepHere], ...names.flatMap((n) => /** @type {[string, string][]} */ ([[`only:${n}`, t.planKeepIn(n)], [`both:${n}`, t.planKeepBoth(n)]]))];
}

/** The plan fields a "Keep copies" choice sets. @param {string} choice */
export function copiesOf(choice) {
  const at = choice.indexOf(":");
  const how = choice.slice(0, at), name = choice.slice(at + 1);
  if (at < 0 || !name || (how !== "only" && how !== "both")) return {};
  return how === "only" ? { offsite: name, offsite_only: true } : { offsite: name };
}

/** A run's offsite step in words: what went there, or what waits on this computer for the upload,
 * where and why (in the window's words by its code; the Rust side's, `o.error`, go on the line's
 * tooltip). @param {import("./ipc.js").OffsiteNote} o @param {Strings} t */
export function offsiteLine(o, t) {
  const why = o.error || o.code ? worded(o.code, o.error, t).text : "";
  if (o.waiting) return t.historyOffsiteWaiting(o.dest, o.waiting, o.waiting_in || "", why);
  const line = t.historyOffsiteSent(o.dest, o.uploaded, o.deleted);
  return why ? `${line}. ${t.historyOffsiteFailed(why)}` : line;
}

/** Which of the form's fields the chosen schedule and retention use.
 * @param {string} when @param {string} keep */
export function planFields(when, keep) {
  return { hours: when === "hours", weekday: when === "week", at: when === "day" || when === "week", keepN: keep === "last" };
}

/**
 * The form's values (as the inputs hold them) as a plan; `offsite` is a "Keep copies" choice.
 * @param {{ name: string, kind: string, scope: string, when: string, hours: string, weekday: string,
 *   at: string, keep: string, keepN: string, offsite?: string }} f
 * @param {Iterable<string>} selected the ticked resources, for a plan of "the ticked resources"
 * @returns {Plan}
 */
export function planFromForm(f, selected) {
  const at = `${f.at || "03:00"}:00`;
  /** @type {Plan["schedule"]} */
  const schedule = f.when === "hours" ? { every: "hours", hours: Number(f.hours) || 1 }
    : f.when === "day" ? { every: "day", at } : f.when === "week" ? { every: "week", weekday: Number(f.weekday), at } : { every: "hour" };
  /** @type {Plan["retention"]} */
  const retention = f.keep === "last" ? { keep: "last", n: Math.max(1, Number(f.keepN) || 1) }
    : f.keep === "everything" ? { keep: "everything" } : { keep: "calendar", daily: 7, weekly: 4, monthly: 6 };
  /** @type {Plan["scope"]} */
  const scope = f.scope === "selected" ? { scope: "resources", ids: [...selected] } : { scope: "all" };
  const kind = /** @type {Plan["kind"]} */ (f.kind);
  // An offsite destination only when one is chosen: "" is this computer only.
  return { id: f.name.trim(), kind, scope, schedule, retention, dest: null, ...copiesOf(f.offsite || "") };
}

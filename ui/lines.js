// The transfers drawer's lines in words, without the page. Tested with `node --test`.
import { bytes, clock, duration } from "./format.js";
import { worded } from "./errors.js";

/** @typedef {import("./ipc.js").EngineEvent} EngineEvent */
/** @typedef {import("./ipc.js").Progress} Progress */
/** @typedef {import("./state.js").Strings} Strings */
/** @typedef {import("./state.js").Transfer} Transfer */
/** @typedef {import("./state.js").Finished} Finished */
/** @typedef {import("./ipc.js").UploadEvent} UploadEvent */

/** Seconds since an ISO time, as "40s" or "2m 5s". @param {string} iso @param {number} now */
export function elapsed(iso, now) { return duration(Math.max(0, (now - Date.parse(iso)) / 1000)); }

/** A download's line: "12.0 MB of 40.0 MB · 2.0 MB/s · 14s left".
 * @param {Progress} p @param {Strings} t */
export function progressText(p, t) {
  return t.progress(bytes(p.bytes), p.total ? bytes(p.total) : "", bytes(Math.round(p.bytes_per_sec)),
    p.eta_secs != null ? duration(p.eta_secs) : "");
}

/** A transfer's state in words, in the given language.
 * @param {EngineEvent | undefined} e @param {Strings} t @param {string} lang @param {number} now */
export function transferText(e, t, lang, now) {
  if (!e) return "";
  switch (e.event) {
    case "waiting": return t.waiting(duration(Math.max(1, (Date.parse(e.until) - now) / 1000)), t.why[e.reason] || e.reason);
    case "postponed": return t.metered(bytes(e.bytes));
    case "paused_for_quota": return t.paused(e.until && clock(e.until, lang));
    case "creating": return t.creating(elapsed(e.since, now));
    case "processing": return e.answer_lost ? t.answerLost(clock(e.until, lang)) : t.processing(elapsed(e.since, now));
    case "joined": return t.joined;
    case "created": return t.created;
    case "done": return t.done(e.path);
    case "fetched": return t.fetched;
    // What happened in this language, with what it means and what to do (the generic
    // sentence for a code without words); the engine's own message (which names files and
    // folders) stays on the line's tooltip.
    case "failed": return `${t.failed}: ${worded(e.code, e.message, t).text}`;
    default: return "";
  }
}

/** The lines the drawer shows (not the done ones), and how many run and wait.
 * @param {Map<string, Transfer>} transfers */
export function drawerLines(transfers) {
  const list = [...transfers.entries()].filter(([, x]) => x.kind !== "done");
  return {
    list,
    running: list.filter(([, x]) => x.kind === "busy").length,
    waiting: list.filter(([, x]) => x.kind === "waiting").length,
  };
}

/** The lines held for the daily quota, and until when (the latest time the engine named).
 * @param {Iterable<Transfer>} transfers @returns {{ count: number, until: string | null }} */
export function quotaWaits(transfers) {
  let count = 0;
  /** @type {string | null} */
  let until = null;
  for (const x of transfers) {
    if (x.kind !== "waiting" || !x.last || x.last.event !== "paused_for_quota") continue;
    count++;
    const u = x.last.until;
    if (u && (!until || Date.parse(u) > Date.parse(until))) until = u;
  }
  return { count, until };
}

/** Whether a line counts seconds (preparing, waiting) and so is drawn again each second.
 * @param {Iterable<Transfer>} transfers */
export function ticking(transfers) {
  for (const x of transfers) {
    if (x.last && ["creating", "processing", "waiting"].includes(x.last.event) && !x.progress) return true;
  }
  return false;
}

/** How far, in whole percent; null when the total is not known. @param {Progress} p */
export function percent(p) {
  return p.total ? Math.min(100, Math.floor((p.bytes * 100) / p.total)) : null;
}

/** "Fetching from <bucket>… 40 %" (without the percent while the size is not known).
 * @param {string} bucket @param {Progress} p @param {Strings} t */
export function fetchingText(bucket, p, t) {
  const pct = percent(p);
  return t.fetchingFrom(bucket, pct == null ? "" : t.percent(pct));
}

/** A drawer line's words: an upload's ("to vault (snaps) · 30 % · 12.0 MB of 40.0 MB · …"),
 * a fetch's, a download's progress, or the engine's latest word.
 * @param {Transfer} x @param {Strings} t @param {string} lang @param {number} now */
export function lineText(x, t, lang, now) {
  const p = x.progress;
  if (x.upload) {
    const to = t.uploadTo(x.upload.destination, x.upload.bucket);
    if (x.kind === "failed") return `${to} · ${transferText(x.last, t, lang, now)}`;
    if (!p) return `${to} · ${t.uploadWaiting}`;
    const pct = percent(p);
    return [to, pct == null ? "" : t.percent(pct), progressText(p, t)].filter(Boolean).join(" · ");
  }
  if (p && x.last && x.last.event === "fetching") return `${fetchingText(x.last.bucket, p, t)} · ${progressText(p, t)}`;
  return p ? progressText(p, t) : transferText(x.last, t, lang, now);
}

/** An upload's line in the drawer: one per local copy and destination. @param {import("./ipc.js").UploadOf} u */
export const uploadId = (u) => `upload:${u.destination}:${u.file}`;

/**
 * One upload event applied to the drawer's lines: waiting and sending lines are kept; a sent
 * one leaves the drawer for the session's done list; a failed one stays with its reason
 * (a stopped one goes, as a stopped download's does); one left unsent goes.
 * @param {Map<string, Transfer>} transfers @param {Finished[]} finished @param {UploadEvent} u
 * @param {() => void} retry sends that destination's copies again @param {string} nowIso
 */
export function applyUpload(transfers, finished, u, retry, nowIso) {
  const id = uploadId(u);
  /** @type {Transfer} */
  const x = transfers.get(id) || { name: u.name, upload: { destination: u.destination, bucket: u.bucket }, retry };
  switch (u.state) {
    case "waiting": x.kind = "waiting"; x.progress = null; break;
    case "sending": x.kind = "busy"; x.progress = u.progress; break;
    case "sent":
      transfers.delete(id);
      finished.unshift({ id, name: u.name, path: u.file, at: nowIso, to: { destination: u.destination, bucket: u.bucket } });
      return;
    case "failed":
      if (u.code === "cancelled") { transfers.delete(id); return; }
      x.kind = "failed"; x.progress = null;
      x.last = { event: "failed", resource: u.resource, code: u.code, message: u.message };
      break;
    case "left": transfers.delete(id); return;
    default: return;
  }
  transfers.set(id, x);
}

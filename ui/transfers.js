// The transfers drawer: what is running or waiting, and the jobs that feed it (snapshots
// and downloads asked for by a click, the tray or a plan; a put back's fetch from a bucket;
// the uploads of an offsite sync, whether a click's or the scheduler's).
import { $, button, el, setText } from "./dom.js";
import { clock } from "./format.js";
import { applyUpload, drawerLines, lineText, ticking } from "./lines.js";
import { notice, showError } from "./notice.js";
import { loadLibrary, refresh } from "./actions.js";
import { renderQuota, showView } from "./shell.js";
import { gate, lang, lineName, painter, repaint, signedIn, state } from "./state.js";
import { mayBackUp } from "./rows.js";
import * as ipc from "./ipc.js";

export function renderTransfers() {
  // Progress events draw the drawer many times a second: not under a click on one of its buttons.
  if (gate.holds(renderTransfers)) return;
  const { t } = state;
  const { list, running, waiting } = drawerLines(state.transfers);
  const done = state.finished.length - state.cleared;
  $("transfers-drawer").hidden = !signedIn() || (list.length === 0 && done === 0 && !state.queuePaused);
  setText("transfers-summary", t.transfersSummary(running, waiting));
  $("done-show").hidden = $("done-clear").hidden = done === 0;
  setText("done-show", t.doneShow(done));
  setText("done-clear", t.clearDone);
  $("done-clear").setAttribute("aria-label", t.clearDoneLabel);
  // Controls only when they apply: Stop all with something to stop, Pause with something
  // running or waiting (and Resume while paused). The tray's item pauses at any time.
  $("cancel-all").hidden = list.length === 0;
  $("pause-toggle").hidden = list.length === 0 && !state.queuePaused;
  const ul = $("transfers");
  ul.innerHTML = "";
  const now = Date.now();
  for (const [id, x] of list) {
    const li = el("li", {}, el("strong", { text: x.name }));
    li.dataset.id = id;
    if (x.upload) li.classList.add("upload");
    const p = x.progress;
    if (p) li.append(el("progress", { max: p.total || 1, value: p.bytes, "aria-label": x.name }));
    else li.append(el("span"));
    const text = lineText(x, t, lang(), now);
    /** @type {Record<string, string>} */
    const attrs = { class: `state state-${x.kind}${p ? " progress-text" : ""}`, text };
    // A failure's line says it in the window's words; the engine's own message (the file or
    // folder it names) is on its tooltip.
    if (!p && x.last && x.last.event === "failed") attrs.title = x.last.message;
    li.append(el("span", attrs));
    const actions = el("span", { class: "line-actions" });
    // A create whose answer was lost, or that is slow: its list is watched; the user may stop
    // waiting for this one alone (nothing is sent again either way).
    if (x.kind === "busy" && x.last && x.last.event === "processing") {
      actions.append(button(t.stopWaiting, () => ipc.stopWaiting(id).catch(showError), { "aria-label": `${t.stopWaiting}: ${x.name}` }));
    }
    if (x.kind === "failed") {
      actions.append(button(t.retry, () => { state.transfers.delete(id); x.retry(); renderTransfers(); }, { "aria-label": `${t.retry}: ${x.name}` }));
      actions.append(button(t.dismiss, () => { state.transfers.delete(id); renderTransfers(); }, { "aria-label": `${t.dismiss}: ${x.name}` }));
    }
    li.append(actions);
    ul.append(li);
  }
  // The banner counts the backups held for the quota.
  repaint("banner");
}

/**
 * One engine event: a transfer line, the quota, or a notice. Background (scheduled) work
 * arrives the same way as a click's. `retry` starts a failed line's job again.
 * @param {ipc.EngineEvent} e @param {(id: string) => void} retry
 */
export function handleEvent(e, retry) {
  const { transfers } = state;
  /** @param {string} id @returns {import("./state.js").Transfer} */
  const line = (id) => transfers.get(id) || { name: lineName(id), retry: () => retry(id) };
  switch (e.event) {
    case "quota": {
      // Each account has its own quota: another account's goes to its group, not the header.
      const shown = state.session && state.session.account ? state.session.account.id : null;
      for (const g of state.groups) if (g.id === (e.account || shown)) g.quota = e.quota;
      if (!e.account || e.account === shown) { if (state.session) state.session.quota = e.quota; renderQuota(e.quota); }
      return;
    }
    case "paused": notice(() => state.t.pausedByUser, false, true); return;
    case "resumed": notice(""); return;
    case "paused_for_quota": {
      notice(() => state.t.paused(e.until && clock(e.until, lang())), false, true);
      // Waiting lines now wait for the quota, not for a window; held ones get a line.
      for (const w of transfers.values()) if (w.kind === "waiting") w.last = e;
      for (const rid of e.held || []) {
        const w = line(rid);
        if (w.kind !== "busy") { w.kind = "waiting"; w.last = e; transfers.set(rid, w); }
      }
      renderTransfers();
      return;
    }
    case "rate_limited": notice(() => state.t.rateLimited(clock(e.until, lang())), true); return;
    case "learned": return;
    default: break;
  }
  const id = e.resource;
  const x = line(id);
  switch (e.event) {
    case "waiting": case "postponed": x.kind = "waiting"; break;
    case "creating": case "processing": case "joined": case "created": x.kind = "busy"; x.progress = null; break;
    case "downloading": case "uploading": case "fetching": x.kind = "busy"; x.progress = e.progress; break;
    case "fetched": x.kind = "busy"; x.progress = null; break;
    case "committed": transfers.delete(id); renderTransfers(); return;
    case "done":
      transfers.delete(id);
      state.finished.unshift({ id, name: x.name, path: e.path, at: new Date().toISOString(), ...(e.outbox ? { outbox: e.outbox } : {}) });
      renderTransfers(); repaint("history");
      return;
    case "failed":
      // Stopped by the user: the line goes; the notice says what it means.
      if (e.code === "cancelled") { transfers.delete(id); renderTransfers(); return; }
      x.kind = "failed"; x.progress = null; break;
    default: return;
  }
  x.last = e;
  transfers.set(id, x);
  renderTransfers();
}

/** An offsite sync's upload: a line while it waits or runs; sent, it joins the done ones.
 * @param {ipc.UploadEvent} u */
export function handleUpload(u) {
  applyUpload(state.transfers, state.finished, u, () => sendAgain(u.destination), new Date().toISOString());
  renderTransfers();
  if (u.state === "sent") repaint("history");
}

/** Retry on a failed upload: the destination's sync again (it sends what it lacks).
 * @param {string} destination */
function sendAgain(destination) {
  ipc.syncOffsite(destination).then(() => loadLibrary(), (e) => {
    // A failed upload says it on its own line; what failed before any upload is said here.
    if (!(e && typeof e === "object" && "code" in e && (e.code === "cancelled" || String(e.code).startsWith("offsite_")))) showError(e);
  });
}

/** A channel whose events go to the drawer, said to come from the account of `id` (a job
 * of one account). @param {(id: string) => void} retry @param {string | null} [id] */
export const onEvent = (retry, id = null) => {
  const account = id ? state.owner.get(id) : undefined;
  return ipc.eventChannel((e) => handleEvent(account ? { ...e, account } : e, retry));
};

/** Backs up these resources (a new snapshot each, downloaded). With "All accounts" they may
 * be of several accounts: each account's are sent to its own engine, all at once, and each
 * engine keeps its account's pace and quota. @param {string[]} ids */
export async function snapshot(ids) {
  /** @type {Map<string, string[]>} */
  const by = new Map();
  for (const id of ids) {
    const a = state.owner.get(id) || "";
    by.set(a, [...(by.get(a) || []), id]);
  }
  const jobs = [...by.values()].map((some) =>
    ipc.createSnapshots(some, onEvent((id) => snapshot([id]), some[0])).catch(showError));
  await Promise.all(jobs);
  await refresh();
}

/** The tray's "Snapshot all": every resource of every signed-in account that this account
 * may back up (a view-only shared application is left out; its row says why). */
async function snapshotEveryAccount() {
  try {
    const groups = await ipc.listAllResources();
    for (const g of groups) for (const r of g.rows) state.owner.set(r.id, g.id);
    await snapshot(groups.flatMap((g) => g.rows.filter(mayBackUp).map((r) => r.id)));
  } catch (e) { showError(e); }
}

/** Downloads a resource's newest snapshot, or `version`. @param {string} id @param {string | null} [version] */
export async function download(id, version) {
  try { await ipc.downloadSnapshot(id, version || null, onEvent((rid) => download(rid, version), id)); await refresh(); } catch (e) { showError(e); }
}

export function initTransfers() {
  painter("transfers", renderTransfers);
  // Lines that count (preparing, waiting) tick every second.
  setInterval(() => { if (ticking(state.transfers.values())) renderTransfers(); }, 1000);
  $("done-show").addEventListener("click", () => showView("history", true));
  $("done-clear").addEventListener("click", () => { state.cleared = state.finished.length; renderTransfers(); });
  $("cancel-all").addEventListener("click", () => { notice(() => state.t.stopped); ipc.cancelTransfer().catch(showError); });
  $("pause-toggle").addEventListener("click", () => ipc.pauseQueue(!state.queuePaused).catch(showError));
  ipc.on(ipc.EVENTS.queuePaused, (paused) => {
    state.queuePaused = paused;
    setText("pause-toggle", paused ? state.t.resume : state.t.pause);
    notice(paused ? () => state.t.pausedByUser : "", false, true);
    renderTransfers();
  });
  ipc.on(ipc.EVENTS.engineEvent, (e) => handleEvent(e, (id) => snapshot([id])));
  ipc.on(ipc.EVENTS.offsiteUpload, handleUpload);
  ipc.on(ipc.EVENTS.plansRan, () => refresh());
  ipc.on(ipc.EVENTS.traySnapshotAll, () => { snapshotEveryAccount(); });
}

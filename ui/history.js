// History: what finished in this session, and the plans' runs.
import { $, button, el, when } from "./dom.js";
import { bytes, folderOf, relative, time } from "./format.js";
import { showError } from "./notice.js";
import { lang, nameOf, painter, state } from "./state.js";
import * as ipc from "./ipc.js";
import { offsiteLine } from "./plans.js";

/** A run's tooltip: the exact time, and what failed. @param {ipc.HistoryRow} h */
export function runTitle(h) {
  return `${time(h.started)}${h.failures.length ? " — " + h.failures.join("; ") : ""}`;
}

function renderHistory() {
  const { t } = state;
  const s = $("session-done");
  s.innerHTML = "";
  if (!state.finished.length) s.append(el("li", { class: "empty-line", text: t.sessionEmpty }));
  for (const f of state.finished) {
    // An upload's copy is in its bucket; an offsite-only copy was checked here, then sent and
    // removed: neither leaves a folder of the user's to open.
    const what = f.to ? t.sentTo(f.to.destination, f.to.bucket, f.path) : f.outbox ? t.doneOutbox(f.outbox) : t.done(f.path);
    const info = el("div", { class: "grow" }, el("strong", { text: f.name }), el("div", { class: "what", text: what }), el("div", { class: "muted" }, when(f.at)));
    const open = f.to || f.outbox ? [] : [button(t.open, () => ipc.openFolder(folderOf(f.path)).catch(showError), { "aria-label": `${t.open}: ${f.name}` })];
    s.append(el("li", { class: "done" }, info, ...open));
  }
  const ul = $("history");
  ul.innerHTML = "";
  if (!state.runs.length) ul.append(el("li", { class: "empty-line", text: t.historyEmpty }));
  for (const h of state.runs.slice(0, 50)) {
    const li = el("li", { class: h.ok ? "ok" : "failed" }, el("span", {
      class: "what", text: t.historyRow(relative(h.started, lang()), h.plan, h.ok, h.files, bytes(h.bytes)), title: runTitle(h),
    }));
    // Held back to keep the reserve for snapshots by hand: said in the row, names on hover.
    const held = h.reserve_held || [];
    if (held.length) li.append(el("div", { class: "muted", text: t.reserveHeld(held.length), title: held.map(nameOf).join(", ") }));
    // Its offsite step: what went there, or what waits on this computer for the upload, where and why.
    const o = h.offsite;
    if (o) li.append(el("div", { class: o.waiting || o.error ? "error" : "muted", text: offsiteLine(o, t), title: o.error || null }));
    ul.append(li);
  }
}

export function initHistory() {
  painter("history", renderHistory);
}

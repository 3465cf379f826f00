// A folder dragged over the window: the overlay says where the backups will go (the default
// folder, or the row under the pointer) or why it cannot take them; the drop sets it.
import { $, setText } from "./dom.js";
import { refresh } from "./actions.js";
import { notice, showError } from "./notice.js";
import { wordsFor } from "./errors.js";
import { firstRun } from "./resources.js";
import { nameOf, state } from "./state.js";
import { confirmShared } from "./accounts.js";
import * as ipc from "./ipc.js";

/** The resource row under a point in physical pixels, if any. @param {number} x @param {number} y */
function rowAt(x, y) {
  if (state.view !== "resources" || firstRun()) return null;
  const ratio = window.devicePixelRatio || 1;
  const hit = document.elementFromPoint(x / ratio, y / ratio);
  return hit && hit.closest ? /** @type {HTMLElement | null} */ (hit.closest("li.row[data-id]")) : null;
}

/** @param {number} x @param {number} y */
function renderDrag(x, y) {
  const { t, drag } = state;
  const o = $("drop-overlay");
  for (const r of document.querySelectorAll("li.row.drop-target")) r.classList.remove("drop-target");
  o.hidden = !drag;
  if (!drag) return;
  const row = drag.ok ? rowAt(x, y) : null;
  if (row) row.classList.add("drop-target");
  o.classList.toggle("refused", !drag.ok);
  o.classList.toggle("over-row", !!row);
  setText("drop-title", drag.ok ? t.dropTitle : t.dropRefused);
  // Why not, in the window's words (a drop says it again, with the Rust side's under Details).
  setText("drop-sub", !drag.ok ? wordsFor(drag.code, t) || "" : row ? t.dropRow(nameOf(row.dataset.id || "")) : t.dropDefault);
}

export function initDrag() {
  ipc.on(ipc.EVENTS.dragState, (p) => {
    if (p.phase === "enter") state.drag = { ok: p.ok, code: p.code || null, message: p.message || null };
    if (p.phase === "leave") state.drag = null;
    renderDrag(p.x, p.y);
  });
  // A folder dropped on a row sets that resource's folder; anywhere else, the default.
  ipc.on(ipc.EVENTS.folderDropped, async (p) => {
    const row = p.ok ? rowAt(p.x, p.y) : null;
    state.drag = null; renderDrag(0, 0);
    if (!p.ok || !p.path) { showError({ code: p.code || "", message: p.message || "" }); return; }
    const resource = row ? row.dataset.id || null : null;
    try {
      const dest = await ipc.setDestination(resource, p.path).catch((e) => confirmShared(e, resource));
      if (!dest) return;
      notice(() => state.t.folderSet(dest));
      await refresh();
    } catch (e) { showError(e); }
  });
}

// The Versions and Restore dialogs. Which resource each opening belongs to is restore.js's
// rule; this module draws the dialogs and sends what they decide.
import { bytes, relative, time } from "./format.js";
import { $, dialogEl, el, inputEl, selectEl, setText } from "./dom.js";
import { restoreDialog } from "./restore.js";
import { refresh } from "./actions.js";
import { notice, showError } from "./notice.js";
import { download, onEvent, snapshot } from "./transfers.js";
import { lang, state } from "./state.js";
import * as ipc from "./ipc.js";

/** @typedef {{ id: string, name: string }} Resource */

/** "3 days ago · 01/12/2026 03:00 · 12.0 MB · automatic". @param {ipc.VersionView} v */
function versionLabel(v) {
  return `${relative(v.modified, lang())} · ${time(v.modified)} · ${bytes(v.size)}${v.origin ? " · " + v.origin : ""}`;
}

// One resource per opening, as the restore dialog: a late answer for a row chosen earlier
// is dropped, and Download fetches the resource named in the title.
const browsing = restoreDialog();

/** A resource's versions, to download one. `back` gives the focus back when it closes.
 * @param {Resource} r @param {() => void} back */
export async function openVersions(r, back) {
  const dlg = dialogEl("versions-dialog"), list = selectEl("versions-list");
  const ticket = browsing.open(r);
  /** @type {ipc.VersionView[]} */
  let versions = [];
  try { versions = await ipc.listVersions(ticket.id); } catch (e) { if (!browsing.stale(ticket)) showError(e); return; }
  if (!browsing.accept(ticket)) return;
  setText("versions-title", state.t.versionsTitle(ticket.name));
  list.innerHTML = "";
  for (const v of versions) list.append(el("option", { value: v.version || "", text: versionLabel(v) }));
  if (list.options.length) list.selectedIndex = 0;
  $("versions-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = () => {
    back();
    if (dlg.returnValue !== "download") return;
    const picked = browsing.confirm(ticket, list.value);
    if (picked) download(picked.id, picked.version);
  };
  dlg.returnValue = "";
  dlg.showModal();
  list.focus();
}

// The restore dialog: the resource, the version and its date, what is replaced, and a
// snapshot of the current state first (checked, unless no quota is left today).
// Each opening holds its own resource (restore.js): Restore… chosen on another row while
// this one's versions load makes this opening stale, and its late answer is dropped.
const restoring = restoreDialog();

/** @param {Resource} r @param {() => void} back */
export async function openRestore(r, back) {
  const { t } = state;
  const dlg = dialogEl("restore-dialog");
  const sel = selectEl("restore-version");
  const ticket = restoring.open(r);
  /** @type {ipc.VersionView[]} */
  let versions = [];
  try { versions = await ipc.listVersions(ticket.id); } catch (e) { if (!restoring.stale(ticket)) showError(e); return; }
  if (!restoring.accept(ticket)) return;
  const name = ticket.name;
  setText("restore-title", t.restoreTitle(name));
  sel.innerHTML = "";
  for (const v of versions) {
    const o = el("option", { value: v.version || "", text: versionLabel(v) });
    o.dataset.when = time(v.modified); sel.append(o);
  }
  const left = state.session && state.session.quota ? state.session.quota.remaining : 0;
  const first = inputEl("restore-first");
  first.disabled = left === 0; first.checked = left > 0;
  setText("restore-first-label", t.restoreFirst(left));
  setText("restore-note", left === 0 ? t.restoreNoQuota : "");
  const picked = () => (sel.selectedOptions[0] ? sel.selectedOptions[0].dataset.when || "" : "");
  const describe = () => setText("restore-what", state.t.restoreWhat(name, picked()));
  sel.onchange = describe; describe();
  $("restore-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = async () => {
    back();
    // Only the Restore button goes on: Cancel, Escape and closing do nothing. What it
    // restores is this opening's resource, the one named in the title.
    if (dlg.returnValue !== "restore") return;
    const go = restoring.confirm(ticket, sel.value);
    if (!go) return;
    const w = picked();
    notice(() => state.t.restoring(go.name), false, true);
    try {
      await ipc.restoreSnapshot(go.id, go.version, first.checked, onEvent((id) => snapshot([id])));
      notice(() => state.t.restored(go.name, w));
      await refresh();
    } catch (e) { showError(e); }
  };
  if (!dlg.open) { dlg.returnValue = ""; dlg.showModal(); }
  sel.focus();
}

export function initDialogs() {
  // Enter in the list downloads the highlighted version; so does a double click.
  $("versions-list").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") { ev.preventDefault(); dialogEl("versions-dialog").close("download"); }
  });
  $("versions-list").addEventListener("dblclick", () => dialogEl("versions-dialog").close("download"));
}

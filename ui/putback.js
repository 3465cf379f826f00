// The "Put back from a copy…" dialog: one of the library's copies of the resource (newest
// first, with date and size) or a zip chosen with the native picker, what the engine's
// check says of it, a snapshot first (on by default) and a restart after. Each opening
// holds its own resource (restore.js's ticket rule, as the Restore dialog): an opening on
// another row while this one's copies load makes it stale, and the Put back button puts
// back into the resource named in the title, the file that was checked.
import { bytes, time } from "./format.js";
import { $, dialogEl, el, inputEl, selectEl, setText } from "./dom.js";
import { restoreDialog } from "./restore.js";
import { refresh } from "./actions.js";
import { notice, showError } from "./notice.js";
import { onEvent } from "./transfers.js";
import { state } from "./state.js";
import * as ipc from "./ipc.js";

const putting = restoreDialog();

/** A refusal's words ({code, message}) or any error's. @param {unknown} e */
function words(e) {
  return e && typeof e === "object" && "message" in e ? String(e.message) : String(e);
}

/** @param {{ id: string, name: string }} r @param {() => void} back */
export async function openPutBack(r, back) {
  const { t } = state;
  const dlg = dialogEl("putback-dialog"), sel = selectEl("putback-copy");
  const go = /** @type {HTMLButtonElement} */ ($("putback-confirm"));
  const ticket = putting.open(r);
  /** @type {ipc.LibraryEntry[]} */
  let copies = [];
  try { copies = await ipc.listLibrary(ticket.id); } catch (e) { if (!putting.stale(ticket)) showError(e); return; }
  if (!putting.accept(ticket)) return;
  setText("putback-title", t.putBackTitle(ticket.name));
  sel.innerHTML = "";
  for (const c of copies) {
    const sealed = c.sealed_size != null ? ` · ${t.encrypted}` : "";
    sel.append(el("option", { value: c.path, text: `${time(c.taken_at)} · ${bytes(c.size)}${sealed}` }));
  }
  /** The file the check passed for, the only one Put back sends. */
  let checked = "";
  const check = async () => {
    const path = sel.value;
    checked = ""; go.disabled = true;
    if (!path) { setText("putback-check", state.t.putBackNone); return; }
    setText("putback-check", state.t.putBackChecking);
    try {
      const c = await ipc.checkPutBack(ticket.id, path);
      if (putting.stale(ticket) || sel.value !== path) return;
      checked = path; go.disabled = false;
      setText("putback-check", state.t.putBackOk(bytes(c.size), c.entries, c.from_taken_at ? time(c.from_taken_at) : ""));
    } catch (e) { if (!putting.stale(ticket) && sel.value === path) setText("putback-check", words(e)); }
  };
  sel.onchange = check;
  $("putback-pick").onclick = async () => {
    const path = await ipc.pickPutBackFile().catch(() => null);
    if (!path || putting.stale(ticket)) return;
    sel.prepend(el("option", { value: path, text: path }));
    sel.selectedIndex = 0;
    check();
  };
  const first = inputEl("putback-first"), restart = inputEl("putback-restart");
  first.checked = true; restart.checked = false;
  $("putback-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = async () => {
    back();
    if (dlg.returnValue !== "putback") return;
    const to = putting.confirm(ticket, checked);
    if (!to) return;
    notice(() => state.t.puttingBack(to.name), false, true);
    try {
      await ipc.putBack(to.id, to.version, first.checked, restart.checked, onEvent(() => {}));
      notice(() => state.t.putBackDone(to.name));
      await refresh();
    } catch (e) { showError(e); }
  };
  if (sel.options.length) sel.selectedIndex = 0;
  check();
  if (!dlg.open) { dlg.returnValue = ""; dlg.showModal(); }
  sel.focus();
}

// The "Put back from a copy…" dialog: one of the application's copies on this computer
// (newest first, with date and size), one kept in a bucket (an offsite destination: fetched,
// checked, put back, and the fetched file removed), or a zip chosen with the native picker;
// what the engine's check says of it, a snapshot first (on by default) and a restart after.
// Each opening holds its own resource (restore.js's ticket rule, as the Restore dialog): an
// opening on another row while this one's copies load makes it stale, and the Put back
// button puts back into the resource named in the title, the copy that was checked.
// A copy in a bucket keeps the dialog open while it is fetched ("Fetching from <bucket>…
// 40 %"); what stops it there is said in the dialog, with what it means and what to do.
// Once it is here and reads whole the dialog closes and the put back goes on as any other;
// closed sooner, the fetch goes on in the transfers drawer.
import { bytes, time } from "./format.js";
import { $, dialogEl, el, inputEl, selectEl, setText } from "./dom.js";
import { offsiteOf, putBackChoices } from "./choices.js";
import { fetchingText } from "./lines.js";
import { restoreDialog } from "./restore.js";
import { refresh } from "./actions.js";
import { notice, showError } from "./notice.js";
import { errorWords } from "./errors.js";
import { handleEvent, onEvent, renderTransfers } from "./transfers.js";
import { lang, state } from "./state.js";
import * as ipc from "./ipc.js";

const putting = restoreDialog();

/** The choices in the list, the copies kept in buckets under their own heading.
 * @param {HTMLSelectElement} sel @param {import("./choices.js").Choice[]} choices */
function fill(sel, choices) {
  sel.innerHTML = "";
  const offsite = el("optgroup", { label: state.t.putBackOffsiteGroup });
  for (const c of choices) {
    const o = el("option", { value: c.value, text: c.text, disabled: c.disabled });
    (c.group === "offsite" ? offsite : sel).append(o);
  }
  if (offsite.childElementCount) sel.append(offsite);
}

/** The fetch's bar and words; hidden with null. @param {ipc.FetchingEvent | null} e */
function showFetch(e) {
  $("putback-progress").hidden = !e;
  if (!e) return;
  const bar = /** @type {HTMLProgressElement} */ ($("putback-progress-bar"));
  bar.max = e.progress.total || 1; bar.value = e.progress.total ? e.progress.bytes : 0;
  setText("putback-progress-text", fetchingText(e.bucket, e.progress, state.t));
}

/** Why a copy cannot be put back (the check's refusal), or what stopped a put back
 * (`failed`), in the dialog: the window's words for its code, the engine's (which name the
 * file, or the bucket and key) below. @param {unknown} e @param {boolean} failed */
function sayRefused(e, failed) {
  const { text, detail } = errorWords(e, state.t);
  setText("putback-check", failed ? `${state.t.failed}: ${text}` : text);
  $("putback-check").classList.add("error");
  setText("putback-detail", detail);
  $("putback-detail").hidden = !detail;
}

/** @param {{ id: string, name: string }} r @param {() => void} back */
export async function openPutBack(r, back) {
  const { t } = state;
  const dlg = dialogEl("putback-dialog"), sel = selectEl("putback-copy");
  const go = /** @type {HTMLButtonElement} */ ($("putback-confirm"));
  const pick = /** @type {HTMLButtonElement} */ ($("putback-pick"));
  const ticket = putting.open(r);
  // Retry on a failed put back's drawer line: this dialog again, to choose and send.
  const again = () => { openPutBack(r, () => {}); };
  /** @type {ipc.LibraryEntry[]} */
  let copies = [];
  /** @type {ipc.OffsiteCopy[]} */
  let offsite = [];
  try {
    [copies, offsite] = await Promise.all([ipc.listLibrary(ticket.id), ipc.listOffsiteCopies(ticket.id)]);
  } catch (e) { if (!putting.stale(ticket)) showError(e); return; }
  if (!putting.accept(ticket)) return;
  setText("putback-title", t.putBackTitle(ticket.name));
  fill(sel, putBackChoices(copies, offsite, t, lang()));
  const first = inputEl("putback-first"), restart = inputEl("putback-restart");
  // Each opening starts from the recommended choices, whatever the last put back chose.
  first.checked = true; restart.checked = false;
  /** The choice the check passed for, the only one Put back sends. */
  let checked = "";
  /** Controls held while a copy is fetched from its bucket. @param {boolean} on */
  const hold = (on) => { for (const c of [sel, pick, go, first, restart]) c.disabled = on; };
  const check = async () => {
    const value = sel.value;
    checked = ""; go.disabled = true;
    $("putback-check").classList.remove("error");
    $("putback-detail").hidden = true;
    showFetch(null);
    if (!value) { setText("putback-check", state.t.putBackNone); return; }
    const o = offsiteOf(value, offsite);
    if (o) {
      // Checked once it is here: nothing is fetched before Put back.
      checked = value; go.disabled = false;
      setText("putback-check", state.t.putBackOffsiteOk(o.destination, o.bucket, bytes(o.size), o.sealed));
      return;
    }
    setText("putback-check", state.t.putBackChecking);
    try {
      const c = await ipc.checkPutBack(ticket.id, value);
      if (putting.stale(ticket) || sel.value !== value) return;
      checked = value; go.disabled = false;
      setText("putback-check", state.t.putBackOk(bytes(c.size), c.entries, c.from_taken_at ? time(c.from_taken_at) : ""));
    } catch (e) { if (!putting.stale(ticket) && sel.value === value) sayRefused(e, false); }
  };
  /** A copy in a bucket: fetched with the dialog open, then put back as any other. @param {ipc.OffsiteCopy} o */
  const fromBucket = async (o) => {
    const to = putting.confirm(ticket, checked);
    if (!to) return;
    hold(true);
    let here = false;
    const mine = () => dlg.open && !putting.stale(ticket);
    setText("putback-check", fetchingText(o.bucket, { bytes: 0, total: null, bytes_per_sec: 0, eta_secs: null }, state.t));
    const events = ipc.eventChannel((e) => {
      handleEvent(e, again);
      if (e.event === "fetching" && mine()) showFetch(e);
      if (e.event === "fetched") {
        here = true;
        if (mine()) { hold(false); dlg.close("fetched"); }
        notice(() => state.t.puttingBack(to.name), false, true);
      }
    });
    try {
      await ipc.putBackOffsite(to.id, o.destination, o.key, first.checked, restart.checked, events);
      notice(() => state.t.putBackDone(to.name));
      await refresh();
    } catch (e) {
      if (here || !mine()) { showError(e); return; }
      hold(false); showFetch(null); sayRefused(e, true);
      // Said here, where the choice can be changed: not on a drawer line too.
      state.transfers.delete(to.id); renderTransfers();
    }
  };
  sel.onchange = check;
  go.onclick = (ev) => {
    const o = offsiteOf(sel.value, offsite);
    if (!o) return; // a file on this computer: the form closes the dialog, as before
    ev.preventDefault();
    fromBucket(o);
  };
  pick.onclick = async () => {
    const path = await ipc.pickPutBackFile().catch(() => null);
    if (!path || putting.stale(ticket)) return;
    sel.prepend(el("option", { value: path, text: path }));
    sel.selectedIndex = 0;
    check();
  };
  hold(false);
  first.checked = true; restart.checked = false;
  $("putback-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = async () => {
    back();
    if (dlg.returnValue !== "putback") return;
    const to = putting.confirm(ticket, checked);
    if (!to) return;
    notice(() => state.t.puttingBack(to.name), false, true);
    try {
      await ipc.putBack(to.id, to.version, first.checked, restart.checked, onEvent(again));
      notice(() => state.t.putBackDone(to.name));
      await refresh();
    } catch (e) { showError(e); }
  };
  // The first copy that can be put back.
  const firstOk = [...sel.options].findIndex((o) => !o.disabled);
  if (firstOk >= 0) sel.selectedIndex = firstOk;
  check();
  if (!dlg.open) { dlg.returnValue = ""; dlg.showModal(); }
  sel.focus();
}

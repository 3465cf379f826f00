// Settings → Offsite copies: S3-compatible destinations (list, add, test, send copies now,
// remove). The secret key is read from its field, handed to Rust (which puts it in the OS
// keychain) and cleared; nothing sends it back. What a step did is said in the section's
// status, in the window's language; when one failed, why in the window's words by its code,
// and the Rust side's own (naming the endpoint or bucket) under Details.
import { $, button, detailEl, el, inputEl, selectEl, fillSelect } from "./dom.js";
import { errorWords, worded } from "./errors.js";
import { bytes, fileName } from "./format.js";
import { loadLibrary } from "./actions.js";
import { copiesChoices } from "./plans.js";
import { notice, showError } from "./notice.js";
import { painter, paintNow, repaint, state } from "./state.js";
import * as ipc from "./ipc.js";

/** @typedef {import("./state.js").Strings} Strings */

/** A status line; `detail`: the Rust side's words under a failure.
 * @typedef {{ text: string, error?: boolean, detail?: string }} Line */
/** The status lines, made in the current language when drawn.
 * @type {(t: Strings) => Line[]} */
let status = () => [];
/** Destinations with a test or a sync running (their buttons wait). @type {Set<string>} */
const busy = new Set();

/** @param {(t: Strings) => Line[]} lines */
function say(lines) { status = lines; renderStatus(); }

function renderStatus() {
  const box = $("offsite-status");
  // A Details opened stays open when the lines are drawn again (a repaint, another language).
  const opened = new Set([...box.querySelectorAll("details[open] .detail-text")].map((d) => d.textContent));
  box.innerHTML = "";
  for (const l of status(state.t)) {
    box.append(el("p", { class: l.error ? "error" : "muted", text: l.text }));
    if (!l.detail) continue;
    const d = detailEl(l.detail, state.t.details);
    d.open = opened.has(l.detail);
    box.append(d);
  }
}

/** A command's failure as a status line. @param {unknown} e @param {Strings} t @returns {Line} */
function failedLine(e, t) {
  const { text, detail } = errorWords(e, t);
  return { text, detail, error: true };
}

export async function loadOffsite() {
  state.offsite = await ipc.listOffsite();
  repaint("offsite", "plans");
}

function renderOffsite() {
  const { t, offsite } = state;
  const ul = $("offsite-list");
  ul.innerHTML = "";
  if (!offsite.length) ul.append(el("li", { class: "muted", text: t.offsiteEmpty }));
  for (const d of offsite) {
    const what = el("span", { class: "what" }, el("strong", { text: d.name }), " — ",
      el("span", { class: "path", text: t.offsitePlace(d.endpoint, d.bucket, d.prefix) }),
      ` (${d.encrypt ? t.offsiteEncrypted : t.offsiteNotEncrypted})`);
    const off = busy.has(d.name);
    ul.append(el("li", {}, what,
      button(t.offsiteTest, () => test(d.name), { "aria-label": `${t.offsiteTest}: ${d.name}`, disabled: off }),
      button(t.offsiteSync, () => sync(d.name), { "aria-label": `${t.offsiteSync}: ${d.name}`, disabled: off }),
      button(t.offsiteRemove, () => remove(d.name), { "aria-label": `${t.offsiteRemove}: ${d.name}`, title: t.offsiteRemoveNote, disabled: off })));
  }
  renderStatus();
}

/** The plan form's "Keep copies": shown once there is a destination. */
function renderPlanOffsite() {
  const { t, offsite } = state;
  $("plan-offsite-field").hidden = !offsite.length;
  fillSelect(selectEl("plan-offsite"), copiesChoices(offsite.map((d) => d.name), t));
}

/** @param {string} name */
async function test(name) {
  busy.add(name); renderOffsite();
  say((t) => [{ text: t.offsiteTesting(name) }]);
  try {
    const steps = await ipc.testOffsite(name);
    const ok = steps.length === 3 && steps.every((s) => s.ok);
    say((t) => [
      ...steps.map((s) => s.ok ? { text: `${t.offsiteSteps[s.step]}: ${t.offsiteStepOk}` } : {
        text: `${t.offsiteSteps[s.step]}: ${t.offsiteStepFailed}. ${worded(s.code, s.message, t).text}`,
        detail: s.message || "", error: true,
      }),
      { text: ok ? t.offsiteTestOk(name) : t.offsiteTestFailed(name), error: !ok },
    ]);
  } catch (e) {
    say((t) => [{ text: t.offsiteTestFailed(name), error: true }, failedLine(e, t)]);
  } finally { busy.delete(name); paintNow(renderOffsite); }
}

/** @param {string} name */
async function sync(name) {
  busy.add(name); renderOffsite();
  say((t) => [{ text: t.offsiteStarting(name) }]);
  try {
    const done = await ipc.syncOffsite(name);
    say((t) => done.map((r) => ({ text: t.offsiteSent(r.name, r.uploaded, r.present) })));
    await loadLibrary();
  } catch (e) {
    say((t) => [failedLine(e, t)]);
    await loadLibrary().catch(() => {});
  } finally { busy.delete(name); paintNow(renderOffsite); }
}

/** @param {string} name */
async function remove(name) {
  try {
    state.offsite = await ipc.removeOffsite(name);
    say((t) => [{ text: t.offsiteRemoved(name) }]);
    repaint("offsite", "plans");
    await loadLibrary();
  } catch (e) { showError(e); }
}

/** @param {SubmitEvent} ev */
async function add(ev) {
  ev.preventDefault();
  /** @param {string} id */
  const v = (id) => inputEl(id).value.trim();
  const secret = inputEl("offsite-secret");
  const destination = {
    name: v("offsite-name"), endpoint: v("offsite-endpoint"), region: v("offsite-region"), bucket: v("offsite-bucket"),
    prefix: v("offsite-prefix"), path_style: inputEl("offsite-path-style").checked, access_key_id: v("offsite-key-id"),
    encrypt: inputEl("offsite-encrypt").checked,
  };
  // The secret leaves the page now, whatever the answer: it is typed again if refused.
  const key = secret.value;
  secret.value = "";
  try {
    state.offsite = await ipc.addOffsite(destination, key);
    // The form back as it starts, ready for another destination.
    for (const id of ["offsite-name", "offsite-endpoint", "offsite-bucket", "offsite-prefix", "offsite-key-id"]) inputEl(id).value = "";
    inputEl("offsite-region").value = "us-east-1";
    inputEl("offsite-path-style").checked = false;
    inputEl("offsite-encrypt").checked = true;
    say((t) => [{ text: t.offsiteAdded(destination.name) }]);
    repaint("offsite", "plans");
  } catch (e) {
    say((t) => [failedLine(e, t)]);
  }
}

export function initOffsite() {
  painter("offsite", () => { renderOffsite(); renderPlanOffsite(); });
  $("offsite-form").addEventListener("submit", add);
  // Each upload is a line of the transfers drawer too; here, the one being sent.
  ipc.on(ipc.EVENTS.offsiteUpload, (u) => {
    if (u.state !== "sending") return;
    const { bytes: done, total } = u.progress;
    say((t) => [{ text: t.offsiteSending(u.destination, fileName(u.file), bytes(done), bytes(total || done)) }]);
  });
  // After a plan: a failed upload fails no download; the window says so, and what to do.
  ipc.on(ipc.EVENTS.offsiteSynced, (r) => {
    // Why not all went, in the window's words (nothing, when all did).
    const why = (/** @type {Strings} */ t) => r.code || r.message ? worded(r.code, r.message, t).text : "";
    const detail = r.message || "";
    if (r.waiting) {
      // Offsite only: the copies that did not get there wait on this computer, said with where and why.
      const words = (/** @type {Strings} */ t) => t.offsiteAfterPlanWaiting(r.name, r.waiting, r.waiting_in || "", why(t));
      say((t) => [{ text: words(t), error: true, detail }]);
      notice(() => words(state.t), true, false, detail);
    } else if (r.ok) {
      say((t) => [{ text: t.offsiteAfterPlanSent(r.name, r.uploaded) }]);
      if (r.uploaded) notice(() => state.t.offsiteAfterPlanSent(r.name, r.uploaded));
    } else {
      say((t) => [{ text: t.offsiteAfterPlanFailed(r.name, why(t)), error: true, detail }]);
      notice(() => state.t.offsiteAfterPlanFailed(r.name, why(state.t)), true, false, detail);
    }
    loadLibrary().catch(() => {});
  });
}

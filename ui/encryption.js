// Settings → where backups go: per folder, "Keep copies here encrypted", and Export
// recovery key…. Turning a folder on while no recovery key was written shows the lost-key
// warning first and goes on only when the person confirms it (the engine refuses
// otherwise). The passphrase is read from its two fields, handed to Rust (which writes the
// key where the native save dialog says) and cleared; it is never kept or shown.
import { $, dialogEl, el, inputEl, setText } from "./dom.js";
import { notice, showError } from "./notice.js";
import { repaint, state } from "./state.js";
import * as ipc from "./ipc.js";

/** A folder waiting to be turned on once a recovery key is written (from the warning). @type {string | null} */
let pending = null;
/** The folder the lost-key warning is open for. @type {string | null} */
let warned = null;

/** The fewest characters a passphrase may have, as the engine says. */
const minChars = () => (state.encryption ? state.encryption.min_passphrase_chars : 12);

export async function loadEncryption() {
  try { state.encryption = await ipc.getEncryption(); } catch { state.encryption = null; }
  repaint("settings");
}

/** A command's failure in words. @param {unknown} e */
function why(e) {
  return e && typeof e === "object" && "message" in e ? String(e.message) : String(e);
}

/** What one folder's switch shows (besides its words). @param {string} path */
function switchState(path) {
  const { encryption } = state;
  const f = encryption ? encryption.folders.find((x) => x.folder === path) : undefined;
  return { on: !!(f && f.encrypts), disabled: !encryption };
}

/** A switch drawn again only when this changed keeps its node (see `keyed`). @param {string} path */
export function switchKey(path) {
  return JSON.stringify([path, switchState(path)]);
}

/** The switch of one folder the app keeps copies in. @param {string} path */
export function encryptSwitch(path) {
  const { t } = state;
  const { on, disabled } = switchState(path);
  const box = el("input", { type: "checkbox", role: "switch", checked: on, disabled,
    "aria-label": `${t.encryptSwitch}: ${path}` });
  box.addEventListener("change", () => toggle(path, box));
  return el("label", { class: "check encrypt-switch", title: on ? t.encryptOnNote : "" }, box, el("span", { text: t.encryptSwitch }));
}

/** @param {string} path @param {HTMLInputElement} box */
function toggle(path, box) {
  const on = box.checked;
  // The switch shows what is so: it moves once the engine has done it.
  box.checked = !on;
  if (on && !(state.encryption && state.encryption.recovery_exported)) openWarning(path);
  else apply(path, on, false);
}

/** @param {string} path @param {boolean} on @param {boolean} confirmed */
async function apply(path, on, confirmed) {
  try {
    const f = await ipc.setFolderEncrypts(path, on, confirmed);
    notice(() => on ? state.t.encryptOn(f.folder, f.plain_copies) : state.t.encryptOff(f.folder, f.sealed_copies));
  } catch (e) { showError(e); }
  await loadEncryption();
}

/** The lost-key warning for `path`: Cancel, Export recovery key…, or turn it on. @param {string} path */
function openWarning(path) {
  const dlg = dialogEl("encrypt-dialog");
  warned = path;
  setText("encrypt-folder", path);
  renderDialogs();
  $("encrypt-cancel").onclick = () => dlg.close("cancel");
  $("encrypt-export").onclick = () => { dlg.close("export"); pending = path; openRecovery(); };
  dlg.onclose = () => { warned = null; if (dlg.returnValue === "encrypt") apply(path, true, true); };
  dlg.returnValue = "";
  dlg.showModal();
  $("encrypt-cancel").focus();
}

function openRecovery() {
  const dlg = dialogEl("recovery-dialog");
  renderDialogs();
  setText("recovery-check", "");
  dlg.onclose = () => { inputEl("recovery-pass").value = ""; inputEl("recovery-again").value = ""; pending = null; };
  if (!dlg.open) dlg.showModal();
  inputEl("recovery-pass").focus();
}

/** @param {SubmitEvent} ev */
async function exportRecovery(ev) {
  ev.preventDefault();
  const { t } = state;
  const pass = inputEl("recovery-pass").value, again = inputEl("recovery-again").value;
  const min = minChars();
  if ([...pass].length < min) { setText("recovery-check", t.recoveryTooShort(min)); return; }
  if (pass !== again) { setText("recovery-check", t.recoveryMismatch); return; }
  setText("recovery-check", "");
  const save = /** @type {HTMLButtonElement} */ ($("recovery-save"));
  save.disabled = true;
  try {
    const path = await ipc.exportRecoveryKey(pass);
    if (!path) return;
    const folder = pending;
    dialogEl("recovery-dialog").close("saved");
    notice(() => state.t.recoveryWritten(path));
    await loadEncryption();
    // The warning's Export recovery key…: with the key written, the folder is turned on.
    if (folder) await apply(folder, true, false);
  } catch (e) { setText("recovery-check", why(e)); }
  finally { save.disabled = false; }
}

/** The dialogs' words that depend on what they are open for, in the window's language. */
function renderDialogs() {
  const { t, encryption } = state;
  const f = encryption && warned != null ? encryption.folders.find((x) => x.folder === warned) : undefined;
  setText("encrypt-note", t.encryptNote(f ? f.plain_copies : 0));
  setText("recovery-help", t.recoveryHelp(minChars()));
}

/** Whether a recovery key was written, under the folders (and the open dialogs' words). */
export function renderRecovery() {
  const { t, encryption } = state;
  setText("recovery-state", !encryption ? "" : encryption.recovery_exported ? t.recoveryDone : t.recoveryNone);
  renderDialogs();
}

export function initEncryption() {
  $("export-recovery").addEventListener("click", () => { pending = null; openRecovery(); });
  $("recovery-form").addEventListener("submit", exportRecovery);
  $("recovery-cancel").addEventListener("click", () => dialogEl("recovery-dialog").close("cancel"));
}

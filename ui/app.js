// The window: renders state and sends intents; all HTTP and file work is in Rust. This
// module only boots: each view's module attaches its own listeners in its init, and this
// one signs in and loads the first lists.
import { pickLocale } from "./i18n.js";
import { fillIcons } from "./icons.js";
import { initMenus } from "./menu.js";
import { $, inputEl } from "./dom.js";
import { errorWords } from "./errors.js";
import { askRows, refresh } from "./actions.js";
import { initNotice, notice, showError } from "./notice.js";
import { applyLocale, applyTheme, initShell, renderSession, renderSignIn } from "./shell.js";
import { initResources } from "./resources.js";
import { initTransfers } from "./transfers.js";
import { initLibrary } from "./library.js";
import { initHistory } from "./history.js";
import { initSettings } from "./settings.js";
import { initEncryption } from "./encryption.js";
import { initOffsite, loadOffsite } from "./offsite.js";
import { initDialogs } from "./dialogs.js";
import { initDrag } from "./drag.js";
import { forgetShown, initAccounts, loadAccounts } from "./accounts.js";
import { gate, state, store } from "./state.js";
import * as ipc from "./ipc.js";

async function start() {
  // Asked first: the answer travels while the page fills in its icons and language.
  const asked = ipc.getSession();
  const system = ipc.systemLanguage().catch(() => navigator.language);
  // The views' painters are registered in the order a full repaint draws them.
  initMenus(); initNotice(); initShell();
  // A click's press and release land on the same nodes: nothing is drawn again between them.
  document.addEventListener("pointerdown", () => gate.press(), true);
  for (const ev of ["pointerup", "pointercancel"]) document.addEventListener(ev, () => gate.release(), true);
  window.addEventListener("blur", () => gate.release());
  initResources(); initTransfers(); initLibrary(); initHistory(); initSettings(); initEncryption(); initOffsite(); initDialogs(); initDrag();
  initAccounts(signedIn);
  $("sign-in-form").addEventListener("submit", signInWithKey);
  fillIcons();
  applyTheme(store.getItem("theme") || "system");
  // The user's choice, else the system's language as the tray and notifications read it.
  applyLocale(pickLocale(store.getItem("locale"), await system));
  const session = state.session = await asked;
  renderSession();
  // What the user should know from the start (a state file kept aside, a stored key that
  // could not be used), in the window's words, the Rust side's under Details.
  const notes = session.notices;
  if (notes.length) {
    const words = () => [...new Set(notes.map((n) => errorWords(n, state.t).text))].join(" ");
    notice(words, true, false, notes.map((n) => n.message).join("\n"));
  }
  if (session.signed_in) await signedIn();
}

// What a signed-in window loads once, whether the key was in the keychain or just typed:
// the saved language and theme, start at login, then the lists.
async function signedIn() {
  // The list is asked for beside the settings, not after them: the first rows show one
  // round trip sooner. Its failure is shown by the refresh that awaits it.
  /** @type {import("./actions.js").Asked} */
  const first = [askRows(), ipc.getSettings()];
  first[0].catch(() => {});
  const s = state.settings = await first[1];
  if (s.locale) applyLocale(s.locale);
  const pref = s.theme || store.getItem("theme") || "system";
  store.setItem("theme", pref); applyTheme(pref);
  ipc.getStartAtLogin().then((on) => { inputEl("start-at-login").checked = on; }).catch(() => {});
  // The offsite destinations are local (no request leaves): listed beside the first refresh.
  loadOffsite().catch(showError);
  await refresh(first);
  // The accounts this computer knows, each signed in when its key is kept (the menu, the
  // tray's "Snapshot all" and the schedule cover them all).
  await loadAccounts().catch(showError);
}

/** The sign-in form: the key goes to Rust (and the keychain) and is cleared from the page.
 * @param {SubmitEvent} ev */
async function signInWithKey(ev) {
  ev.preventDefault();
  state.signIn = "checking"; renderSignIn();
  try {
    const key = inputEl("api-key").value;
    inputEl("api-key").value = "";
    state.session = await ipc.signIn(key);
    state.signIn = null; renderSignIn();
    // An account added beside the others is the one shown now.
    if (state.adding) { state.adding = false; forgetShown(); store.setItem("allAccounts", "0"); state.allAccounts = false; }
    renderSession();
    await signedIn();
  } catch (e) {
    state.signIn = { failed: e }; renderSignIn();
    $("api-key").focus(); // ready to paste again, by keyboard too
  }
}

start().catch(showError);

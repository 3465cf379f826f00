// The header's account menu: every account this computer knows (the one shown ticked, each
// with its quota or why it is not signed in), "All accounts" (one list grouped by account),
// adding one (the sign-in form again; the others stay signed in), naming one here, removing
// one (its copies kept unless the user asks), and signing out.
import { $, button, dialogEl, el, inputEl, setText } from "./dom.js";
import { errorWords } from "./errors.js";
import { closeMenu } from "./menu.js";
import { notice, showError } from "./notice.js";
import { renderSession } from "./shell.js";
import { repaint, state, store } from "./state.js";
import * as ipc from "./ipc.js";

/** What the window held of the account it showed goes: the next one's is loaded. The
 * transfers drawer stays (each line keeps its account) and so does `owner`. */
export function forgetShown() {
  state.rows = []; state.groups = []; state.settings = null; state.library = [];
  state.plansView = null; state.runs = []; state.offsite = []; state.encryption = null;
  state.selected.clear();
}

/** Loads the accounts and draws the menu. */
export async function loadAccounts() {
  state.accounts = await ipc.listAccounts();
  // "All accounts" needs two: with one left, the list is that account's again.
  if (state.allAccounts && state.accounts.length < 2) setAll(false);
  renderAccounts();
}

/** @param {boolean} on */
function setAll(on) {
  state.allAccounts = on;
  store.setItem("allAccounts", on ? "1" : "0");
}

/** The account menu's list and the header's button. */
export function renderAccounts() {
  const { t, session, accounts } = state;
  const list = $("account-list");
  list.replaceChildren();
  list.setAttribute("aria-label", t.accountsLabel);
  const many = accounts.length > 1;
  const current = session && session.account ? session.account.id : null;
  for (const a of accounts) {
    const on = !state.allAccounts && a.id === current;
    const sub = a.signed_in && a.quota ? t.quotaChip(a.quota) : a.problem ? errorWords(a.problem, t).text : t.accountOff;
    const item = button(null, () => choose(a.id), {
      role: "menuitemradio", "aria-checked": String(on), class: "account-item",
      title: a.problem ? a.problem.message : a.server_name,
    });
    item.append(el("span", { class: "tick", "aria-hidden": "true", text: on ? "✓" : "" }),
      el("span", { class: "account-text" }, el("span", { class: "account-label", text: a.name }), el("span", { class: "sub", text: sub })));
    list.append(item);
  }
  if (many) {
    const all = button(null, () => chooseAll(), { role: "menuitemradio", "aria-checked": String(state.allAccounts), class: "account-item" });
    all.append(el("span", { class: "tick", "aria-hidden": "true", text: state.allAccounts ? "✓" : "" }),
      el("span", { class: "account-text" }, el("span", { class: "account-label", text: t.allAccounts })));
    list.append(all);
  }
  list.hidden = accounts.length === 0;
  $("account-rename").hidden = !current;
  $("account-remove").hidden = !current;
  renderHeaderName();
}

/** The header's button: the account shown, or "All accounts". */
export function renderHeaderName() {
  const { t, session } = state;
  if (!session || !session.account) return;
  const name = state.allAccounts ? t.allAccounts : session.account.name;
  setText("account-name", name);
  $("account-button").setAttribute("aria-label", `${t.account}: ${name}`);
  // Each account's quota is in its group's heading: the header's would be one of them.
  $("quota-chip").hidden = state.allAccounts;
}

/** Loads what the window shows for the account now shown (set by app.js: the same path as
 * after signing in). @type {() => Promise<void>} */
let reload = async () => {};

/** Loads again what the window shows for the account shown now. */
export const reloadShown = () => reload();

/** @param {string} id */
async function choose(id) {
  closeMenu(true);
  const same = state.session && state.session.account && state.session.account.id === id;
  setAll(false);
  if (same) { renderAccounts(); await reload(); return; }
  try {
    state.session = await ipc.switchAccount(id);
    forgetShown();
    renderSession();
    await reload();
  } catch (e) { showError(e); }
}

async function chooseAll() {
  closeMenu(true);
  setAll(true);
  renderAccounts();
  await reload();
}

/** The sign-in form, to add one more account; Cancel goes back. */
function startAdding() {
  closeMenu(false);
  state.adding = true;
  inputEl("api-key").value = "";
  renderSession();
}

function renameDialog() {
  const { t, session } = state;
  const a = state.accounts.find((x) => session && session.account && x.id === session.account.id);
  if (!a) return;
  closeMenu(false);
  const dlg = dialogEl("rename-dialog");
  setText("rename-help", t.renameHelp(a.server_name));
  inputEl("rename-input").value = a.name === a.server_name ? "" : a.name;
  inputEl("rename-input").placeholder = a.server_name;
  dlg.onclose = async () => {
    $("account-button").focus();
    if (dlg.returnValue !== "rename") return;
    const label = inputEl("rename-input").value.trim();
    try {
      await ipc.renameAccount(a.id, label || null);
      const shown = label || a.server_name;
      if (state.session && state.session.account) state.session.account.name = shown;
      notice(() => state.t.renamed(shown));
      await loadAccounts();
      await reload();
    } catch (e) { showError(e); }
  };
  dlg.returnValue = "";
  dlg.showModal();
  inputEl("rename-input").focus();
}

function removeDialog() {
  const { t, session } = state;
  const a = state.accounts.find((x) => session && session.account && x.id === session.account.id);
  if (!a) return;
  closeMenu(false);
  const dlg = dialogEl("remove-dialog");
  setText("remove-title", t.removeTitle(a.name));
  // Keeping the copies is the default, every time the dialog opens.
  inputEl("remove-keep").checked = true;
  dlg.onclose = async () => {
    $("account-button").focus();
    if (dlg.returnValue !== "remove") return;
    try {
      const done = await ipc.removeAccount(a.id, inputEl("remove-delete").checked);
      notice(() => state.t.removed(a.name, done.deleted, done.skipped));
      state.session = done.session;
      forgetShown();
      renderSession();
      if (done.session.signed_in) { await loadAccounts(); await reload(); }
    } catch (e) { showError(e); }
  };
  dlg.returnValue = "";
  dlg.showModal();
  $("remove-cancel").focus();
}

/** A folder refused because another account keeps copies there (`folder_shared`): the
 * user is asked, and only a "Use it anyway" sets it. Resolves to the folder set, or null
 * (cancelled, or another failure, which is shown).
 * @param {unknown} e @param {string | null} resource @returns {Promise<string | null>} */
export function confirmShared(e, resource) {
  const f = /** @type {ipc.UiError} */ (e);
  if (!f || typeof f !== "object" || f.code !== "folder_shared" || !f.path) { showError(e); return Promise.resolve(null); }
  const path = f.path;
  const dlg = dialogEl("shared-dialog");
  setText("shared-folder", path); setText("shared-who", f.message);
  return new Promise((done) => {
    dlg.onclose = async () => {
      if (dlg.returnValue !== "use") { done(null); return; }
      try { done(await ipc.setDestination(resource, path, true)); } catch (err) { showError(err); done(null); }
    };
    dlg.returnValue = "";
    dlg.showModal();
    $("shared-cancel").focus();
  });
}

/** @param {() => Promise<void>} load what a signed-in window loads */
export function initAccounts(load) {
  reload = load;
  state.allAccounts = store.getItem("allAccounts") === "1";
  $("account-add").addEventListener("click", startAdding);
  $("account-rename").addEventListener("click", renameDialog);
  $("account-remove").addEventListener("click", removeDialog);
  $("rename-cancel").addEventListener("click", () => dialogEl("rename-dialog").close());
  $("remove-cancel").addEventListener("click", () => dialogEl("remove-dialog").close());
  $("shared-cancel").addEventListener("click", () => dialogEl("shared-dialog").close());
  $("sign-in-cancel").addEventListener("click", () => { state.adding = false; state.signIn = null; renderSession(); repaint(); });
  // A resource's commands go to its account's engine.
  ipc.routeBy((id) => (id ? state.owner.get(id) || null : null));
}

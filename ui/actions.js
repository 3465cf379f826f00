// Loading what the views show, and the intents more than one view sends (a folder chosen).
import { notice, showError } from "./notice.js";
import { repaint, state } from "./state.js";
import { loadEncryption } from "./encryption.js";
import { confirmShared } from "./accounts.js";
import * as ipc from "./ipc.js";

// Refreshes never overlap: one asked for while another runs makes it run once more after,
// so an older answer never lands over a newer one (a row would lose its last backup).
/** @type {Promise<void> | null} */
let refreshing = null;
let refreshAgain = false;

/** The list and settings already asked for (at sign-in), used by a refresh's first pass.
 * @typedef {[Promise<ipc.ResourceRow[]>, Promise<ipc.SettingsView>]} Asked */

/** The rows the list shows, each with its account: the account shown, or with "All
 * accounts" every signed-in account's, in their order (an account that could not be
 * listed is kept in `state.groups` with why). Every row's account is remembered, so its
 * commands go to its engine. @returns {Promise<ipc.ResourceRow[]>} */
export async function askRows() {
  if (state.allAccounts) {
    const groups = await ipc.listAllResources();
    state.groups = groups;
    return groups.flatMap((g) => g.rows.map((r) => own({ ...r, account: { id: g.id, name: g.name } })));
  }
  const rows = await ipc.listResources();
  state.groups = [];
  const a = state.session && state.session.account;
  return a ? rows.map((r) => own({ ...r, account: { id: a.id, name: a.name } })) : rows;
}

/** @param {ipc.ResourceRow} r */
function own(r) {
  if (r.account) state.owner.set(r.id, r.account.id);
  return r;
}

/** Loads everything again and draws it. @param {Asked | null} [asked] */
export function refresh(asked) {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    do { refreshAgain = false; await refreshOnce(asked); asked = null; } while (refreshAgain);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

/** @param {Asked | null | undefined} asked */
async function refreshOnce(asked) {
  try {
    const [r, s] = await Promise.all(asked || [askRows(), ipc.getSettings()]);
    state.rows = r; state.settings = s;
    for (const id of [...state.selected]) if (!r.some((x) => x.id === id)) state.selected.delete(id);
    repaint("rows", "banner", "settings");
    // The first list: a User Timing mark (`make bench` waits for it), and once it is painted
    // the log says how long the start took.
    if (r.length && !performance.getEntriesByName("rows-shown").length) {
      performance.mark("rows-shown");
      requestAnimationFrame(() => setTimeout(() => ipc.listShown().catch(() => {})));
    }
    await loadLibrary();
    await loadEncryption();
    const [p, h] = await Promise.all([ipc.listPlans(), ipc.listHistory()]);
    state.plansView = p; state.runs = h;
    repaint("plans", "history");
    learnNewest();
  } catch (e) { showError(e); }
}

/** The files on this computer (local and quick). */
export async function loadLibrary() {
  state.library = await ipc.listLibrary(null);
  repaint("library");
}

// When each resource's newest server snapshot was taken (for "Newest first") is learnt after
// the rows show: on a plan without the account-wide listing that is one listing per
// resource, minutes for a large account. The rows are drawn again when it changed; a
// failure leaves the order as it was and the next refresh tries again.
let learning = false;
function learnNewest() {
  if (learning) return;
  learning = true;
  ipc.refreshNewest().then(
    (changed) => { learning = false; if (changed) refresh(); },
    () => { learning = false; });
}

/** The folder picker, for a resource or (null) the default folder. @param {string | null} resource */
export async function chooseFolder(resource) {
  try {
    const p = await ipc.pickDestination(resource).catch((e) => confirmShared(e, resource));
    if (p) { notice(() => state.t.folderSet(p)); await refresh(); }
  } catch (e) { showError(e); }
}

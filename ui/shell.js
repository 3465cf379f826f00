// The window around the views: theme and language, the header (account, quota), the
// sidebar's tabs, and signing out.
import { strings } from "./i18n.js";
import { clock, time } from "./format.js";
import { closeMenu, isOpen, openMenu } from "./menu.js";
import { $, fillSelect, selectEl, setDetail, setText } from "./dom.js";
import { errorWords } from "./errors.js";
import { renderNotice } from "./notice.js";
import { lang, manyAccounts, repaint, state, store } from "./state.js";
import { forgetShown, reloadShown, renderAccounts, renderHeaderName } from "./accounts.js";
import * as ipc from "./ipc.js";

/** "light", "dark" or "system" (or nothing: the system's). @param {string | null} pref */
export function applyTheme(pref) {
  const dark = pref === "dark" || (pref !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  selectEl("theme").value = pref || "system";
}

/** Every word of the page in `locale`, then every view drawn again. @param {string} locale */
export function applyLocale(locale) {
  const t = state.t = /** @type {Record<string, import("./state.js").Strings>} */ (strings)[locale] || strings.en;
  const { session } = state;
  document.documentElement.lang = locale;
  // The tray speaks the window's language.
  ipc.setLanguage(locale).catch(() => {});
  selectEl("locale").value = locale; selectEl("locale-signin").value = locale;
  const texts = {
    "sign-in-title": t.signInTitle, "sign-in-help": t.signInHelp, "key-label": t.keyLabel, "sign-in": t.signIn,
    "sign-out": t.signOut, "account-add": t.addAccount, "account-rename": t.renameAccount,
    "account-remove": t.removeAccount, "sign-in-cancel": t.cancel,
    "rename-title": t.renameTitle, "rename-label": t.renameLabel, "rename-cancel": t.cancel, "rename-save": t.renameSave,
    "remove-help": t.removeHelp, "remove-copies-legend": t.removeCopies, "remove-keep-label": t.removeKeep,
    "remove-delete-label": t.removeDelete, "remove-cancel": t.cancel, "remove-confirm": t.removeGo,
    "shared-title": t.sharedTitle, "shared-text": t.sharedText, "shared-cancel": t.cancel, "shared-confirm": t.sharedGo,
    "locale-signin-label": t.language, "locale-label": t.language, "theme-label": t.themeLabel,
    "tab-resources-label": t.tabResources, "tab-library-label": t.tabLibrary, "tab-history-label": t.tabHistory, "tab-settings-label": t.tabSettings,
    "first-run-title": t.firstRunTitle, "first-run-text": t.firstRunText, "first-run-choose": t.choose, "first-run-skip": t.firstRunSkip,
    "choose-folder": t.choose, "drop-hint": t.dropHint, "folder-title": t.folderTitle, "own-folders-title": t.ownFoldersTitle,
    "prune": t.prune, "keep-last-label": t.keepLast, "keep-days-label": t.keepDays, "library-title": t.library,
    "transfers-title": t.transfers, "cancel-all": t.cancelAll, "pause-toggle": state.queuePaused ? t.resume : t.pause,
    "plans-title": t.plans, "notify-success-label": t.notifySuccess, "reserve-label": t.reserveLabel,
    "metered-label": t.meteredLabel, "start-at-login-label": t.startAtLogin, "close-to-tray-label": t.closeToTray,
    "behaviour-title": t.behaviourTitle, "downloads-title": t.downloadsTitle, "connections-label": t.connectionsLabel,
    "limit-rate-label": t.limitRateLabel, "downloads-note": t.downloadsNote, "look-title": t.lookTitle, "history-title": t.history, "session-title": t.sessionTitle,
    "plan-name-label": t.planName, "plan-kind-label": t.planKind, "plan-scope-label": t.planScope, "plan-when-label": t.planWhen,
    "plan-keep-label": t.planKeep, "plan-add": t.addPlan, "restore-version-label": t.restoreVersion,
    "restore-cancel": t.cancel, "restore-confirm": t.restoreGo, "versions-cancel": t.cancel, "versions-download": t.downloadGo,
    "versions-help": t.versionsHelp, "menu-download": t.download, "menu-versions": t.versions, "menu-restore": t.restore,
    "menu-putback": t.putBack, "putback-copy-label": t.putBackCopy, "putback-pick": t.putBackPick,
    "putback-note": t.putBackNote, "putback-first-label": t.putBackFirst, "putback-restart-label": t.putBackRestart,
    "putback-cancel": t.cancel, "putback-confirm": t.putBackGo,
    "offsite-title": t.offsiteTitle, "offsite-help": t.offsiteHelp, "offsite-name-label": t.offsiteName,
    "offsite-endpoint-label": t.offsiteEndpoint, "offsite-region-label": t.offsiteRegion, "offsite-bucket-label": t.offsiteBucket,
    "offsite-prefix-label": t.offsitePrefix, "offsite-path-style-label": t.offsitePathStyle, "offsite-key-id-label": t.offsiteKeyId,
    "offsite-secret-label": t.offsiteSecret, "offsite-encrypt-label": t.offsiteEncrypt, "offsite-encrypt-note": t.offsiteEncryptNote,
    "offsite-add": t.offsiteAdd, "plan-offsite-label": t.planOffsite,
    "menu-open": t.open, "menu-folder": t.otherFolder, "demo-banner": t.demo,
    "recovery-title": t.recoveryTitle, "export-recovery": t.recoveryExport, "encrypt-title": t.encryptTitle,
    "encrypt-warning": t.encryptWarning, "encrypt-cancel": t.cancel, "encrypt-export": t.recoveryExport,
    "encrypt-confirm": t.encryptConfirm, "recovery-dialog-title": t.recoveryTitle, "recovery-pass-label": t.recoveryPass,
    "recovery-again-label": t.recoveryAgain, "recovery-cancel": t.cancel, "recovery-save": t.recoverySave,
    "restore-first-label": t.restoreFirst(session && session.quota ? session.quota.remaining : 0),
  };
  for (const [id, text] of Object.entries(texts)) setText(id, text);
  const labels = {
    "search": t.search, "sort": t.sortLabel, "select-all": t.selectAll, "settings-button": t.settings,
    "notice-close": t.dismissNotice, "plan-hours": t.hoursLabel, "plan-at": t.atLabel, "plan-weekday": t.weekdayLabel,
    "plan-keep-n": t.keepNLabel, "quota-meter": t.quotaLabel, "resources": t.resourcesLabel, "row-menu": t.more,
  };
  for (const [id, text] of Object.entries(labels)) $(id).setAttribute("aria-label", text);
  $("sidebar").setAttribute("aria-label", t.sections);
  /** @type {HTMLInputElement} */ ($("search")).placeholder = t.search;
  $("quota-estimated").title = t.estimatedNote; $("quota-estimated").setAttribute("aria-label", t.estimatedNote);
  fillSelect(selectEl("sort"), [["name", t.sortName], ["newest", t.sortNewest], ["ram", t.sortRam]]);
  fillSelect(selectEl("theme"), Object.entries(t.themes));
  fillSelect(selectEl("connections"), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [String(n), String(n)]));
  selectEl("theme").value = store.getItem("theme") || "system";
  for (const [id, opts] of [["plan-kind", t.kinds], ["plan-scope", t.scopes], ["plan-when", t.whens], ["plan-keep", t.keeps]]) {
    fillSelect(selectEl(/** @type {string} */ (id)), Object.entries(opts));
  }
  fillSelect(selectEl("plan-weekday"), t.weekdays.map((d, i) => [String(i), d]));
  if (session) { renderSession(); renderAccounts(); }
  renderSignIn();
  repaint(); renderNotice();
}

/** The sign-in form's answer: checking the key, or why it was refused in the window's words
 * (the Rust side's, with the server's answer, under Details). */
export function renderSignIn() {
  const { t, signIn } = state;
  const { text, detail } = signIn === "checking" ? { text: t.checking, detail: "" }
    : signIn ? errorWords(signIn.failed, t) : { text: "", detail: "" };
  setText("sign-in-error", text);
  setDetail("sign-in-detail", detail, t.details);
}

// ---- Session, header, quota ----

export function renderSession() {
  const { session, t } = state;
  const on = !!(session && session.signed_in);
  // Adding an account shows the sign-in form over the window, with a way back.
  const form = !on || state.adding;
  if (!on) state.adding = false;
  $("demo-banner").hidden = !(session && session.demo);
  $("sign-in-view").hidden = !form;
  $("main-view").hidden = form;
  $("account-area").hidden = !on;
  $("sign-in-cancel").hidden = !state.adding;
  setText("sign-in-title", state.adding ? t.addAccountTitle : t.signInTitle);
  setText("sign-in-help", state.adding ? t.addAccountHelp : t.signInHelp);
  if (form || !session || !session.account) { repaint("transfers"); $("api-key").focus(); return; }
  renderHeaderName();
  setText("account-plan", t.planLine(session.account.plan, session.account.memory_mb));
  // With several accounts, the views of one account (its copies, its history, its folders)
  // say whose they are, in "All accounts" too.
  const whose = manyAccounts() ? ` · ${session.account.name}` : "";
  setText("library-title", t.library + whose); setText("history-title", t.history + whose);
  setText("folder-title", t.folderTitle + whose); setText("plans-title", t.plans + whose);
  renderQuota(session.quota);
  showView(state.view, false);
}

/** @param {import("./ipc.js").QuotaStatus | null} q */
export function renderQuota(q) {
  if (!q) return;
  const { t } = state;
  const parts = [t.quotaChip(q)];
  if (q.next_free_at && q.used > 0) parts.push(t.nextAt(clock(q.next_free_at, lang())));
  setText("quota-text", parts.join(" · "));
  // A shared application's snapshots count against this account's quota: the tooltip says so.
  const shared = state.rows.some((r) => r.workspace) ? t.sharedQuota : "";
  $("quota-chip").title = [q.next_free_at && q.used > 0 ? time(q.next_free_at) : "", shared].filter(Boolean).join("\n");
  $("quota-chip").classList.toggle("none-left", q.remaining === 0);
  $("quota-estimated").hidden = !q.used_is_estimate;
  $("quota-bar").style.width = `${q.total ? (100 * q.remaining) / q.total : 0}%`;
  $("quota-meter").setAttribute("aria-valuemax", String(q.total));
  $("quota-meter").setAttribute("aria-valuenow", String(q.remaining));
  $("quota-meter").setAttribute("aria-valuetext", t.quotaChip(q));
}

// ---- Views (sidebar tabs) ----

/** @type {(typeof state.view)[]} */
const views = ["resources", "library", "history", "settings"];

/** @param {typeof state.view} name @param {boolean} [focusTab] */
export function showView(name, focusTab = false) {
  state.view = name;
  for (const v of views) {
    const tab = $(`tab-${v}`), on = v === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${v}`).hidden = !on;
    if (on && focusTab) tab.focus();
  }
}

export function initShell() {
  window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(store.getItem("theme") || "system"));
  $("account-button").addEventListener("click", () => {
    if (isOpen($("account-menu"))) closeMenu(true); else openMenu($("account-menu"), $("account-button"));
  });
  $("settings-button").addEventListener("click", () => showView("settings"));
  $("sign-out").addEventListener("click", async () => {
    closeMenu(false);
    state.session = await ipc.signOut();
    // Another account signed in in this run is shown next; with none, the sign-in form.
    forgetShown();
    if (!state.session.signed_in) { state.transfers.clear(); state.finished.length = 0; state.cleared = 0; state.owner.clear(); }
    renderSession();
    if (state.session.signed_in) await reloadShown();
  });
  for (const v of views) $(`tab-${v}`).addEventListener("click", () => showView(v));
  $("tabs").addEventListener("keydown", (ev) => {
    const i = views.indexOf(state.view);
    const next = /** @type {Record<string, number>} */ ({ ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: views.length - 1 })[ev.key];
    if (next == null) return;
    ev.preventDefault();
    showView(views[(next + views.length) % views.length], true);
  });
}

// The window: renders state and sends intents. All HTTP and file work is in Rust.
import { strings, pickLocale } from "./i18n.js";
import { bytes, duration, relative, time, clock, day, sortRows } from "./format.js";
import { icon, fillIcons } from "./icons.js";
import { openMenu, closeMenu, isOpen, followButton } from "./menu.js";
import { restoreDialog } from "./restore.js";

const { invoke, Channel } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;
const $ = (id) => document.getElementById(id);
const lang = () => document.documentElement.lang;
const store = window.localStorage;

let t = strings.en;
let session = null;
let settings = null;
let queuePaused = false;
let view = "resources";
let rows = [];
let library = [];
let plansView = null;
let runs = [];
let menuRow = null; // the row whose "⋯" menu is open
let drag = null; // { ok, message } while something is dragged over the window
const selected = new Set(); // resource ids ticked by the user; survives re-renders
const transfers = new Map(); // resource id -> { name, kind, last, progress, retry }
const finished = []; // done in this session, newest first: { id, name, path, at }
let cleared = 0; // how many of `finished` the drawer no longer counts (Clear)
const damaged = new Set(); // library files that failed Verify in this session

function setText(id, text) { const el = $(id); if (el) el.textContent = text; }
function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("aria-") || k === "role" || k === "title" || k === "tabindex") { if (v != null) e.setAttribute(k, v); }
    else e[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}
function button(label, onClick, props = {}) {
  const b = el("button", { type: "button", ...props });
  if (label != null) b.append(label);
  b.addEventListener("click", onClick);
  return b;
}
// A relative time with the exact one on hover.
function when(iso, words = (r) => r) {
  return el("span", { text: words(relative(iso, lang())), title: time(iso) });
}

// ---- Theme and language ----

function applyTheme(pref) {
  const dark = pref === "dark" || (pref !== "light" && window.matchMedia("(prefers-color-scheme: dark)").matches);
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  $("theme").value = pref || "system";
}
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => applyTheme(store.getItem("theme") || "system"));

function fillSelect(sel, options) {
  const keep = sel.value;
  sel.innerHTML = "";
  for (const [v, label] of options) sel.append(el("option", { value: v, text: label }));
  if (keep && options.some(([v]) => v === keep)) sel.value = keep;
}

function applyLocale(locale) {
  t = strings[locale] || strings.en;
  document.documentElement.lang = locale;
  $("locale").value = locale; $("locale-signin").value = locale;
  const texts = {
    "sign-in-title": t.signInTitle, "sign-in-help": t.signInHelp, "key-label": t.keyLabel, "sign-in": t.signIn,
    "sign-out": t.signOut, "locale-signin-label": t.language, "locale-label": t.language, "theme-label": t.themeLabel,
    "tab-resources-label": t.tabResources, "tab-library-label": t.tabLibrary, "tab-history-label": t.tabHistory, "tab-settings-label": t.tabSettings,
    "first-run-title": t.firstRunTitle, "first-run-text": t.firstRunText, "first-run-choose": t.choose, "first-run-skip": t.firstRunSkip,
    "choose-folder": t.choose, "drop-hint": t.dropHint, "folder-title": t.folderTitle, "own-folders-title": t.ownFoldersTitle,
    "prune": t.prune, "keep-last-label": t.keepLast, "keep-days-label": t.keepDays, "library-title": t.library,
    "transfers-title": t.transfers, "cancel-all": t.cancelAll, "pause-toggle": queuePaused ? t.resume : t.pause,
    "plans-title": t.plans, "notify-success-label": t.notifySuccess, "reserve-label": t.reserveLabel,
    "metered-label": t.meteredLabel, "start-at-login-label": t.startAtLogin, "close-to-tray-label": t.closeToTray,
    "behaviour-title": t.behaviourTitle, "downloads-title": t.downloadsTitle, "connections-label": t.connectionsLabel,
    "limit-rate-label": t.limitRateLabel, "downloads-note": t.downloadsNote, "look-title": t.lookTitle, "history-title": t.history, "session-title": t.sessionTitle,
    "plan-name-label": t.planName, "plan-kind-label": t.planKind, "plan-scope-label": t.planScope, "plan-when-label": t.planWhen,
    "plan-keep-label": t.planKeep, "plan-add": t.addPlan, "restore-version-label": t.restoreVersion,
    "restore-cancel": t.cancel, "restore-confirm": t.restoreGo, "versions-cancel": t.cancel, "versions-download": t.downloadGo,
    "versions-help": t.versionsHelp, "menu-download": t.download, "menu-versions": t.versions, "menu-restore": t.restore,
    "menu-open": t.open, "menu-folder": t.otherFolder, "demo-banner": t.demo,
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
  $("search").placeholder = t.search;
  $("quota-estimated").title = t.estimatedNote; $("quota-estimated").setAttribute("aria-label", t.estimatedNote);
  fillSelect($("sort"), [["name", t.sortName], ["newest", t.sortNewest], ["ram", t.sortRam]]);
  fillSelect($("theme"), Object.entries(t.themes));
  fillSelect($("connections"), [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [String(n), String(n)]));
  $("theme").value = store.getItem("theme") || "system";
  for (const [id, opts] of [["plan-kind", t.kinds], ["plan-scope", t.scopes], ["plan-when", t.whens], ["plan-keep", t.keeps]]) fillSelect($(id), Object.entries(opts));
  fillSelect($("plan-weekday"), t.weekdays.map((d, i) => [String(i), d]));
  planFormFields();
  if (session) renderSession();
  renderAll(); renderNotice();
}

function renderAll() {
  renderRows(); renderBanner(); renderTransfers(); renderLibrary(); renderHistory(); renderPlans(); renderSettings();
}

// ---- Notices ----

// Errors and states (paused) stay until dismissed or changed; other news fades after 10 s.
// `what` is words, or a function of the language that makes them (so a switch re-words it).
let noticeTimer = null;
let noticeWhat = "";
function notice(what, isError = false, sticky = false) {
  clearTimeout(noticeTimer);
  noticeWhat = what;
  if (what && !isError && !sticky) noticeTimer = setTimeout(() => notice(""), 10000);
  $("notice").hidden = !what;
  renderNotice();
  $("notice").classList.toggle("error", isError);
}
function renderNotice() { setText("notice-text", typeof noticeWhat === "function" ? noticeWhat() : noticeWhat || ""); }
function showError(e) { notice(e && e.message ? e.message : String(e), true); }
$("notice-close").addEventListener("click", () => notice(""));

// ---- Session, header, quota ----

function renderSession() {
  const on = !!(session && session.signed_in);
  $("demo-banner").hidden = !(session && session.demo);
  $("sign-in-view").hidden = on;
  $("main-view").hidden = !on;
  $("account-area").hidden = !on;
  if (!on) { renderTransfers(); $("api-key").focus(); return; }
  setText("account-name", session.account.name);
  $("account-button").setAttribute("aria-label", `${t.account}: ${session.account.name}`);
  setText("account-plan", t.planLine(session.account.plan, session.account.memory_mb));
  renderQuota(session.quota);
  showView(view, false);
}

function renderQuota(q) {
  if (!q) return;
  const parts = [t.quotaChip(q)];
  if (q.next_free_at && q.used > 0) parts.push(t.nextAt(clock(q.next_free_at, lang())));
  setText("quota-text", parts.join(" · "));
  $("quota-chip").title = q.next_free_at && q.used > 0 ? time(q.next_free_at) : "";
  $("quota-chip").classList.toggle("none-left", q.remaining === 0);
  $("quota-estimated").hidden = !q.used_is_estimate;
  $("quota-bar").style.width = `${q.total ? (100 * q.remaining) / q.total : 0}%`;
  $("quota-meter").setAttribute("aria-valuemax", q.total);
  $("quota-meter").setAttribute("aria-valuenow", q.remaining);
  $("quota-meter").setAttribute("aria-valuetext", t.quotaChip(q));
}

$("account-button").addEventListener("click", () => {
  if (isOpen($("account-menu"))) closeMenu(true); else openMenu($("account-menu"), $("account-button"));
});
$("settings-button").addEventListener("click", () => showView("settings"));
$("sign-out").addEventListener("click", async () => {
  closeMenu(false);
  session = await invoke("sign_out");
  rows = []; transfers.clear(); finished.length = 0; cleared = 0; settings = null;
  renderSession();
});

// ---- Views (sidebar tabs) ----

const views = ["resources", "library", "history", "settings"];
function showView(name, focusTab = false) {
  view = name;
  for (const v of views) {
    const tab = $(`tab-${v}`), on = v === name;
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`view-${v}`).hidden = !on;
    if (on && focusTab) tab.focus();
  }
}
for (const v of views) $(`tab-${v}`).addEventListener("click", () => showView(v));
$("tabs").addEventListener("keydown", (ev) => {
  const i = views.indexOf(view);
  const next = { ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: views.length - 1 }[ev.key];
  if (next == null) return;
  ev.preventDefault();
  showView(views[(next + views.length) % views.length], true);
});

// ---- Resources ----

function firstRun() {
  return !!settings && !settings.default_dest && store.getItem("firstRunSkipped") !== "1";
}

function renderToolbar() {
  const n = rows.filter((r) => selected.has(r.id)).length;
  setText("snapshot-all", n ? t.snapshotSelected(n) : t.snapshotAll);
  const all = shown.length > 0 && shown.every((r) => selected.has(r.id));
  $("select-all").checked = all;
  $("select-all").indeterminate = !all && shown.some((r) => selected.has(r.id));
}

// ---- The list of resources ----
// Only the rows in view, and a few either side, are in the page: a new order, a search or
// "tick all" over 1,000 resources sorts 1,000 but builds, moves and styles about 40, so it
// draws in one frame. Spacers above and below stand for the rest, so the scroll bar is the
// whole list's; each row says its place (aria-posinset / aria-setsize), so a screen reader
// hears "12 of 1,000". Tab moves through the rows as before: a focused row is scrolled into
// view, and the rows after it are drawn before the next key.
const OVERSCAN = 12; // rows drawn beyond each edge of the view
const ROW_GUESS = 46; // px, for a row not measured yet (the rows' min-height in style.css)
let shown = []; // the rows after search and sort, in order
const rowCache = new Map(); // id -> { key, li }: a row is rebuilt only when it changed
const rowHeight = new Map(); // id -> measured px, at the list's current width
let listWidth = -1;
let rowGuess = ROW_GUESS; // the mean of the measured rows
const padAbove = el("li", { class: "pad", "aria-hidden": "true" });
const padBelow = el("li", { class: "pad", "aria-hidden": "true" });

let rowsStale = false;
function renderRows() {
  $("first-run").hidden = !firstRun();
  $("resources-pane").hidden = firstRun();
  // Not under an open "⋯" menu: it re-renders when the menu closes.
  if (isOpen($("row-menu"))) { rowsStale = true; return; }
  rowsStale = false;
  shown = sortRows(rows, $("sort").value, $("search").value);
  const present = new Set(rows.map((r) => r.id));
  for (const id of [...rowCache.keys()]) if (!present.has(id)) { rowCache.delete(id); rowHeight.delete(id); }
  paintRows();
  renderToolbar();
}

const heightOf = (r) => rowHeight.get(r.id) ?? rowGuess;
// The height of the shown rows [a, b): measured, or guessed.
function heightOfRows(a, b) {
  let h = 0;
  for (let i = a; i < b; i++) h += heightOf(shown[i]);
  return h;
}

// Draws the rows that the scroll position shows, reusing every row already built.
function paintRows() {
  const list = $("resources");
  if (list.clientWidth !== listWidth) { listWidth = list.clientWidth; rowHeight.clear(); }
  // A refresh keeps the keyboard focus where it was.
  const focused = list.contains(document.activeElement) && document.activeElement !== list
    ? document.activeElement.getAttribute("aria-label") : null;
  const top = list.scrollTop, height = list.clientHeight || window.innerHeight;
  let first = 0, y = 0;
  while (first < shown.length && y + heightOf(shown[first]) <= top) y += heightOf(shown[first++]);
  let last = first, bottom = y;
  while (last < shown.length && bottom < top + height) bottom += heightOf(shown[last++]);
  const from = Math.max(0, first - OVERSCAN), to = Math.min(shown.length, last + OVERSCAN);
  // A row whose data, language and minute are unchanged is reused, and only the rows out
  // of place are moved. The tick box is set from the selection each time (a person may
  // have changed it since it was built).
  const minute = Math.floor(Date.now() / 60000);
  const want = [padAbove];
  for (let i = from; i < to; i++) {
    const r = shown[i];
    const key = `${JSON.stringify(r)}|${lang()}|${minute}`;
    let c = rowCache.get(r.id);
    if (!c || c.key !== key) { c = { key, li: buildRow(r) }; rowCache.set(r.id, c); }
    const li = c.li;
    li.querySelector("input.pick").checked = selected.has(r.id);
    if (li.getAttribute("aria-posinset") !== String(i + 1)) li.setAttribute("aria-posinset", i + 1);
    if (li.getAttribute("aria-setsize") !== String(shown.length)) li.setAttribute("aria-setsize", shown.length);
    li.classList.toggle("end", i === shown.length - 1);
    want.push(li);
  }
  want.push(padBelow);
  // Rows leaving go first, so that a scroll only adds and removes at the ends and moves no
  // row (a moved row would lose the keyboard focus).
  const keep = new Set(want);
  for (const c of [...list.children]) if (!keep.has(c)) c.remove();
  let at = list.firstChild;
  for (const li of want) {
    if (at === li) at = at.nextSibling;
    else list.insertBefore(li, at);
  }
  // Measure what was drawn (one layout of ~40 rows; not while the list is hidden), then
  // size the spacers with what was learnt. If that moves the first row in view (rows above
  // it taller or shorter than guessed), the scroll moves as much, so what is in view stays.
  const visible = list.clientWidth > 0;
  if (visible) {
    for (let i = from; i < to; i++) rowHeight.set(shown[i].id, rowCache.get(shown[i].id).li.offsetHeight);
    rowGuess = [...rowHeight.values()].reduce((a, b) => a + b, 0) / rowHeight.size || ROW_GUESS;
  }
  padAbove.style.height = `${heightOfRows(0, from)}px`;
  padBelow.style.height = `${heightOfRows(to, shown.length)}px`;
  const firstTop = heightOfRows(0, first);
  if (visible && first < shown.length && Math.abs(firstTop - y) >= 1) list.scrollTop += firstTop - y;
  if (focused && !list.contains(document.activeElement)) {
    let back = null;
    for (const b of list.querySelectorAll("[aria-label]")) if (b.getAttribute("aria-label") === focused) { back = b; break; }
    // Its row scrolled out of the page: the focus stays in the list, not lost to the window.
    (back || list).focus({ preventScroll: !back });
  }
}

// The row of a resource, scrolled to and drawn if it was not (a search hiding it is cleared).
function revealRow(id) {
  const list = $("resources");
  let i = shown.findIndex((r) => r.id === id);
  if (i < 0 && rows.some((r) => r.id === id) && $("search").value) {
    $("search").value = ""; renderRows();
    i = shown.findIndex((r) => r.id === id);
  }
  if (i < 0) return null;
  const sel = `li.row[data-id="${CSS.escape(id)}"]`;
  let li = list.querySelector(sel);
  if (!li) {
    list.scrollTop = Math.max(0, heightOfRows(0, i) - (list.clientHeight - heightOf(shown[i])) / 2);
    paintRows();
    li = list.querySelector(sel);
  }
  return li;
}

// Scrolling moves a row's menu with its row, or closes it once the row leaves the view, and
// draws the rows coming into view, once a frame.
let paintQueued = false;
$("resources").addEventListener("scroll", () => {
  if (isOpen($("row-menu"))) followButton($("resources").getBoundingClientRect());
  if (paintQueued) return;
  paintQueued = true;
  requestAnimationFrame(() => { paintQueued = false; if (!isOpen($("row-menu"))) paintRows(); });
});
new ResizeObserver(() => { if (!isOpen($("row-menu"))) paintRows(); }).observe($("resources"));
// Tab to a row shows the whole row (its name with its buttons), and the rows after it are
// drawn at once, before the next key however quickly it comes. Not for a press of the
// pointer: the focus comes with the press, and scrolling then would move the button from
// under the pointer before the release, and the click would be lost.
let pressing = false;
$("resources").addEventListener("pointerdown", () => { pressing = true; }, true);
for (const end of ["pointerup", "pointercancel"]) document.addEventListener(end, () => { pressing = false; }, true);
$("resources").addEventListener("focusin", (ev) => {
  const li = ev.target.closest("li.row");
  if (!li || isOpen($("row-menu"))) return;
  if (!pressing) li.scrollIntoView({ block: "nearest" });
  paintRows();
});

function buildRow(r) {
  const li = el("li", { class: "row" });
  li.dataset.id = r.id;
  const cb = el("input", { type: "checkbox", class: "pick", checked: selected.has(r.id), "aria-label": r.name });
  cb.addEventListener("change", () => { if (cb.checked) selected.add(r.id); else selected.delete(r.id); renderToolbar(); });
  const kind = r.kind === "database" ? t.kindDatabase : t.kindApp;
  const kindIcon = icon(r.kind === "database" ? "database" : "app");
  kindIcon.classList.add("kind"); kindIcon.removeAttribute("aria-hidden");
  kindIcon.setAttribute("role", "img"); kindIcon.setAttribute("aria-label", kind); kindIcon.title = kind;
  const name = el("div", { class: "name", text: r.name });
  if (r.own_dest) name.append(el("span", { class: "tag", text: t.ownFolder, title: r.dest }));
  const who = el("div", { class: "who" }, name, el("div", { class: "sub", text: t.rowSub(r.runtime, r.ram) }));
  // "Last backup 3 hours ago · next in 5 hours", a dot for fresh, stale or none.
  const line = el("div", { class: "status-line" }, el("span", { class: `dot ${r.health}`, "aria-hidden": "true" }));
  const last = r.last_backup ? when(r.last_backup, t.lastBackup) : el("span", { text: t.noBackup });
  last.classList.add("last");
  line.append(last);
  if (r.next_backup) { const nx = when(r.next_backup, t.nextBackup); nx.classList.add("next"); line.append(nx); }
  const status = el("div", { class: "status" }, line, strip(r));
  const act = button(t.snapshot, () => snapshot([r.id]), { class: "backup", "aria-label": `${t.snapshot}: ${r.name}` });
  const more = button(icon("more"), (ev) => openRowMenu(r, ev.currentTarget), {
    class: "more icon-only", "aria-label": `${t.more}: ${r.name}`, "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": "row-menu",
  });
  li.append(cb, kindIcon, who, status, act, more);
  return li;
}

// The last 30 days: backed up, failed, missed or nothing planned. One element painted with a
// gradient, 6 px a day, not 30: 1,000 rows stay quick to move. The day under the pointer
// names itself in the tooltip; the accessible name counts the days of each kind.
const DAY_PX = 6;
const DAY_COLOUR = { backed_up: "var(--ok)", failed: "var(--err)", missed: "var(--warn)" };
function strip(r) {
  const days = r.days || [];
  const s = el("span", { class: "strip", role: days.length ? "img" : null });
  if (!days.length) return s;
  const stops = days.map((d, i) => {
    const a = i * DAY_PX, b = a + DAY_PX - 1;
    return `${DAY_COLOUR[d] || "var(--line)"} ${a}px ${b}px, transparent ${b}px ${a + DAY_PX}px`;
  });
  s.style.backgroundImage = `linear-gradient(to right, ${stops.join(", ")})`;
  s.style.width = `${days.length * DAY_PX - 1}px`;
  s.dataset.days = days.join(" ");
  s.addEventListener("mousemove", (ev) => {
    const i = Math.min(days.length - 1, Math.max(0, Math.floor(ev.offsetX / DAY_PX)));
    const date = day(new Date(Date.now() - (days.length - 1 - i) * 86400000), lang());
    s.title = `${date}: ${t.days[days[i]]}`;
  });
  const counts = {};
  for (const d of days) counts[d] = (counts[d] || 0) + 1;
  s.setAttribute("aria-label", Object.entries(counts).map(([k, n]) => `${n} × ${t.days[k]}`).join(", "));
  return s;
}

// Everything fresh, or which resources need attention and what to do.
function renderBanner() {
  const b = $("status-banner");
  const need = rows.filter((r) => r.health !== "fresh");
  b.hidden = rows.length === 0;
  b.className = `banner ${need.length ? "warn" : "ok"}`;
  const holder = b.querySelector(".banner-icon");
  holder.innerHTML = ""; holder.append(icon(need.length ? "alert" : "check"));
  // Three names at most: the rows say the rest.
  const names = need.slice(0, 3).map((r) => r.name).join(", ") + (need.length > 3 ? t.andMore(need.length - 3) : "");
  setText("status-text", need.length ? t.attention(need.length, names) : t.allGood);
  // What to do, as a button: back up the ones that need it (held for the quota if needed).
  $("attention-go").hidden = need.length === 0;
  setText("attention-go", t.attentionGo(need.length));
  $("attention-go").onclick = () => snapshot(need.map((r) => r.id));
}

function openRowMenu(r, btn) {
  if (isOpen($("row-menu")) && menuRow && menuRow.id === r.id) { closeMenu(true); return; }
  menuRow = r;
  $("menu-open").hidden = !r.dest;
  openMenu($("row-menu"), btn, () => { if (rowsStale) setTimeout(renderRows); });
}
$("row-menu").addEventListener("click", (ev) => {
  const item = ev.target.closest("[data-action]");
  if (!item || !menuRow) return;
  const r = menuRow;
  closeMenu(false);
  const row = revealRow(r.id), back = row && row.querySelector(".more");
  switch (item.dataset.action) {
    case "download": download(r.id); if (back) back.focus(); break;
    case "versions": openVersions(r); break;
    case "restore": openRestore(r); break;
    case "open": invoke("open_folder", { path: r.dest }).catch(showError); if (back) back.focus(); break;
    case "folder": chooseFolder(r.id); break;
    default: break;
  }
});

$("search").addEventListener("input", renderRows);
$("sort").addEventListener("change", renderRows);
$("select-all").addEventListener("change", (e) => {
  for (const r of shown) {
    if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
  }
  renderRows();
});
$("snapshot-all").addEventListener("click", () => {
  const picked = rows.filter((r) => selected.has(r.id)).map((r) => r.id);
  // The selection is used up by the action, as in a file manager.
  selected.clear(); renderRows();
  snapshot(picked.length ? picked : rows.map((r) => r.id));
});
$("first-run-choose").addEventListener("click", () => chooseFolder(null));
$("first-run-skip").addEventListener("click", () => { store.setItem("firstRunSkipped", "1"); renderRows(); $("search").focus(); });

function nameOf(id) { return (rows.find((r) => r.id === id) || {}).name || id; }

// ---- Versions and restore dialogs ----

function versionLabel(v) {
  return `${relative(v.modified, lang())} · ${time(v.modified)} · ${bytes(v.size)}${v.origin ? " · " + v.origin : ""}`;
}

// One resource per opening, as the restore dialog (restore.js): a late answer for a row
// chosen earlier is dropped, and Download fetches the resource named in the title.
const browsing = restoreDialog();
async function openVersions(r) {
  const dlg = $("versions-dialog"), list = $("versions-list");
  const ticket = browsing.open(r);
  let versions = [];
  try { versions = await invoke("list_versions", { id: ticket.id }); } catch (e) { if (!browsing.stale(ticket)) showError(e); return; }
  if (!browsing.accept(ticket)) return;
  setText("versions-title", t.versionsTitle(ticket.name));
  list.innerHTML = "";
  for (const v of versions) list.append(el("option", { value: v.version || "", text: versionLabel(v) }));
  if (list.options.length) list.selectedIndex = 0;
  $("versions-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = () => {
    const row = revealRow(ticket.id), back = row && row.querySelector(".more");
    if (back) back.focus();
    if (dlg.returnValue !== "download") return;
    const picked = browsing.confirm(ticket, list.value);
    if (picked) download(picked.id, picked.version);
  };
  dlg.returnValue = "";
  dlg.showModal();
  list.focus();
}
// Enter in the list downloads the highlighted version.
$("versions-list").addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") { ev.preventDefault(); $("versions-dialog").close("download"); }
});
$("versions-list").addEventListener("dblclick", () => $("versions-dialog").close("download"));

// The restore dialog: the resource, the version and its date, what is replaced, and a
// snapshot of the current state first (checked, unless no quota is left today).
// Each opening holds its own resource (restore.js): Restore… chosen on another row while
// this one's versions load makes this opening stale, and its late answer is dropped.
const restoring = restoreDialog();
async function openRestore(r) {
  const dlg = $("restore-dialog");
  const sel = $("restore-version");
  const ticket = restoring.open(r);
  let versions = [];
  try { versions = await invoke("list_versions", { id: ticket.id }); } catch (e) { if (!restoring.stale(ticket)) showError(e); return; }
  if (!restoring.accept(ticket)) return;
  const name = ticket.name;
  setText("restore-title", t.restoreTitle(name));
  sel.innerHTML = "";
  for (const v of versions) {
    const o = el("option", { value: v.version || "", text: versionLabel(v) });
    o.dataset.when = time(v.modified); sel.append(o);
  }
  const left = session && session.quota ? session.quota.remaining : 0;
  const first = $("restore-first");
  first.disabled = left === 0; first.checked = left > 0;
  setText("restore-first-label", t.restoreFirst(left));
  setText("restore-note", left === 0 ? t.restoreNoQuota : "");
  const describe = () => setText("restore-what", t.restoreWhat(name, sel.selectedOptions[0] ? sel.selectedOptions[0].dataset.when : ""));
  sel.onchange = describe; describe();
  $("restore-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = async () => {
    const row = revealRow(ticket.id), back = row && row.querySelector(".more");
    if (back) back.focus();
    // Only the Restore button goes on: Cancel, Escape and closing do nothing. What it
    // restores is this opening's resource, the one named in the title.
    if (dlg.returnValue !== "restore") return;
    const go = restoring.confirm(ticket, sel.value);
    if (!go) return;
    const w = sel.selectedOptions[0] ? sel.selectedOptions[0].dataset.when : "";
    notice(() => t.restoring(go.name), false, true);
    try {
      await invoke("restore_snapshot", { id: go.id, version: go.version, snapshotFirst: first.checked, onEvent: onEvent((id) => snapshot([id])) });
      notice(() => t.restored(go.name, w));
      await refresh();
    } catch (e) { showError(e); }
  };
  if (!dlg.open) { dlg.returnValue = ""; dlg.showModal(); }
  sel.focus();
}

// ---- Transfers drawer ----

const active = (x) => x.kind !== "done";

function renderTransfers() {
  const on = !!(session && session.signed_in);
  const list = [...transfers.entries()].filter(([, x]) => active(x));
  const running = list.filter(([, x]) => x.kind === "busy").length;
  const waiting = list.filter(([, x]) => x.kind === "waiting").length;
  const done = finished.length - cleared;
  $("transfers-drawer").hidden = !on || (list.length === 0 && done === 0 && !queuePaused);
  setText("transfers-summary", t.transfersSummary(running, waiting));
  $("done-show").hidden = $("done-clear").hidden = done === 0;
  setText("done-show", t.doneShow(done));
  setText("done-clear", t.clearDone);
  $("done-clear").setAttribute("aria-label", t.clearDoneLabel);
  $("cancel-all").hidden = list.length === 0;
  const ul = $("transfers");
  ul.innerHTML = "";
  for (const [id, x] of list) {
    const li = el("li", {}, el("strong", { text: x.name }));
    li.dataset.id = id;
    const p = x.progress;
    if (p) li.append(el("progress", { max: p.total || 1, value: p.bytes, "aria-label": x.name }));
    else li.append(el("span"));
    const text = p
      ? t.progress(bytes(p.bytes), p.total ? bytes(p.total) : "", bytes(Math.round(p.bytes_per_sec)), p.eta_secs != null ? duration(p.eta_secs) : "")
      : transferText(x.last);
    li.append(el("span", { class: `state state-${x.kind}${p ? " progress-text" : ""}`, text }));
    const actions = el("span", { class: "line-actions" });
    // A create whose answer was lost, or that is slow: its list is watched; the user may stop
    // waiting for this one alone (nothing is sent again either way).
    if (x.kind === "busy" && x.last && x.last.event === "processing") {
      actions.append(button(t.stopWaiting, () => invoke("stop_waiting", { resource: id }).catch(showError), { "aria-label": `${t.stopWaiting}: ${x.name}` }));
    }
    if (x.kind === "failed") {
      actions.append(button(t.retry, () => { transfers.delete(id); x.retry(); renderTransfers(); }, { "aria-label": `${t.retry}: ${x.name}` }));
      actions.append(button(t.dismiss, () => { transfers.delete(id); renderTransfers(); }, { "aria-label": `${t.dismiss}: ${x.name}` }));
    }
    li.append(actions);
    ul.append(li);
  }
}

// A transfer's state in words, in the current language.
function transferText(e) {
  if (!e) return "";
  switch (e.event) {
    case "waiting": return t.waiting(duration(Math.max(1, (Date.parse(e.until) - Date.now()) / 1000)), t.why[e.reason] || e.reason);
    case "postponed": return t.metered(bytes(e.bytes));
    case "paused_for_quota": return t.paused(e.until && clock(e.until, lang()));
    case "creating": return t.creating(elapsed(e.since));
    case "processing": return e.answer_lost ? t.answerLost(clock(e.until, lang())) : t.processing(elapsed(e.since));
    case "joined": return t.joined;
    case "created": return t.created;
    case "done": return t.done(e.path);
    case "failed": return `${t.failed}: ${e.message}`;
    default: return "";
  }
}

// Seconds since an ISO time, as "40s" or "2m 5s".
function elapsed(iso) { return duration(Math.max(0, (Date.now() - Date.parse(iso)) / 1000)); }

// Lines that count (preparing, waiting) tick every second.
setInterval(() => {
  for (const x of transfers.values()) {
    if (x.last && ["creating", "processing", "waiting"].includes(x.last.event) && !x.progress) { renderTransfers(); return; }
  }
}, 1000);

$("done-show").addEventListener("click", () => showView("history", true));
$("done-clear").addEventListener("click", () => { cleared = finished.length; renderTransfers(); });
$("cancel-all").addEventListener("click", () => { notice(() => t.stopped); invoke("cancel_transfer").catch(showError); });
$("pause-toggle").addEventListener("click", () => invoke("pause_queue", { paused: !queuePaused }).catch(showError));
listen("queue-paused", ({ payload }) => {
  queuePaused = payload;
  setText("pause-toggle", queuePaused ? t.resume : t.pause);
  notice(queuePaused ? () => t.pausedByUser : "", false, true);
  renderTransfers();
});

// One engine event: a transfer line, the quota, or a notice. Background (scheduled) work
// arrives the same way as a click's.
function handleEvent(e, retry) {
  const id = e.resource;
  const x = transfers.get(id) || { name: nameOf(id), retry: () => retry(id) };
  switch (e.event) {
    case "waiting": case "postponed": x.kind = "waiting"; break;
    case "creating": case "processing": case "joined": case "created": x.kind = "busy"; x.progress = null; break;
    case "downloading": x.kind = "busy"; x.progress = e.progress; break;
    case "done":
      transfers.delete(id);
      finished.unshift({ id, name: x.name, path: e.path, at: new Date().toISOString() });
      renderTransfers(); renderHistory();
      return;
    case "failed":
      // Stopped by the user: the line goes; the notice says what it means.
      if (e.code === "cancelled") { transfers.delete(id); renderTransfers(); return; }
      x.kind = "failed"; x.progress = null; break;
    case "quota": if (session) session.quota = e.quota; renderQuota(e.quota); return;
    case "paused": notice(() => t.pausedByUser, false, true); return;
    case "resumed": notice(""); return;
    case "paused_for_quota":
      notice(() => t.paused(e.until && clock(e.until, lang())), false, true);
      // Waiting lines now wait for the quota, not for a window; held ones get a line.
      for (const w of transfers.values()) if (w.kind === "waiting") w.last = e;
      for (const rid of e.held || []) {
        const w = transfers.get(rid) || { name: nameOf(rid), retry: () => retry(rid) };
        if (w.kind !== "busy") { w.kind = "waiting"; w.last = e; transfers.set(rid, w); }
      }
      renderTransfers();
      return;
    case "rate_limited": notice(() => t.rateLimited(clock(e.until, lang())), true); return;
    default: return;
  }
  x.last = e;
  transfers.set(id, x);
  renderTransfers();
}

function onEvent(retry) {
  const ch = new Channel();
  ch.onmessage = (e) => handleEvent(e, retry);
  return ch;
}

listen("engine-event", (ev) => handleEvent(ev.payload, (id) => snapshot([id])));
listen("plans-ran", () => refresh());
// A notification was clicked: show its resource's row.
listen("focus-resource", (ev) => {
  showView("resources");
  const row = revealRow(ev.payload);
  if (row) { row.scrollIntoView({ block: "center" }); const b = row.querySelector("button"); if (b) b.focus(); }
});

async function snapshot(ids) {
  try { await invoke("create_snapshots", { ids, onEvent: onEvent((id) => snapshot([id])) }); await refresh(); } catch (e) { showError(e); }
}

async function download(id, version) {
  try { await invoke("download_snapshot", { id, version: version || null, onEvent: onEvent((rid) => download(rid, version)) }); await refresh(); } catch (e) { showError(e); }
}

// ---- On this computer (library) ----

function renderLibrary() {
  const ul = $("library");
  const total = library.reduce((n, e) => n + e.size, 0);
  setText("library-text", t.libraryText(library.length, bytes(total)));
  ul.innerHTML = "";
  if (!library.length) ul.append(el("li", { class: "empty-line", text: t.libraryEmpty }));
  const sorted = [...library].sort((a, b) => a.resource_name.localeCompare(b.resource_name) || b.taken_at.localeCompare(a.taken_at));
  for (const e of sorted) {
    const file = e.path.split(/[\\/]/).pop();
    const sub = el("div", { class: "muted" }, when(e.taken_at, t.takenRel), ` · ${bytes(e.size)} · `,
      damaged.has(e.path) ? el("span", { class: "error", text: t.checkFailed })
        : e.verified_at ? when(e.verified_at, t.verifiedRel) : el("span", { text: t.notVerified }));
    sub.lastChild.classList.add("verified-at");
    const info = el("div", { class: "grow" }, el("strong", { text: e.resource_name }), el("div", { class: "path", text: file }), sub);
    const verify = button(t.verify, async () => {
      try { await invoke("verify_file", { path: e.path }); damaged.delete(e.path); }
      catch (err) { damaged.add(e.path); showError(err); }
      await loadLibrary().catch(showError);
    }, { "aria-label": `${t.verify}: ${file}` });
    const show = button(t.open, () => invoke("open_folder", { path: e.path.slice(0, e.path.length - file.length - 1) }).catch(showError),
      { "aria-label": `${t.open}: ${file}` });
    ul.append(el("li", {}, info, el("span", { class: "actions" }, verify, show)));
  }
}

async function loadLibrary() {
  library = await invoke("list_library", { resource: null });
  renderLibrary();
}

$("prune").addEventListener("click", async () => {
  const num = (id) => { const v = parseInt($(id).value, 10); return Number.isFinite(v) && v > 0 ? v : null; };
  try {
    const r = await invoke("prune_library", { keepLast: num("keep-last"), keepDays: num("keep-days") });
    // The list of files first (local and quick), then the rows' last backups.
    await loadLibrary();
    notice(() => t.pruned(r.deleted.length));
    await refresh();
  } catch (e) { showError(e); }
});

// ---- History ----

function renderHistory() {
  const s = $("session-done");
  s.innerHTML = "";
  if (!finished.length) s.append(el("li", { class: "empty-line", text: t.sessionEmpty }));
  for (const f of finished) {
    const info = el("div", { class: "grow" }, el("strong", { text: f.name }), el("div", { class: "what", text: t.done(f.path) }), el("div", { class: "muted" }, when(f.at)));
    const folder = f.path.slice(0, f.path.length - f.path.split(/[\\/]/).pop().length - 1);
    s.append(el("li", { class: "done" }, info, button(t.open, () => invoke("open_folder", { path: folder }).catch(showError), { "aria-label": `${t.open}: ${f.name}` })));
  }
  const ul = $("history");
  ul.innerHTML = "";
  if (!runs.length) ul.append(el("li", { class: "empty-line", text: t.historyEmpty }));
  for (const h of runs.slice(0, 50)) {
    const li = el("li", { class: h.ok ? "ok" : "failed" }, el("span", {
      class: "what", text: t.historyRow(relative(h.started, lang()), h.plan, h.ok, h.files, bytes(h.bytes)),
      title: `${time(h.started)}${h.failures.length ? " — " + h.failures.join("; ") : ""}`,
    }));
    // Held back to keep the reserve for snapshots by hand: said in the row, names on hover.
    const held = h.reserve_held || [];
    if (held.length) li.append(el("div", { class: "muted", text: t.reserveHeld(held.length), title: held.map(nameOf).join(", ") }));
    ul.append(li);
  }
}

// ---- Settings and plans ----

function renderSettings() {
  if (!settings) return;
  setText("default-folder", settings.default_dest || t.noFolder);
  $("notify-success").checked = !!settings.notify_success;
  $("close-to-tray").checked = !!settings.close_to_tray;
  if (document.activeElement !== $("metered-limit")) $("metered-limit").value = settings.metered_limit_mb ?? "";
  $("connections").value = String(settings.connections ?? 4);
  if (document.activeElement !== $("limit-rate")) $("limit-rate").value = settings.limit_rate ? +(settings.limit_rate / 1048576).toFixed(2) : "";
  const ul = $("own-folders");
  ul.innerHTML = "";
  const own = Object.entries(settings.destinations || {});
  if (!own.length) ul.append(el("li", { class: "muted", text: t.ownFoldersEmpty }));
  for (const [id, path] of own) {
    const name = nameOf(id);
    ul.append(el("li", {}, el("span", { class: "what" }, el("strong", { text: name }), " → ", el("span", { class: "path", text: path })),
      button(t.useDefault, async () => {
        try { await invoke("clear_destination", { resource: id }); await refresh(); } catch (e) { showError(e); }
      }, { "aria-label": `${t.useDefault}: ${name}` })));
  }
}

// One change at a time: two quick changes each read, change and write the whole settings,
// so run side by side the second would undo the first.
let saving = Promise.resolve();
function saveSettings(change) {
  saving = saving.then(async () => {
    try {
      const s = await invoke("get_settings");
      change(s);
      await invoke("save_settings", { settings: s });
      settings = s;
    } catch (e) { showError(e); }
  });
  return saving;
}

function planWords(p) {
  const s = p.schedule, at = (s.at || "").slice(0, 5);
  const w = s.every === "hour" ? t.planHourly : s.every === "hours" ? t.planEvery(s.hours)
    : s.every === "day" ? t.planDaily(at) : t.planWeekly(t.weekdays[s.weekday], at);
  const scope = p.scope.scope === "all" ? t.scopes.all : `${p.scope.ids.length} × ${p.scope.ids.map(nameOf).join(", ")}`;
  const keep = p.retention.keep === "last" ? `${t.keeps.last.replace("N", p.retention.n)}` : t.keeps[p.retention.keep];
  return `${p.id} — ${t.kinds[p.kind].split(":")[0]}, ${w}, ${scope}; ${t.planKeep.toLowerCase()}: ${keep}`;
}

function renderPlans() {
  const ul = $("plans");
  if (!plansView) return;
  setText("plans-need", t.plansNeed(plansView.creates_per_day, plansView.quota, plansView.reserve));
  if (document.activeElement !== $("plan-reserve")) $("plan-reserve").value = plansView.reserve;
  ul.innerHTML = "";
  for (const row of plansView.plans) {
    const last = row.last_run ? (row.last_run.ok ? t.lastRunOk : t.lastRunFailed)(relative(row.last_run.started, lang())) : t.notRunYet;
    const text = el("span", { class: "what", text: `${planWords(row.plan)} · ${last} · ${t.nextRun(relative(row.next_run, lang()))} · ${t.pruneNext(row.prune_preview.length)}` });
    if (row.prune_preview.length) text.title = row.prune_preview.join("\n");
    const rm = button(t.removePlan, async () => {
      try { plansView = await invoke("remove_plan", { id: row.plan.id }); renderPlans(); await refresh(); } catch (e) { showError(e); }
    }, { "aria-label": `${t.removePlan}: ${row.plan.id}` });
    ul.append(el("li", {}, text, rm));
  }
  // Stored plans that cannot run: said, with the engine's reason on hover, and removable.
  for (const bad of plansView.invalid || []) {
    const text = el("span", { class: "what", text: t.invalidPlan(bad.id), title: bad.why });
    const rm = button(t.removePlan, async () => {
      try { plansView = await invoke("remove_plan", { id: bad.id }); renderPlans(); await refresh(); } catch (e) { showError(e); }
    }, { "aria-label": `${t.removePlan}: ${bad.id}` });
    ul.append(el("li", { class: "failed" }, text, rm));
  }
}

// Only the fields the chosen schedule and retention use are shown.
function planFormFields() {
  const w = $("plan-when").value, keep = $("plan-keep").value;
  $("plan-hours").hidden = w !== "hours";
  $("plan-weekday").hidden = w !== "week";
  $("plan-at").hidden = w !== "day" && w !== "week";
  $("plan-keep-n").hidden = keep !== "last";
  setText("plan-keep-note", keep === "everything" ? t.keepEverythingNote : "");
}

async function addPlan(ev) {
  ev.preventDefault();
  const w = $("plan-when").value, at = `${$("plan-at").value || "03:00"}:00`;
  const schedule = w === "hours" ? { every: "hours", hours: Number($("plan-hours").value) || 1 }
    : w === "day" ? { every: "day", at } : w === "week" ? { every: "week", weekday: Number($("plan-weekday").value), at } : { every: "hour" };
  const keep = $("plan-keep").value;
  const retention = keep === "last" ? { keep: "last", n: Math.max(1, Number($("plan-keep-n").value) || 1) }
    : keep === "everything" ? { keep: "everything" } : { keep: "calendar", daily: 7, weekly: 4, monthly: 6 };
  const scope = $("plan-scope").value === "selected" ? { scope: "resources", ids: [...selected] } : { scope: "all" };
  const plan = { id: $("plan-name").value.trim(), kind: $("plan-kind").value, scope, schedule, retention, dest: null };
  try { plansView = await invoke("add_plan", { plan }); $("plan-name").value = ""; notice(""); renderPlans(); await refresh(); }
  catch (e) { showError(e); }
}
$("plan-form").addEventListener("submit", addPlan);
$("plan-when").addEventListener("change", planFormFields);
$("plan-keep").addEventListener("change", planFormFields);
$("plan-reserve").addEventListener("change", async (ev) => {
  try { plansView = await invoke("set_plan_reserve", { reserve: Math.max(0, Number(ev.target.value) || 0) }); renderPlans(); }
  catch (e) { showError(e); if (plansView) ev.target.value = plansView.reserve; }
});
$("metered-limit").addEventListener("change", (ev) => {
  const v = ev.target.value.trim();
  saveSettings((s) => { s.metered_limit_mb = v === "" ? null : Math.max(0, Math.round(Number(v)) || 0); });
});
$("connections").addEventListener("change", (ev) => saveSettings((s) => { s.connections = Number(ev.target.value); }));
$("limit-rate").addEventListener("change", (ev) => {
  const v = Number(ev.target.value);
  saveSettings((s) => { s.limit_rate = ev.target.value.trim() === "" || !(v > 0) ? null : Math.round(v * 1048576); });
});
$("notify-success").addEventListener("change", (ev) => saveSettings((s) => { s.notify_success = ev.target.checked; }));
$("close-to-tray").addEventListener("change", (ev) => saveSettings((s) => { s.close_to_tray = ev.target.checked; }));
$("start-at-login").addEventListener("change", async (ev) => {
  try { ev.target.checked = await invoke("set_start_at_login", { enabled: ev.target.checked }); } catch (e) { showError(e); }
});
$("choose-folder").addEventListener("click", () => chooseFolder(null));

async function chooseFolder(resource) {
  try { const p = await invoke("pick_destination", { resource }); if (p) { notice(() => t.folderSet(p)); await refresh(); } } catch (e) { showError(e); }
}

async function changeLocale(locale) {
  applyLocale(locale);
  store.setItem("locale", locale);
  if (session && session.signed_in) await saveSettings((s) => { s.locale = locale; });
}
$("locale").addEventListener("change", () => changeLocale($("locale").value));
$("locale-signin").addEventListener("change", () => changeLocale($("locale-signin").value));
$("theme").addEventListener("change", async () => {
  const pref = $("theme").value;
  store.setItem("theme", pref);
  applyTheme(pref);
  if (session && session.signed_in) await saveSettings((s) => { s.theme = pref === "system" ? null : pref; });
});

// ---- Dragging a folder over the window ----

function rowAt(x, y) {
  if (view !== "resources" || firstRun()) return null;
  const ratio = window.devicePixelRatio || 1;
  const hit = document.elementFromPoint(x / ratio, y / ratio);
  return hit && hit.closest ? hit.closest("li.row[data-id]") : null;
}

function renderDrag(x, y) {
  const o = $("drop-overlay");
  for (const r of document.querySelectorAll("li.row.drop-target")) r.classList.remove("drop-target");
  o.hidden = !drag;
  if (!drag) return;
  const row = drag.ok ? rowAt(x, y) : null;
  if (row) row.classList.add("drop-target");
  o.classList.toggle("refused", !drag.ok);
  o.classList.toggle("over-row", !!row);
  setText("drop-title", drag.ok ? t.dropTitle : t.dropRefused);
  setText("drop-sub", !drag.ok ? drag.message || "" : row ? t.dropRow(nameOf(row.dataset.id)) : t.dropDefault);
}

listen("drag-state", ({ payload }) => {
  if (payload.phase === "enter") drag = { ok: payload.ok, message: payload.message };
  if (payload.phase === "leave") drag = null;
  renderDrag(payload.x, payload.y);
});

// A folder dropped on a row sets that resource's folder; anywhere else, the default.
listen("folder-dropped", async ({ payload }) => {
  const row = payload.ok ? rowAt(payload.x, payload.y) : null;
  drag = null; renderDrag(0, 0);
  if (!payload.ok) { notice(payload.message, true); return; }
  try {
    const p = await invoke("set_destination", { resource: row ? row.dataset.id : null, path: payload.path });
    notice(() => t.folderSet(p));
    await refresh();
  } catch (e) { showError(e); }
});
listen("tray-snapshot-all", () => snapshot(rows.map((r) => r.id)));

// ---- Loading ----

// Refreshes never overlap: one asked for while another runs makes it run once more after,
// so an older answer never lands over a newer one (a row would lose its last backup).
let refreshing = null;
let refreshAgain = false;
// `asked`: the list and settings already asked for (at sign-in), used by the first pass.
function refresh(asked) {
  if (refreshing) { refreshAgain = true; return refreshing; }
  refreshing = (async () => {
    do { refreshAgain = false; await refreshOnce(asked); asked = null; } while (refreshAgain);
  })().finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshOnce(asked) {
  try {
    const [r, s] = await Promise.all(asked || [invoke("list_resources"), invoke("get_settings")]);
    rows = r; settings = s;
    for (const id of [...selected]) if (!rows.some((x) => x.id === id)) selected.delete(id);
    renderRows(); renderBanner(); renderSettings();
    // The first list: a User Timing mark (`make bench` waits for it), and once it is painted
    // the log says how long the start took.
    if (rows.length && !performance.getEntriesByName("rows-shown").length) {
      performance.mark("rows-shown");
      requestAnimationFrame(() => setTimeout(() => invoke("list_shown").catch(() => {})));
    }
    await loadLibrary();
    const [p, h] = await Promise.all([invoke("list_plans"), invoke("list_history")]);
    plansView = p; runs = h;
    renderPlans(); renderHistory();
    learnNewest();
  } catch (e) { showError(e); }
}

// When each resource's newest server snapshot was taken (for "Newest first") is learnt after
// the rows show: on a plan without the account-wide listing that is one listing per
// resource, minutes for a large account. The rows are drawn again when it changed; a
// failure leaves the order as it was and the next refresh tries again.
let learning = false;
function learnNewest() {
  if (learning) return;
  learning = true;
  invoke("refresh_newest").then(
    (changed) => { learning = false; if (changed) refresh(); },
    () => { learning = false; });
}

async function start() {
  // Asked first: the answer travels while the page fills in its icons and language.
  const asked = invoke("get_session");
  fillIcons();
  applyTheme(store.getItem("theme") || "system");
  applyLocale(pickLocale(store.getItem("locale"), navigator.language));
  session = await asked;
  renderSession();
  if (session.notices.length) notice(session.notices.join(" "), true);
  if (session.signed_in) await signedIn();
}

// What a signed-in window loads once, whether the key was in the keychain or just typed:
// the saved language and theme, start at login, then the lists.
async function signedIn() {
  // The list is asked for beside the settings, not after them: the first rows show one
  // round trip sooner. Its failure is shown by the refresh that awaits it.
  const first = [invoke("list_resources"), invoke("get_settings")];
  first[0].catch(() => {});
  const s = await first[1];
  settings = s;
  if (s.locale) applyLocale(s.locale);
  const pref = s.theme || store.getItem("theme") || "system";
  store.setItem("theme", pref); applyTheme(pref);
  invoke("get_start_at_login").then((on) => { $("start-at-login").checked = on; }).catch(() => {});
  await refresh(first);
}

$("sign-in-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  setText("sign-in-error", t.checking);
  try {
    const key = $("api-key").value;
    $("api-key").value = "";
    session = await invoke("sign_in", { key });
    setText("sign-in-error", "");
    renderSession();
    await signedIn();
  } catch (e) {
    setText("sign-in-error", e.message || String(e));
    $("api-key").focus(); // ready to paste again, by keyboard too
  }
});

start().catch(showError);

// The Resources view: the banner, the toolbar (search, sort, tick all, back up), the list of
// resources drawn a screenful at a time, and each row's ⋯ menu.
import { $, button, el, inputEl, selectEl, setText, when } from "./dom.js";
import { clock, day, sortRows } from "./format.js";
import { icon } from "./icons.js";
import { closeMenu, followButton, isOpen, openMenu } from "./menu.js";
import { quotaWaits } from "./lines.js";
import { attentionByAccount, attentionNames, grouped, mayBackUp, needAttention, rowKey, stripDayAt, stripLabel, stripPaint, visibleRange } from "./rows.js";
import { chooseFolder } from "./actions.js";
import { openRestore, openVersions } from "./dialogs.js";
import { openPutBack } from "./putback.js";
import { showError } from "./notice.js";
import { errorWords } from "./errors.js";
import { showView } from "./shell.js";
import { download, snapshot } from "./transfers.js";
import { gate, lang, painter, state, store } from "./state.js";
import * as ipc from "./ipc.js";

/** @typedef {ipc.ResourceRow} ResourceRow */

/** Whether the view asks where backups go first (no folder yet, and not skipped). */
export function firstRun() {
  return !!state.settings && !state.settings.default_dest && store.getItem("firstRunSkipped") !== "1";
}

function renderToolbar() {
  const { t, selected } = state;
  const n = state.rows.filter((r) => selected.has(r.id)).length;
  setText("snapshot-all", n ? t.snapshotSelected(n) : t.snapshotAll);
  const can = shown.filter(mayBackUp);
  const all = can.length > 0 && can.every((r) => selected.has(r.id));
  const box = inputEl("select-all");
  box.checked = all;
  box.indeterminate = !all && shown.some((r) => selected.has(r.id));
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
/** The rows after search and sort, in order. @type {ResourceRow[]} */
let shown = [];
/** id -> the row built, and the key it was built for: a row is rebuilt only when it changed.
 * @type {Map<string, { key: string, li: HTMLLIElement }>} */
const rowCache = new Map();
/** id -> measured px, at the list's current width. @type {Map<string, number>} */
const rowHeight = new Map();
let listWidth = -1;
let rowGuess = ROW_GUESS; // the mean of the measured rows
/** @type {HTMLLIElement} */
let padAbove;
/** @type {HTMLLIElement} */
let padBelow;
/** The row whose ⋯ menu is open. @type {ResourceRow | null} */
let menuRow = null;
let rowsStale = false;

export function renderRows() {
  $("first-run").hidden = !firstRun();
  $("resources-pane").hidden = firstRun();
  // Not under an open "⋯" menu: it re-renders when the menu closes.
  if (isOpen($("row-menu"))) { rowsStale = true; return; }
  rowsStale = false;
  const order = selectEl("sort").value, query = inputEl("search").value;
  shown = state.allAccounts
    ? grouped(state.rows, state.groups.map((g) => g.id), (rows) => sortRows(rows, order, query))
    : sortRows(state.rows, order, query);
  const present = new Set(state.rows.map((r) => r.id));
  for (const id of [...rowCache.keys()]) if (!present.has(id)) { rowCache.delete(id); rowHeight.delete(id); }
  paintRows();
  renderToolbar();
}

/** @param {ResourceRow} r */
const heightOf = (r) => rowHeight.get(r.id) ?? rowGuess;
/** The height of the shown rows [a, b): measured, or guessed. @param {number} a @param {number} b */
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
  const active = document.activeElement;
  const focused = active && list.contains(active) && active !== list ? active.getAttribute("aria-label") : null;
  const top = list.scrollTop, height = list.clientHeight || window.innerHeight;
  const { first, y, from, to } = visibleRange(shown.length, (i) => heightOf(shown[i]), top, height, OVERSCAN);
  // A row whose data, language and minute are unchanged is reused, and only the rows out
  // of place are moved. The tick box is set from the selection each time (a person may
  // have changed it since it was built).
  const now = Date.now();
  const want = [padAbove];
  for (let i = from; i < to; i++) {
    const r = shown[i];
    const key = rowKey(r, lang(), now, state.allAccounts ? state.groups : null);
    let c = rowCache.get(r.id);
    if (!c || c.key !== key) { c = { key, li: buildRow(r) }; rowCache.set(r.id, c); }
    const li = c.li;
    /** @type {HTMLInputElement} */ (li.querySelector("input.pick")).checked = state.selected.has(r.id);
    if (li.getAttribute("aria-posinset") !== String(i + 1)) li.setAttribute("aria-posinset", String(i + 1));
    if (li.getAttribute("aria-setsize") !== String(shown.length)) li.setAttribute("aria-setsize", String(shown.length));
    li.classList.toggle("end", i === shown.length - 1);
    want.push(li);
  }
  want.push(padBelow);
  // Rows leaving go first, so that a scroll only adds and removes at the ends and moves no
  // row (a moved row would lose the keyboard focus).
  const keep = new Set(want);
  for (const c of [...list.children]) if (!keep.has(/** @type {HTMLLIElement} */ (c))) c.remove();
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
    for (let i = from; i < to; i++) rowHeight.set(shown[i].id, /** @type {{ li: HTMLLIElement }} */ (rowCache.get(shown[i].id)).li.offsetHeight);
    rowGuess = [...rowHeight.values()].reduce((a, b) => a + b, 0) / rowHeight.size || ROW_GUESS;
  }
  padAbove.style.height = `${heightOfRows(0, from)}px`;
  padBelow.style.height = `${heightOfRows(to, shown.length)}px`;
  const firstTop = heightOfRows(0, first);
  if (visible && first < shown.length && Math.abs(firstTop - y) >= 1) list.scrollTop += firstTop - y;
  if (focused && !list.contains(document.activeElement)) {
    /** @type {HTMLElement | null} */
    let back = null;
    for (const b of list.querySelectorAll("[aria-label]")) if (b.getAttribute("aria-label") === focused) { back = /** @type {HTMLElement} */ (b); break; }
    // Its row scrolled out of the page: the focus stays in the list, not lost to the window.
    (back || list).focus({ preventScroll: !back });
  }
}

/** The row of a resource, scrolled to and drawn if it was not (a search hiding it is
 * cleared). @param {string} id @returns {HTMLElement | null} */
export function revealRow(id) {
  const list = $("resources");
  let i = shown.findIndex((r) => r.id === id);
  if (i < 0 && state.rows.some((r) => r.id === id) && inputEl("search").value) {
    inputEl("search").value = ""; renderRows();
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
  return /** @type {HTMLElement | null} */ (li);
}

/** Back to the row's ⋯ button (a dialog or the menu closed). @param {string} id */
export function focusRowMenu(id) {
  const row = revealRow(id), back = row && row.querySelector(".more");
  if (back) /** @type {HTMLElement} */ (back).focus();
}

/** @param {ResourceRow} r */
function buildRow(r) {
  const { t } = state;
  const li = el("li", { class: "row" });
  li.dataset.id = r.id;
  const cb = el("input", { type: "checkbox", class: "pick", checked: state.selected.has(r.id), "aria-label": r.name });
  cb.addEventListener("change", () => { if (cb.checked) state.selected.add(r.id); else state.selected.delete(r.id); renderToolbar(); });
  const kind = r.kind === "database" ? t.kindDatabase : t.kindApp;
  const kindIcon = icon(r.kind === "database" ? "database" : "app");
  kindIcon.classList.add("kind"); kindIcon.removeAttribute("aria-hidden");
  kindIcon.setAttribute("role", "img"); kindIcon.setAttribute("aria-label", kind); kindIcon.title = kind;
  const name = el("div", { class: "name", text: r.name });
  if (r.own_dest) name.append(el("span", { class: "tag", text: t.ownFolder, title: r.dest }));
  const who = el("div", { class: "who" }, name, el("div", { class: "sub", text: t.rowSub(r.runtime, r.ram) }));
  const w = r.workspace;
  if (w) {
    const role = t.workspaceRoles[w.role] || t.workspaceRoles.unknown;
    name.append(el("span", { class: "tag workspace", text: t.workspaceTag(w.name, role), title: t.workspaceTip(w.name, role) }));
    // A role that may not take snapshots: no Back up, and the row says why.
    if (!w.may_snapshot) who.append(el("div", { class: "sub why", text: t.viewOnly(w.name) }));
  }
  // "Last backup 3 hours ago · next in 5 hours", a dot for fresh, stale or none.
  const line = el("div", { class: "status-line" }, el("span", { class: `dot ${r.health}`, "aria-hidden": "true" }));
  const last = r.last_backup ? when(r.last_backup, t.lastBackup) : el("span", { text: t.noBackup });
  last.classList.add("last");
  line.append(last);
  if (r.next_backup) { const nx = when(r.next_backup, t.nextBackup); nx.classList.add("next"); line.append(nx); }
  const status = el("div", { class: "status" }, line, strip(r));
  const act = mayBackUp(r)
    ? button(t.snapshot, () => snapshot([r.id]), { class: "backup", "aria-label": `${t.snapshot}: ${r.name}` })
    : el("span", { class: "backup none" });
  if (!mayBackUp(r)) cb.disabled = true;
  const more = button(icon("more"), (ev) => openRowMenu(r, /** @type {HTMLElement} */ (ev.currentTarget)), {
    class: "more icon-only", "aria-label": `${t.more}: ${r.name}`, "aria-haspopup": "menu", "aria-expanded": "false", "aria-controls": "row-menu",
  });
  // "All accounts": every row says its account, and its account's first row is under the
  // account's heading, with the account's own quota.
  if (state.allAccounts && r.account) {
    name.append(el("span", { class: "tag account", text: r.account.name, title: t.accountTag(r.account.name) }));
    if (r.head) li.append(groupHead(r.account));
  }
  li.append(cb, kindIcon, who, status, act, more);
  return li;
}

/** An account's heading in "All accounts": its name, how many resources, its quota today
 * (from its group in `state.groups`). @param {ipc.AccountRef} a */
function groupHead(a) {
  const { t } = state;
  const g = state.groups.find((x) => x.id === a.id);
  const head = el("div", { class: "group-head" }, el("h2", { class: "group-name", text: a.name }),
    el("span", { class: "muted", text: t.groupCount(g ? g.rows.length : 0) }));
  const q = g ? g.quota : null;
  if (q) {
    const meter = el("span", { class: "meter", role: "meter", "aria-label": t.quotaLabel });
    meter.setAttribute("aria-valuemin", "0"); meter.setAttribute("aria-valuemax", String(q.total));
    meter.setAttribute("aria-valuenow", String(q.remaining)); meter.setAttribute("aria-valuetext", t.quotaChip(q));
    const bar = el("span", { class: "bar" });
    bar.style.width = `${q.total ? (100 * q.remaining) / q.total : 0}%`;
    meter.append(bar);
    head.append(el("span", { class: `chip${q.remaining === 0 ? " none-left" : ""}` }, meter, el("span", { text: t.quotaChip(q) })));
  }
  return head;
}

// The last 30 days: backed up, failed, missed or nothing planned. One element painted with a
// gradient, not 30: 1,000 rows stay quick to move. The day under the pointer names itself in
// the tooltip; the accessible name counts the days of each kind.
/** @param {ResourceRow} r */
function strip(r) {
  const days = r.days || [];
  const s = el("span", { class: "strip", role: days.length ? "img" : null });
  if (!days.length) return s;
  const paint = stripPaint(days);
  s.style.backgroundImage = paint.image;
  s.style.width = `${paint.width}px`;
  s.dataset.days = days.join(" ");
  s.addEventListener("mousemove", (ev) => {
    const { i, date } = stripDayAt(ev.offsetX, days.length, Date.now());
    s.title = `${day(date, lang())}: ${state.t.days[days[i]]}`;
  });
  s.setAttribute("aria-label", stripLabel(days, state.t.days));
  return s;
}

// Everything fresh, or which resources need attention and what to do.
function renderBanner() {
  const { t, rows } = state;
  const b = $("status-banner");
  const need = needAttention(rows);
  // With "All accounts", an account that could not be listed is said, with why.
  const unlisted = state.allAccounts ? state.groups.filter((g) => g.problem) : [];
  const warn = need.length > 0 || unlisted.length > 0;
  b.hidden = rows.length === 0 && unlisted.length === 0;
  b.className = `banner ${warn ? "warn" : "ok"}`;
  const holder = /** @type {HTMLElement} */ (b.querySelector(".banner-icon"));
  holder.innerHTML = ""; holder.append(icon(warn ? "alert" : "check"));
  // The threshold is the engine's (overview.rs FRESH_HOURS); rows come only after a session.
  const hours = state.session ? state.session.fresh_hours : 0;
  // With "All accounts", how many in each account ("2 resources in Cliente X need attention").
  const byAccount = state.allAccounts ? attentionByAccount(need) : [];
  const base = [
    !need.length ? (rows.length ? t.allGood(hours) : "")
      : byAccount.length ? t.attentionAll(byAccount.map(([a, n]) => t.attentionIn(n, a)), hours)
        : t.attention(need.length, attentionNames(need, t.andMore), hours),
    ...unlisted.map((g) => t.accountUnlisted(g.name, errorWords(g.problem, t).text)),
  ].filter(Boolean).join(" ");
  // Backups held for the quota are said too: "everything has a copy" is not the whole story.
  const held = quotaWaits(state.transfers.values());
  setText("status-text", held.count ? `${base} · ${t.quotaWaits(held.count, held.until && clock(held.until, lang()))}` : base);
  // What to do, as a button: back up the ones that need it (held for the quota if needed).
  $("attention-go").hidden = need.length === 0;
  setText("attention-go", t.attentionGo(need.length));
  $("attention-go").onclick = () => snapshot(need.map((r) => r.id));
}

/** @param {ResourceRow} r @param {HTMLElement} btn */
function openRowMenu(r, btn) {
  if (isOpen($("row-menu")) && menuRow && menuRow.id === r.id) { closeMenu(true); return; }
  menuRow = r;
  $("menu-open").hidden = !r.dest;
  // Square Cloud has no way to upload into a database: no put back for them.
  $("menu-putback").hidden = r.kind !== "app";
  // A shared application whose role may not restore its snapshots: no Restore….
  $("menu-restore").hidden = !mayBackUp(r);
  openMenu($("row-menu"), btn, () => { if (rowsStale) setTimeout(renderRows); });
}

/** @param {Event} ev */
function menuAction(ev) {
  const item = /** @type {HTMLElement | null} */ (/** @type {Element} */ (ev.target).closest("[data-action]"));
  if (!item || !menuRow) return;
  const r = menuRow;
  closeMenu(false);
  const row = revealRow(r.id), back = /** @type {HTMLElement | null} */ (row && row.querySelector(".more"));
  switch (item.dataset.action) {
    case "download": download(r.id); if (back) back.focus(); break;
    case "versions": openVersions(r, () => focusRowMenu(r.id)); break;
    case "restore": openRestore(r, () => focusRowMenu(r.id)); break;
    case "putback": openPutBack(r, () => focusRowMenu(r.id)); break;
    case "open": if (r.dest) ipc.openFolder(r.dest).catch(showError); if (back) back.focus(); break;
    case "folder": chooseFolder(r.id); break;
    default: break;
  }
}

export function initResources() {
  padAbove = el("li", { class: "pad", "aria-hidden": "true" });
  padBelow = el("li", { class: "pad", "aria-hidden": "true" });
  painter("rows", renderRows);
  painter("banner", renderBanner);
  const list = $("resources");
  // Scrolling moves a row's menu with its row, or closes it once the row leaves the view, and
  // draws the rows coming into view, once a frame.
  let paintQueued = false;
  list.addEventListener("scroll", () => {
    if (isOpen($("row-menu"))) followButton(list.getBoundingClientRect());
    if (paintQueued) return;
    paintQueued = true;
    requestAnimationFrame(() => { paintQueued = false; if (!isOpen($("row-menu"))) paintRows(); });
  });
  new ResizeObserver(() => { if (!isOpen($("row-menu"))) paintRows(); }).observe(list);
  // Tab to a row shows the whole row (its name with its buttons), and the rows after it are
  // drawn at once, before the next key however quickly it comes. Not for a press of the
  // pointer: the focus comes with the press, and scrolling then would move the button from
  // under the pointer before the release, and the click would be lost.
  list.addEventListener("focusin", (ev) => {
    const li = /** @type {Element} */ (ev.target).closest("li.row");
    if (!li || isOpen($("row-menu"))) return;
    if (!gate.down) li.scrollIntoView({ block: "nearest" });
    paintRows();
  });
  $("row-menu").addEventListener("click", menuAction);
  $("search").addEventListener("input", renderRows);
  $("sort").addEventListener("change", renderRows);
  $("select-all").addEventListener("change", () => {
    const on = inputEl("select-all").checked;
    for (const r of shown) { if (on && mayBackUp(r)) state.selected.add(r.id); else state.selected.delete(r.id); }
    renderRows();
  });
  $("snapshot-all").addEventListener("click", () => {
    const picked = state.rows.filter((r) => state.selected.has(r.id)).map((r) => r.id);
    // The selection is used up by the action, as in a file manager.
    state.selected.clear(); renderRows();
    // A shared application the role may not snapshot is left out (its row says why).
    snapshot(picked.length ? picked : state.rows.filter(mayBackUp).map((r) => r.id));
  });
  $("first-run-choose").addEventListener("click", () => chooseFolder(null));
  $("first-run-skip").addEventListener("click", () => { store.setItem("firstRunSkipped", "1"); renderRows(); $("search").focus(); });
  // A notification was clicked: show its resource's row.
  ipc.on(ipc.EVENTS.focusResource, (id) => {
    showView("resources");
    const row = revealRow(id);
    if (row) { row.scrollIntoView({ block: "center" }); const b = row.querySelector("button"); if (b) b.focus(); }
  });
}

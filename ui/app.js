// The window: renders state and sends intents. All HTTP and file work is in Rust.
import { strings, pickLocale } from "./i18n.js";
import { bytes, duration, relative, time, sortRows } from "./format.js";

const { invoke, Channel } = window.__TAURI__.core;
const { listen } = window.__TAURI__.event;
const $ = (id) => document.getElementById(id);

let t = strings.en;
let session = null;
let queuePaused = false;
const selected = new Set(); // resource ids ticked by the user; survives re-renders
let rows = [];
const transfers = new Map(); // resource id -> {name, state, progress}

function setText(id, text) { const el = $(id); if (el) el.textContent = text; }

function applyLocale(locale) {
  t = strings[locale] || strings.en;
  document.documentElement.lang = locale;
  $("locale").value = locale;
  setText("sign-in-title", t.signInTitle); setText("sign-in-help", t.signInHelp);
  setText("key-label", t.keyLabel); setText("sign-in", t.signIn); setText("sign-out", t.signOut);
  setText("snapshot-all", t.snapshotAll); setText("folder-label", t.folder); setText("choose-folder", t.choose);
  setText("drop-hint", t.dropHint); setText("prune", t.prune);
  setText("keep-last-label", t.keepLast); setText("keep-days-label", t.keepDays); setText("transfers-title", t.transfers); setText("cancel-all", t.cancelAll);
  setText("pause-toggle", queuePaused ? t.resume : t.pause);
  for (const [id, key] of [["h-name", "name"], ["h-runtime", "runtime"], ["h-ram", "ram"], ["h-cluster", "cluster"], ["h-server", "server"], ["h-local", "local"], ["h-actions", "actions"]]) setText(id, t[key]);
  $("search").placeholder = t.search;
  $("sort").innerHTML = "";
  for (const [v, label] of [["name", t.sortName], ["newest", t.sortNewest], ["ram", t.sortRam]]) {
    const o = document.createElement("option"); o.value = v; o.textContent = label; $("sort").append(o);
  }
  setText("demo-badge", t.demo);
  setText("plans-title", t.plans);
  setText("notify-success-label", t.notifySuccess);
  setText("reserve-label", t.reserveLabel);
  setText("metered-label", t.meteredLabel);
  setText("history-title", t.history);
  for (const [id, key] of [["plan-name-label", "planName"], ["plan-kind-label", "planKind"], ["plan-scope-label", "planScope"], ["plan-when-label", "planWhen"], ["plan-keep-label", "planKeep"], ["plan-add", "addPlan"]]) setText(id, t[key]);
  for (const [id, opts] of [["plan-kind", t.kinds], ["plan-scope", t.scopes], ["plan-when", t.whens], ["plan-keep", t.keeps]]) {
    const sel = $(id), keep = sel.value; sel.innerHTML = "";
    for (const [v, label] of Object.entries(opts)) { const o = document.createElement("option"); o.value = v; o.textContent = label; sel.append(o); }
    if (keep) sel.value = keep;
  }
  const wd = $("plan-weekday"), keepWd = wd.value; wd.innerHTML = "";
  t.weekdays.forEach((d, i) => { const o = document.createElement("option"); o.value = String(i); o.textContent = d; wd.append(o); });
  if (keepWd) wd.value = keepWd;
  $("plan-hours").setAttribute("aria-label", t.hoursLabel); $("plan-at").setAttribute("aria-label", t.atLabel);
  wd.setAttribute("aria-label", t.weekdayLabel); $("plan-keep-n").setAttribute("aria-label", t.keepNLabel);
  planFormFields();
  renderPlans();
  setText("restore-version-label", t.restoreVersion);
  setText("restore-cancel", t.cancel); setText("restore-confirm", t.restoreGo);
  setText("restore-first-label", t.restoreFirst(session && session.quota ? session.quota.remaining : 0));
  if (session) renderSession();
  renderRows(); renderTransfers(); renderLibrary();
}

let library = [];

// The files this app downloaded, newest first, with verify and show-in-folder.
function renderLibrary() {
  const tbody = document.querySelector("#library tbody");
  if (!tbody) return;
  setText("library-title", `${t.library} (${library.length})`);
  tbody.innerHTML = "";
  const sorted = [...library].sort((a, b) => a.resource_name.localeCompare(b.resource_name) || b.taken_at.localeCompare(a.taken_at));
  for (const e of sorted) {
    const tr = document.createElement("tr");
    const file = e.path.split(/[\\/]/).pop();
    for (const text of [e.resource_name, time(e.taken_at), bytes(e.size), e.verified_at ? `${t.verified} ${time(e.verified_at)}` : ""]) {
      const td = document.createElement("td"); td.textContent = text; tr.append(td);
    }
    tr.children[3].className = "verified-at";
    const actions = document.createElement("td");
    const verify = document.createElement("button");
    verify.type = "button"; verify.textContent = t.verify; verify.setAttribute("aria-label", `${t.verify}: ${file}`);
    verify.addEventListener("click", async () => {
      try { await invoke("verify_file", { path: e.path }); await loadLibrary(); } catch (err) { showError(err); }
    });
    const show = document.createElement("button");
    show.type = "button"; show.textContent = t.open; show.setAttribute("aria-label", `${t.open}: ${file}`);
    show.addEventListener("click", () => invoke("open_folder", { path: e.path.slice(0, e.path.length - file.length - 1) }).catch(showError));
    actions.append(verify, show);
    tr.append(actions);
    tbody.append(tr);
  }
  renderBanner();
}

async function loadLibrary() {
  library = await invoke("list_library", { resource: null });
  renderLibrary();
}

function notice(text, isError = false) {
  const n = $("notice");
  n.hidden = !text; n.textContent = text || ""; n.classList.toggle("error", isError);
}

function renderSession() {
  $("demo-badge").hidden = !session.demo;
  $("sign-in-view").hidden = session.signed_in;
  $("main-view").hidden = !session.signed_in;
  $("account").hidden = !session.signed_in;
  if (!session.signed_in) { $("api-key").focus(); return; }
  setText("account-name", session.account.name);
  setText("plan", `${session.account.plan} · ${session.account.memory_mb} MB`);
  renderQuota(session.quota);
}

function renderQuota(q) {
  if (!q) return;
  const parts = [t.quota(q)];
  if (q.next_free_at && q.used > 0) parts.push(t.nextFree(time(q.next_free_at)));
  if (q.used_is_estimate) parts.push(`(${t.estimated})`);
  setText("quota-text", parts.join(" · "));
  $("quota-bar").style.width = `${q.total ? (100 * q.used) / q.total : 0}%`;
  $("quota-meter").setAttribute("aria-valuemax", q.total);
  $("quota-meter").setAttribute("aria-valuenow", q.used);
}

function renderRows() {
  const tbody = document.querySelector("#resources tbody");
  if (!tbody) return;
  tbody.innerHTML = "";
  for (const r of sortRows(rows, $("sort").value, $("search").value)) {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    const cell = (text, sub) => { const td = document.createElement("td"); td.textContent = text; if (sub) { const s = document.createElement("span"); s.className = "sub"; s.textContent = sub; td.append(s); } tr.append(td); return td; };
    const cb = document.createElement("input"); cb.type = "checkbox"; cb.className = "pick"; cb.setAttribute("aria-label", r.name);
    cb.checked = selected.has(r.id);
    cb.addEventListener("change", () => { if (cb.checked) selected.add(r.id); else selected.delete(r.id); });
    const td0 = document.createElement("td"); td0.append(cb); tr.append(td0);
    cell(r.name, r.dest ? `→ ${r.dest}` : "");
    cell(r.runtime || "", r.kind === "database" ? "database" : "app");
    cell(`${r.ram} MB`); cell(r.cluster || "");
    cell(r.newest_server ? time(r.newest_server) : t.never);
    // "Last backup 3 hours ago · next in 5 hours", a dot for fresh, stale or none, and the
    // exact time on hover.
    const status = document.createElement("td");
    const dot = document.createElement("span"); dot.className = `dot ${r.health}`; dot.setAttribute("aria-hidden", "true");
    const words = document.createElement("span");
    words.textContent = r.last_backup ? t.lastBackup(relative(r.last_backup, document.documentElement.lang)) : t.noBackup;
    if (r.last_backup) words.title = time(r.last_backup);
    status.append(dot, words);
    if (r.next_backup) {
      const next = document.createElement("span"); next.className = "sub";
      next.textContent = t.nextBackup(relative(r.next_backup, document.documentElement.lang)); next.title = time(r.next_backup);
      status.append(next);
    }
    // The last 30 days: backed up, failed, missed or nothing planned.
    const strip = document.createElement("span"); strip.className = "strip";
    strip.setAttribute("role", "img");
    const counts = {};
    (r.days || []).forEach((d, i) => {
      counts[d] = (counts[d] || 0) + 1;
      const c = document.createElement("i"); c.className = d;
      const date = new Date(Date.now() - (r.days.length - 1 - i) * 86400000);
      c.title = `${date.toLocaleDateString(document.documentElement.lang)}: ${t.days[d]}`;
      strip.append(c);
    });
    strip.setAttribute("aria-label", Object.entries(counts).map(([k, n]) => `${n} × ${t.days[k]}`).join(", "));
    status.append(strip);
    tr.append(status);
    const actions = document.createElement("td");
    const btn = (label, fn) => { const b = document.createElement("button"); b.type = "button"; b.textContent = label; b.setAttribute("aria-label", `${label}: ${r.name}`); b.addEventListener("click", fn); actions.append(b); return b; };
    btn(t.snapshot, () => snapshot([r.id]));
    btn(t.download, () => download(r.id));
    const sel = document.createElement("select"); sel.setAttribute("aria-label", `${t.versions}: ${r.name}`);
    const first = document.createElement("option"); first.textContent = t.versions; first.value = ""; sel.append(first);
    sel.addEventListener("focus", async () => {
      if (sel.options.length > 1) return;
      for (const v of await invoke("list_versions", { id: r.id })) {
        const o = document.createElement("option"); o.value = v.version || ""; o.textContent = `${time(v.modified)} · ${bytes(v.size)}${v.origin ? " · " + v.origin : ""}`; sel.append(o);
      }
    });
    sel.addEventListener("change", () => { if (sel.value) download(r.id, sel.value); });
    actions.append(sel);
    btn(t.restore, () => openRestore(r));
    if (r.dest) btn(t.open, () => invoke("open_folder", { path: r.dest }).catch(showError));
    tr.append(actions);
    tbody.append(tr);
  }
}

// Plans: what each does, when it last and next runs, and what all of them need of the quota.
let plansView = null;

function planWords(p) {
  const s = p.schedule, at = (s.at || "").slice(0, 5);
  const when = s.every === "hour" ? t.planHourly : s.every === "hours" ? t.planEvery(s.hours)
    : s.every === "day" ? t.planDaily(at) : t.planWeekly(t.weekdays[s.weekday], at);
  const scope = p.scope.scope === "all" ? t.scopes.all : `${p.scope.ids.length} × ${p.scope.ids.map(nameOf).join(", ")}`;
  const keep = p.retention.keep === "last" ? `${t.keeps.last.replace("N", p.retention.n)}` : t.keeps[p.retention.keep];
  return `${p.id} — ${t.kinds[p.kind].split(":")[0]}, ${when}, ${scope}; ${t.planKeep.toLowerCase()}: ${keep}`;
}

function renderPlans() {
  const ul = $("plans");
  if (!ul || !plansView) return;
  const lang = document.documentElement.lang;
  setText("plans-need", t.plansNeed(plansView.creates_per_day, plansView.quota, plansView.reserve));
  if (document.activeElement !== $("plan-reserve")) $("plan-reserve").value = plansView.reserve;
  ul.innerHTML = "";
  for (const row of plansView.plans) {
    const li = document.createElement("li");
    const text = document.createElement("span");
    const last = row.last_run ? (row.last_run.ok ? t.lastRunOk : t.lastRunFailed)(relative(row.last_run.started, lang)) : t.notRunYet;
    text.textContent = `${planWords(row.plan)} · ${last} · ${t.nextRun(relative(row.next_run, lang))} · ${t.pruneNext(row.prune_preview.length)}`;
    if (row.prune_preview.length) text.title = row.prune_preview.join("\n");
    const rm = document.createElement("button"); rm.type = "button"; rm.textContent = t.removePlan;
    rm.setAttribute("aria-label", `${t.removePlan}: ${row.plan.id}`);
    rm.addEventListener("click", async () => { try { plansView = await invoke("remove_plan", { id: row.plan.id }); renderPlans(); await refresh(); } catch (e) { showError(e); } });
    li.append(text, rm); ul.append(li);
  }
}

// Only the fields the chosen schedule and retention use are shown.
function planFormFields() {
  const when = $("plan-when").value, keep = $("plan-keep").value;
  $("plan-hours").hidden = when !== "hours";
  $("plan-weekday").hidden = when !== "week";
  $("plan-at").hidden = when !== "day" && when !== "week";
  $("plan-keep-n").hidden = keep !== "last";
  setText("plan-keep-note", keep === "everything" ? t.keepEverythingNote : "");
}

async function loadPlans() {
  try {
    plansView = await invoke("list_plans"); renderPlans();
    const s = await invoke("get_settings"); $("notify-success").checked = !!s.notify_success;
    if (document.activeElement !== $("metered-limit")) $("metered-limit").value = s.metered_limit_mb ?? "";
    const ul = $("history"); ul.innerHTML = "";
    const runs = await invoke("list_history");
    if (!runs.length) { const li = document.createElement("li"); li.textContent = t.historyEmpty; ul.append(li); }
    for (const h of runs.slice(0, 50)) {
      const li = document.createElement("li"); li.className = h.ok ? "ok" : "failed";
      li.textContent = t.historyRow(relative(h.started, document.documentElement.lang), h.plan, h.ok, h.files, bytes(h.bytes));
      li.title = `${time(h.started)}${h.failures.length ? " — " + h.failures.join("; ") : ""}`;
      ul.append(li);
    }
  } catch (e) { showError(e); }
}

$("plan-reserve").addEventListener("change", async (ev) => {
  try { plansView = await invoke("set_plan_reserve", { reserve: Math.max(0, Number(ev.target.value) || 0) }); renderPlans(); }
  catch (e) { showError(e); if (plansView) ev.target.value = plansView.reserve; }
});

$("metered-limit").addEventListener("change", async (ev) => {
  try {
    const s = await invoke("get_settings");
    const v = ev.target.value.trim();
    s.metered_limit_mb = v === "" ? null : Math.max(0, Math.round(Number(v)) || 0);
    await invoke("save_settings", { settings: s });
  } catch (e) { showError(e); }
});

$("notify-success").addEventListener("change", async (ev) => {
  try { const s = await invoke("get_settings"); s.notify_success = ev.target.checked; await invoke("save_settings", { settings: s }); }
  catch (e) { showError(e); }
});

async function addPlan(ev) {
  ev.preventDefault();
  const when = $("plan-when").value, at = `${$("plan-at").value || "03:00"}:00`;
  const schedule = when === "hours" ? { every: "hours", hours: Number($("plan-hours").value) || 1 }
    : when === "day" ? { every: "day", at } : when === "week" ? { every: "week", weekday: Number($("plan-weekday").value), at } : { every: "hour" };
  const keep = $("plan-keep").value;
  const retention = keep === "last" ? { keep: "last", n: Math.max(1, Number($("plan-keep-n").value) || 1) }
    : keep === "everything" ? { keep: "everything" } : { keep: "calendar", daily: 7, weekly: 4, monthly: 6 };
  const scope = $("plan-scope").value === "selected" ? { scope: "resources", ids: [...selected] } : { scope: "all" };
  const plan = { id: $("plan-name").value.trim(), kind: $("plan-kind").value, scope, schedule, retention, dest: null };
  try { plansView = await invoke("add_plan", { plan }); $("plan-name").value = ""; notice(""); renderPlans(); await refresh(); }
  catch (e) { showError(e); }
}

// Everything fresh, or which resources need attention and what to do.
function renderBanner() {
  const el = $("status-banner");
  if (!el) return;
  const need = rows.filter((r) => r.health !== "fresh");
  el.hidden = rows.length === 0;
  el.className = `banner ${need.length ? "warn" : "ok"}`;
  // Three names at most: the rows say the rest.
  const names = need.slice(0, 3).map((r) => r.name).join(", ") + (need.length > 3 ? t.andMore(need.length - 3) : "");
  el.textContent = need.length ? t.attention(need.length, names) : t.allGood;
}

function renderTransfers() {
  const ul = $("transfers");
  if (!ul) return;
  $("transfers-section").hidden = transfers.size === 0;
  ul.innerHTML = "";
  for (const [id, x] of transfers) {
    const li = document.createElement("li");
    li.dataset.id = id;
    const title = document.createElement("strong"); title.textContent = x.name; li.append(title);
    const state = document.createElement("span"); state.className = `state state-${x.kind}`; state.textContent = " " + transferText(x.last); li.append(state);
    if (x.progress) {
      const p = x.progress;
      const bar = document.createElement("progress"); bar.max = p.total || 1; bar.value = p.bytes; li.append(bar);
      const info = document.createElement("div"); info.className = "progress-text";
      info.textContent = `${bytes(p.bytes)}${p.total ? " / " + bytes(p.total) : ""} · ${bytes(Math.round(p.bytes_per_sec))}/s${p.eta_secs != null ? " · ETA " + duration(p.eta_secs) : ""}`;
      li.append(info);
    }
    if (x.kind === "failed") { const b = document.createElement("button"); b.type = "button"; b.textContent = t.retry; b.addEventListener("click", () => x.retry()); li.append(b); }
    ul.append(li);
  }
}

// A transfer's state in words, in the current language.
function transferText(e) {
  switch (e.event) {
    case "waiting": return t.waiting(time(e.until), t.why[e.reason] || e.reason);
    case "postponed": return t.metered(bytes(e.bytes));
    case "paused_for_quota": return t.paused(e.until && time(e.until));
    case "creating": return t.creating(elapsed(e.since));
    case "processing": return e.answer_lost ? t.answerLost : t.processing(elapsed(e.since));
    case "joined": return t.joined;
    case "created": return t.created;
    case "done": return t.done(e.path);
    case "failed": return `${t.failed}: ${e.message}`;
    default: return "";
  }
}

// Seconds since an ISO time, as "40 s" or "2 min 5 s".
function elapsed(iso) { return duration(Math.max(0, (Date.now() - Date.parse(iso)) / 1000)); }

// While a create is being prepared, its line counts the seconds.
setInterval(() => {
  for (const x of transfers.values()) {
    if (x.last && ["creating", "processing"].includes(x.last.event)) { renderTransfers(); return; }
  }
}, 1000);

function nameOf(id) { return (rows.find((r) => r.id === id) || {}).name || id; }

// The restore dialog: the resource, the version and its date, what is replaced, and a
// snapshot of the current state first (checked, unless no quota is left today).
async function openRestore(r) {
  const dlg = $("restore-dialog");
  const sel = $("restore-version");
  setText("restore-title", t.restoreTitle(r.name));
  sel.innerHTML = "";
  let versions = [];
  try { versions = await invoke("list_versions", { id: r.id }); } catch (e) { showError(e); return; }
  for (const v of versions) {
    const o = document.createElement("option"); o.value = v.version || "";
    o.textContent = `${time(v.modified)} · ${bytes(v.size)}${v.origin ? " · " + v.origin : ""}`;
    o.dataset.when = time(v.modified); sel.append(o);
  }
  const left = session && session.quota ? session.quota.remaining : 0;
  const first = $("restore-first");
  first.disabled = left === 0; first.checked = left > 0;
  setText("restore-first-label", t.restoreFirst(left));
  setText("restore-note", left === 0 ? t.restoreNoQuota : "");
  const describe = () => setText("restore-what", t.restoreWhat(r.name, sel.selectedOptions[0] ? sel.selectedOptions[0].dataset.when : ""));
  sel.onchange = describe; describe();
  $("restore-cancel").onclick = () => dlg.close("cancel");
  dlg.onclose = async () => {
    // Only the Restore button goes on: Cancel, Escape and closing do nothing.
    if (dlg.returnValue !== "restore" || !sel.value) return;
    const version = sel.value, when = sel.selectedOptions[0].dataset.when;
    notice(t.restoring(r.name));
    try {
      await invoke("restore_snapshot", { id: r.id, version, snapshotFirst: first.checked, onEvent: onEvent((id) => snapshot([id])) });
      notice(t.restored(r.name, when));
      await refresh();
    } catch (e) { showError(e); }
  };
  dlg.returnValue = "";
  dlg.showModal();
  sel.focus();
}

// One engine event: a transfer line, the quota, or a notice. Background (scheduled) work
// arrives the same way as a click's.
function handleEvent(e, retry) {
  const id = e.resource;
  const x = transfers.get(id) || { name: nameOf(id), retry: () => retry(id) };
  switch (e.event) {
    case "waiting": case "postponed": x.kind = "waiting"; break;
    case "creating": case "processing": case "joined": case "created": x.kind = "busy"; break;
    case "downloading": x.kind = "busy"; x.progress = e.progress; break;
    case "done": x.kind = "done"; x.progress = null; break;
    case "failed": x.kind = "failed"; break;
    case "quota": if (session) session.quota = e.quota; renderQuota(e.quota); return;
    case "paused": notice(t.pausedByUser); return;
    case "resumed": notice(""); return;
    case "paused_for_quota":
      notice(t.paused(e.until && time(e.until)));
      // Waiting lines now wait for the quota, not for a window.
      for (const w of transfers.values()) if (w.kind === "waiting") w.last = e;
      renderTransfers();
      return;
    case "rate_limited": notice(t.rateLimited(time(e.until)), true); return;
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
  const row = document.querySelector(`#resources tr[data-id="${CSS.escape(ev.payload)}"]`);
  if (row) { row.scrollIntoView({ block: "center" }); const b = row.querySelector("button"); if (b) b.focus(); }
});

function showError(e) { notice(e && e.message ? e.message : String(e), true); }

async function snapshot(ids) {
  try { await invoke("create_snapshots", { ids, onEvent: onEvent((id) => snapshot([id])) }); await refresh(); } catch (e) { showError(e); }
}

async function download(id, version) {
  try { await invoke("download_snapshot", { id, version: version || null, onEvent: onEvent((rid) => download(rid, version)) }); await refresh(); } catch (e) { showError(e); }
}

async function refresh() {
  try {
    rows = await invoke("list_resources");
    const s = await invoke("get_settings");
    setText("default-folder", s.default_dest || t.noFolder);
    renderRows();
    await loadLibrary();
    await loadPlans();
  } catch (e) { showError(e); }
}

async function start() {
  applyLocale(pickLocale(null, navigator.language));
  session = await invoke("get_session");
  renderSession();
  if (session.notices.length) notice(session.notices.join(" "), true);
  if (session.signed_in) {
    const s = await invoke("get_settings");
    if (s.locale) applyLocale(s.locale);
    await refresh();
  }
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
    await refresh();
  } catch (e) {
    setText("sign-in-error", e.message || String(e));
    $("api-key").focus(); // ready to paste again, by keyboard too
  }
});
$("sign-out").addEventListener("click", async () => { session = await invoke("sign_out"); rows = []; transfers.clear(); renderSession(); });
$("search").addEventListener("input", renderRows);
$("sort").addEventListener("change", renderRows);
$("locale").addEventListener("change", async () => {
  applyLocale($("locale").value);
  if (session && session.signed_in) {
    const s = await invoke("get_settings"); s.locale = $("locale").value; await invoke("save_settings", { settings: s });
  }
});
$("select-all").addEventListener("change", (e) => {
  for (const r of sortRows(rows, $("sort").value, $("search").value)) {
    if (e.target.checked) selected.add(r.id); else selected.delete(r.id);
  }
  renderRows();
});
$("snapshot-all").addEventListener("click", () => {
    const picked = rows.filter((r) => selected.has(r.id)).map((r) => r.id);
  snapshot(picked.length ? picked : rows.map((r) => r.id));
});
$("choose-folder").addEventListener("click", async () => {
  try { const p = await invoke("pick_destination", { resource: null }); if (p) { notice(t.folderSet(p)); await refresh(); } } catch (e) { showError(e); }
});
$("cancel-all").addEventListener("click", () => invoke("cancel_transfer"));
$("pause-toggle").addEventListener("click", () => invoke("pause_queue", { paused: !queuePaused }).catch(showError));
listen("queue-paused", ({ payload }) => {
  queuePaused = payload;
  setText("pause-toggle", queuePaused ? t.resume : t.pause);
  notice(queuePaused ? t.pausedByUser : "");
});
$("plan-form").addEventListener("submit", addPlan);
$("plan-when").addEventListener("change", planFormFields);
$("plan-keep").addEventListener("change", planFormFields);

$("prune").addEventListener("click", async () => {
  const num = (id) => { const v = parseInt($(id).value, 10); return Number.isFinite(v) && v > 0 ? v : null; };
  try {
    const r = await invoke("prune_library", { keepLast: num("keep-last"), keepDays: num("keep-days") });
    notice(t.pruned(r.deleted.length));
    await refresh();
  } catch (e) { showError(e); }
});

// A folder dropped on a row sets that resource's folder; anywhere else, the default.
listen("folder-dropped", async ({ payload }) => {
  if (!payload.ok) { notice(payload.message, true); return; }
  const ratio = window.devicePixelRatio || 1;
  const el = document.elementFromPoint(payload.x / ratio, payload.y / ratio);
  const row = el && el.closest && el.closest("tr[data-id]");
  try {
    const p = await invoke("set_destination", { resource: row ? row.dataset.id : null, path: payload.path });
    notice(t.folderSet(p));
    await refresh();
  } catch (e) { showError(e); }
});
listen("tray-snapshot-all", () => snapshot(rows.map((r) => r.id)));

start().catch(showError);

// Settings: where backups go, plans, notifications and background, downloads, language and
// theme.
import { $, button, el, inputEl, selectEl, setText } from "./dom.js";
import { keyed } from "./paint.js";
import { relative } from "./format.js";
import { planFields, planFromForm, planWords } from "./plans.js";
import { chooseFolder, refresh } from "./actions.js";
import { encryptSwitch, renderRecovery, switchKey } from "./encryption.js";
import { notice, showError } from "./notice.js";
import { applyLocale, applyTheme } from "./shell.js";
import { lang, nameOf, painter, paintNow, signedIn, state, store } from "./state.js";
import * as ipc from "./ipc.js";

function renderSettings() {
  const { t, settings } = state;
  if (!settings) return;
  setText("default-folder", settings.default_dest || t.noFolder);
  // Each folder's "Keep copies here encrypted": the default one's under it, each own one's in its line.
  // Drawn again only when something it shows changed: Settings repaints on every refresh,
  // and a switch replaced between a click's press and release would not turn.
  const dest = settings.default_dest;
  keyed($("default-encrypt"), JSON.stringify([lang(), dest && switchKey(dest)]), () => dest ? [encryptSwitch(dest)] : []);
  renderRecovery();
  inputEl("notify-success").checked = !!settings.notify_success;
  inputEl("close-to-tray").checked = !!settings.close_to_tray;
  if (document.activeElement !== $("metered-limit")) inputEl("metered-limit").value = String(settings.metered_limit_mb ?? "");
  selectEl("connections").value = String(settings.connections ?? 4);
  if (document.activeElement !== $("limit-rate")) inputEl("limit-rate").value = settings.limit_rate ? String(+(settings.limit_rate / 1048576).toFixed(2)) : "";
  const own = Object.entries(settings.destinations || {});
  const key = JSON.stringify([lang(), own.map(([id, path]) => [id, nameOf(id), switchKey(path)])]);
  keyed($("own-folders"), key, () => {
    if (!own.length) return [el("li", { class: "muted", text: t.ownFoldersEmpty })];
    return own.map(([id, path]) => {
      const name = nameOf(id);
      return el("li", {}, el("span", { class: "what" }, el("strong", { text: name }), " → ", el("span", { class: "path", text: path })),
        encryptSwitch(path),
        button(t.useDefault, async () => {
          try { await ipc.clearDestination(id); await refresh(); } catch (e) { showError(e); }
        }, { "aria-label": `${t.useDefault}: ${name}` }));
    });
  });
}

// One change at a time: two quick changes each read, change and write the whole settings,
// so run side by side the second would undo the first.
/** @type {Promise<void>} */
let saving = Promise.resolve();
/** @param {(s: ipc.SettingsView) => void} change */
export function saveSettings(change) {
  saving = saving.then(async () => {
    try {
      const s = await ipc.getSettings();
      change(s);
      await ipc.saveSettings(s);
      state.settings = s;
    } catch (e) { showError(e); }
  });
  return saving;
}

/** The plans, with their last and next run; then the stored plans that cannot run. */
function renderPlans() {
  const { t, plansView } = state;
  const ul = $("plans");
  if (!plansView) return;
  setText("plans-need", t.plansNeed(plansView.creates_per_day, plansView.quota, plansView.reserve));
  if (document.activeElement !== $("plan-reserve")) inputEl("plan-reserve").value = String(plansView.reserve);
  ul.innerHTML = "";
  /** @param {string} id */
  const remove = (id) => button(t.removePlan, async () => {
    try { state.plansView = await ipc.removePlan(id); paintNow(renderPlans); await refresh(); } catch (e) { showError(e); }
  }, { "aria-label": `${t.removePlan}: ${id}` });
  for (const row of plansView.plans) {
    const last = row.last_run ? (row.last_run.ok ? t.lastRunOk : t.lastRunFailed)(relative(row.last_run.started, lang())) : t.notRunYet;
    const text = el("span", { class: "what", text: `${planWords(row.plan, t, nameOf)} · ${last} · ${t.nextRun(relative(row.next_run, lang()))} · ${t.pruneNext(row.prune_preview.length)}` });
    if (row.prune_preview.length) text.title = row.prune_preview.join("\n");
    ul.append(el("li", {}, text, remove(row.plan.id)));
  }
  // Stored plans that cannot run: said, with the engine's reason on hover, and removable.
  for (const bad of plansView.invalid || []) {
    ul.append(el("li", { class: "failed" }, el("span", { class: "what", text: t.invalidPlan(bad.id), title: bad.why }), remove(bad.id)));
  }
}

// Only the fields the chosen schedule and retention use are shown.
function planFormFields() {
  const keep = selectEl("plan-keep").value;
  const show = planFields(selectEl("plan-when").value, keep);
  $("plan-hours").hidden = !show.hours;
  $("plan-weekday").hidden = !show.weekday;
  $("plan-at").hidden = !show.at;
  $("plan-keep-n").hidden = !show.keepN;
  setText("plan-keep-note", keep === "everything" ? state.t.keepEverythingNote : "");
}

/** @param {SubmitEvent} ev */
async function addPlan(ev) {
  ev.preventDefault();
  /** @param {string} id */
  const v = (id) => /** @type {HTMLInputElement | HTMLSelectElement} */ ($(id)).value;
  const plan = planFromForm({
    name: v("plan-name"), kind: v("plan-kind"), scope: v("plan-scope"), when: v("plan-when"), hours: v("plan-hours"),
    weekday: v("plan-weekday"), at: v("plan-at"), keep: v("plan-keep"), keepN: v("plan-keep-n"), offsite: v("plan-offsite"),
  }, state.selected);
  try { state.plansView = await ipc.addPlan(plan); inputEl("plan-name").value = ""; notice(""); paintNow(renderPlans); await refresh(); }
  catch (e) { showError(e); }
}

/** @param {string} locale */
async function changeLocale(locale) {
  applyLocale(locale);
  store.setItem("locale", locale);
  if (signedIn()) await saveSettings((s) => { s.locale = locale; });
}

export function initSettings() {
  painter("settings", renderSettings);
  painter("plans", () => { planFormFields(); renderPlans(); });
  $("plan-form").addEventListener("submit", addPlan);
  $("plan-when").addEventListener("change", planFormFields);
  $("plan-keep").addEventListener("change", planFormFields);
  $("plan-reserve").addEventListener("change", async () => {
    const input = inputEl("plan-reserve");
    try { state.plansView = await ipc.setPlanReserve(Math.max(0, Number(input.value) || 0)); paintNow(renderPlans); }
    catch (e) { showError(e); if (state.plansView) input.value = String(state.plansView.reserve); }
  });
  $("metered-limit").addEventListener("change", () => {
    const v = inputEl("metered-limit").value.trim();
    saveSettings((s) => { s.metered_limit_mb = v === "" ? null : Math.max(0, Math.round(Number(v)) || 0); });
  });
  $("connections").addEventListener("change", () => {
    const n = Number(selectEl("connections").value);
    saveSettings((s) => { s.connections = n; });
  });
  $("limit-rate").addEventListener("change", () => {
    const raw = inputEl("limit-rate").value, v = Number(raw);
    saveSettings((s) => { s.limit_rate = raw.trim() === "" || !(v > 0) ? null : Math.round(v * 1048576); });
  });
  $("notify-success").addEventListener("change", () => {
    const on = inputEl("notify-success").checked;
    saveSettings((s) => { s.notify_success = on; });
  });
  $("close-to-tray").addEventListener("change", () => {
    const on = inputEl("close-to-tray").checked;
    saveSettings((s) => { s.close_to_tray = on; });
  });
  $("start-at-login").addEventListener("change", async () => {
    const box = inputEl("start-at-login");
    try { box.checked = await ipc.setStartAtLogin(box.checked); } catch (e) { showError(e); }
  });
  $("choose-folder").addEventListener("click", () => chooseFolder(null));
  $("locale").addEventListener("change", () => changeLocale(selectEl("locale").value));
  $("locale-signin").addEventListener("change", () => changeLocale(selectEl("locale-signin").value));
  $("theme").addEventListener("change", async () => {
    const pref = selectEl("theme").value;
    store.setItem("theme", pref);
    applyTheme(pref);
    if (signedIn()) await saveSettings((s) => { s.theme = pref === "system" ? null : pref; });
  });
}

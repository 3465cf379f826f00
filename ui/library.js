// "On this computer": the files downloaded, with Verify, Open folder and Prune.
import { $, button, el, inputEl, setText, when } from "./dom.js";
import { bytes, fileName, folderOf } from "./format.js";
import { loadLibrary, refresh } from "./actions.js";
import { notice, showError } from "./notice.js";
import { failure } from "./errors.js";
import { painter, state } from "./state.js";
import * as ipc from "./ipc.js";

/** Newest first within each resource, the resources by name.
 * @param {ipc.LibraryEntry[]} entries */
export function librarySorted(entries) {
  return [...entries].sort((a, b) => a.resource_name.localeCompare(b.resource_name) || b.taken_at.localeCompare(a.taken_at));
}

function renderLibrary() {
  const { t, library, damaged } = state;
  const ul = $("library");
  const total = library.reduce((n, e) => n + e.size, 0);
  setText("library-text", t.libraryText(library.length, bytes(total)));
  ul.innerHTML = "";
  if (!library.length) ul.append(el("li", { class: "empty-line", text: t.libraryEmpty }));
  for (const e of librarySorted(library)) {
    const file = fileName(e.path);
    const checked = damaged.has(e.path) ? el("span", { class: "error", text: t.checkFailed })
      : e.verified_at ? when(e.verified_at, t.verifiedRel) : el("span", { text: t.notVerified });
    checked.classList.add("verified-at");
    // An encrypted copy says so, with its size on disk on hover.
    const sealed = e.sealed_size != null
      ? [el("span", { class: "badge", text: t.encrypted, title: bytes(e.sealed_size) }), " · "] : [];
    const sub = el("div", { class: "muted" }, when(e.taken_at, t.takenRel), ` · ${bytes(e.size)} · `, ...sealed, checked);
    // Where else this copy is kept: each offsite destination, its endpoint and bucket. Kept there
    // only (an offsite-only plan's, or its file here deleted by a rule): said so.
    const only = e.here === false && (e.elsewhere || []).length > 0;
    const elsewhere = (e.elsewhere || []).map((c) => el("div", { class: "muted elsewhere",
      text: c.endpoint ? (only ? t.elsewhereOnly : t.elsewhere)(c.name, c.endpoint, c.bucket) : t.elsewhereRemoved(c.name, c.bucket), title: c.key }));
    if (e.waiting_for) elsewhere.push(el("div", { class: "muted elsewhere", text: t.libraryWaiting(e.waiting_for) }));
    const info = el("div", { class: "grow" }, el("strong", { text: e.resource_name }), el("div", { class: "path", text: file }), sub, ...elsewhere);
    const verify = button(t.verify, async () => {
      try { await ipc.verifyFile(e.path); damaged.delete(e.path); }
      // Marked damaged only when its check failed, not when it could not be checked.
      catch (err) { if (failure(err).code === "damaged") damaged.add(e.path); showError(err); }
      await loadLibrary().catch(showError);
    }, { "aria-label": `${t.verify}: ${file}` });
    const show = button(t.open, () => ipc.openFolder(folderOf(e.path)).catch(showError), { "aria-label": `${t.open}: ${file}` });
    ul.append(el("li", {}, info, el("span", { class: "actions" }, ...(only ? [] : [verify, show]))));
  }
}

export function initLibrary() {
  painter("library", renderLibrary);
  $("prune").addEventListener("click", async () => {
    /** @param {string} id */
    const num = (id) => { const v = parseInt(inputEl(id).value, 10); return Number.isFinite(v) && v > 0 ? v : null; };
    try {
      const r = await ipc.pruneLibrary(num("keep-last"), num("keep-days"));
      // The list of files first (local and quick), then the rows' last backups.
      await loadLibrary();
      notice(() => state.t.pruned(r.deleted.length));
      await refresh();
    } catch (e) { showError(e); }
  });
}

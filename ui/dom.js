// Small DOM helpers shared by the views.
import { relative, time } from "./format.js";
import { lang } from "./state.js";

/** An element of the page, by id (the page always has it). @param {string} id */
export const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
/** @param {string} id */
export const inputEl = (id) => /** @type {HTMLInputElement} */ (document.getElementById(id));
/** @param {string} id */
export const selectEl = (id) => /** @type {HTMLSelectElement} */ (document.getElementById(id));
/** @param {string} id */
export const dialogEl = (id) => /** @type {HTMLDialogElement} */ (document.getElementById(id));

/** @param {string} id @param {string} text */
export function setText(id, text) { const e = document.getElementById(id); if (e) e.textContent = text; }

/** A `<details>` holding the Rust side's own words (English, marked so) under a failure said
 * in the window's: shown (and closed again) when there are some, hidden when not; its summary
 * in the window's language. @param {string} id @param {string} detail @param {string} label */
export function setDetail(id, detail, label) {
  const d = /** @type {HTMLDetailsElement} */ (document.getElementById(id));
  const text = /** @type {HTMLElement} */ (d.querySelector(".detail-text"));
  if (text.textContent !== detail) { text.textContent = detail; d.open = false; }
  /** @type {HTMLElement} */ (d.querySelector("summary")).textContent = label;
  d.hidden = !detail;
}

/** A `<details>` made for a line of words (a status line's failure). @param {string} detail @param {string} label */
export function detailEl(detail, label) {
  return el("details", { class: "detail" }, el("summary", { text: label }), el("div", { class: "detail-text", lang: "en", text: detail }));
}

/** @typedef {string | number | boolean | null | undefined} Prop */
/**
 * An element with its properties and children. `class`, `text`, ARIA, `role`, `title` and
 * `tabindex` are attributes (left out when null); anything else is set as a property.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, Prop>} [props]
 * @param {(Node | string | null | undefined)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") e.className = String(v);
    else if (k === "text") e.textContent = String(v);
    else if (k.startsWith("aria-") || k === "role" || k === "title" || k === "tabindex") { if (v != null) e.setAttribute(k, String(v)); }
    else /** @type {any} */ (e)[k] = v;
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

/**
 * @param {Node | string | null} label
 * @param {(ev: MouseEvent) => void} onClick
 * @param {Record<string, Prop>} [props]
 */
export function button(label, onClick, props = {}) {
  const b = el("button", { type: "button", ...props });
  if (label != null) b.append(label);
  b.addEventListener("click", onClick);
  return b;
}

/** A relative time with the exact one on hover.
 * @param {string} iso @param {(rel: string) => string} [words] */
export function when(iso, words = (r) => r) {
  return el("span", { text: words(relative(iso, lang())), title: time(iso) });
}

/** Replaces a select's options, keeping the chosen value when it is still one of them.
 * @param {HTMLSelectElement} sel @param {[string, string][]} options */
export function fillSelect(sel, options) {
  const keep = sel.value;
  sel.innerHTML = "";
  for (const [v, label] of options) sel.append(el("option", { value: v, text: label }));
  if (keep && options.some(([v]) => v === keep)) sel.value = keep;
}

// Pure formatting and ordering helpers, tested with `node --test`.
import { pickLocale, strings } from "./i18n.js";

/** @param {number | null | undefined} n */
export function bytes(n) {
  if (n == null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** @param {number | null | undefined} secs */
export function duration(secs) {
  if (secs == null || !isFinite(secs)) return "";
  secs = Math.max(0, Math.round(secs));
  const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${s}s` : `${s}s`;
}

// Intl formatters are costly to build and cheap to use: one per kind and language, kept
// (a list of 1,000 rows formats thousands of dates).
const formatters = new Map();
/** @template T @param {string} kind @param {string | undefined} locale @param {() => T} make @returns {T} */
function cached(kind, locale, make) {
  const k = `${kind}|${locale ?? ""}`;
  if (!formatters.has(k)) formatters.set(k, make());
  return formatters.get(k);
}

// A date and time in the window's language (26/11/2026 19:18 in pt-BR, not 11/26/26).
/** @param {string | null | undefined} iso @param {string} [locale] */
export function time(iso, locale = globalThis.document?.documentElement?.lang || undefined) {
  if (!iso) return "";
  const f = cached("time", locale, () => new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" }));
  return f.format(new Date(iso));
}

// A clock time in the window's language: "15:10", "3:10 PM".
/** @param {string | null | undefined} iso @param {string} [locale] */
export function clock(iso, locale = globalThis.document?.documentElement?.lang || undefined) {
  if (!iso) return "";
  const f = cached("clock", locale, () => new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit" }));
  return f.format(new Date(iso));
}

// "3 hours ago", "in 5 hours", "há 3 horas": the nearest whole unit, in the given locale.
// Under a minute either way it is "just now" / "in a moment" (Intl's "this minute" reads
// like a clock, not like speech). `now` is for tests.
/** @param {string | null | undefined} iso @param {string} [locale] @param {number} [now] */
export function relative(iso, locale, now = Date.now()) {
  if (!iso) return "";
  const secs = (Date.parse(iso) - now) / 1000;
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];
  const fmt = cached("relative", locale, () => new Intl.RelativeTimeFormat(locale, { numeric: "auto" }));
  for (const [unit, size] of units) {
    if (Math.abs(secs) >= size) return fmt.format(Math.round(secs / size), unit);
  }
  const words = strings[pickLocale(locale || null, undefined)];
  return secs > 0 ? words.inAMoment : words.justNow;
}

// A day's date alone, in the given locale: "26/11/2026".
/** @param {Date} date @param {string} [locale] */
export function day(date, locale) {
  return cached("day", locale, () => new Intl.DateTimeFormat(locale)).format(date);
}

/**
 * The rows a search leaves, in the order chosen.
 * @template {{ id: string, name: string, runtime?: string | null, ram: number, newest_server?: string | null }} R
 * @param {R[]} rows @param {string} key @param {string} query
 * @returns {R[]}
 */
export function sortRows(rows, key, query) {
  const q = (query || "").trim().toLowerCase();
  const names = cached("collator", undefined, () => new Intl.Collator());
  const out = rows.filter((r) => !q || r.name.toLowerCase().includes(q) || (r.runtime || "").toLowerCase().includes(q) || r.id.startsWith(q));
  /** @type {Record<string, (a: R, b: R) => number>} */
  const sorts = {
    name: (a, b) => names.compare(a.name, b.name),
    newest: (a, b) => (b.newest_server || "").localeCompare(a.newest_server || ""),
    ram: (a, b) => b.ram - a.ram,
  };
  const by = sorts[key] || sorts.name;
  return out.sort(by);
}

/** The last part of a path, on any system. @param {string} path */
export function fileName(path) { return path.split(/[\\/]/).pop() || ""; }

/** The folder a file is in. @param {string} path */
export function folderOf(path) { return path.slice(0, path.length - fileName(path).length - 1); }

// The rules behind the list of resources, without the page: which rows are drawn for a
// scroll position, when a row must be built again, the 30-day strip, and the banner's
// verdict. Tested with `node --test`.

/** @typedef {import("./ipc.js").ResourceRow} ResourceRow */
/** @typedef {import("./ipc.js").Day} Day */

/**
 * Which of `count` rows a view of `height` px scrolled to `top` shows, and which are drawn
 * (`overscan` more either side). `first` is the first row in view, `y` its top; rows
 * [from, to) are drawn.
 * @param {number} count @param {(i: number) => number} heightAt @param {number} top
 * @param {number} height @param {number} overscan
 */
export function visibleRange(count, heightAt, top, height, overscan) {
  let first = 0, y = 0;
  while (first < count && y + heightAt(first) <= top) y += heightAt(first++);
  let last = first, bottom = y;
  while (last < count && bottom < top + height) bottom += heightAt(last++);
  return { first, y, last, from: Math.max(0, first - overscan), to: Math.min(count, last + overscan) };
}

/** A row is built again only when its data, the language, the minute (its relative times)
 * or what the view adds to it changed: in "All accounts" a row carries its account's tag,
 * and an account's first row its heading, whose count and quota are its group's.
 * @param {ResourceRow} r @param {string} lang @param {number} now
 * @param {{ id: string, rows: unknown[], quota: unknown }[] | null} groups the accounts' groups in "All accounts", null in one account's view */
export function rowKey(r, lang, now, groups = null) {
  let view = "one";
  if (groups) {
    const g = r.head ? groups.find((x) => x.id === r.account?.id) : undefined;
    view = g ? `all|${g.rows.length}|${JSON.stringify(g.quota)}` : "all";
  }
  return `${JSON.stringify(r)}|${lang}|${Math.floor(now / 60000)}|${view}`;
}

/** Px a day in the strip (5 px drawn, 1 px gap). */
export const DAY_PX = 6;
const DAY_COLOUR = { backed_up: "var(--ok)", failed: "var(--err)", missed: "var(--warn)", nothing: "var(--line)" };

/** The strip as one gradient: 30 days cost one element, not 30. @param {Day[]} days */
export function stripPaint(days) {
  const stops = days.map((d, i) => {
    const a = i * DAY_PX, b = a + DAY_PX - 1;
    return `${DAY_COLOUR[d] || "var(--line)"} ${a}px ${b}px, transparent ${b}px ${a + DAY_PX}px`;
  });
  return { image: `linear-gradient(to right, ${stops.join(", ")})`, width: days.length * DAY_PX - 1 };
}

/** The day under the pointer, `offsetX` px into a strip of `n` days, and its date (the
 * last day is today). @param {number} offsetX @param {number} n @param {number} now */
export function stripDayAt(offsetX, n, now) {
  const i = Math.min(n - 1, Math.max(0, Math.floor(offsetX / DAY_PX)));
  return { i, date: new Date(now - (n - 1 - i) * 86400000) };
}

/** The strip's accessible name: how many days of each kind, in order of first showing.
 * @param {Day[]} days @param {Record<Day, string>} words */
export function stripLabel(days, words) {
  /** @type {Map<Day, number>} */
  const counts = new Map();
  for (const d of days) counts.set(d, (counts.get(d) || 0) + 1);
  return [...counts].map(([k, n]) => `${n} × ${words[k]}`).join(", ");
}

/** Whether this account may back the row up: its own, or shared with a role that may take
 * snapshots (owner, admin). @param {ResourceRow} r */
export function mayBackUp(r) { return !r.workspace || r.workspace.may_snapshot; }

/** The rows the banner names: every one without a fresh copy that this account may back
 * up (a view-only shared application's row says so itself). @param {ResourceRow[]} rows */
export function needAttention(rows) { return rows.filter((r) => r.health !== "fresh" && mayBackUp(r)); }

/** Three names at most: the rows say the rest.
 * @param {{ name: string }[]} need @param {(n: number) => string} andMore */
export function attentionNames(need, andMore) {
  return need.slice(0, 3).map((r) => r.name).join(", ") + (need.length > 3 ? andMore(need.length - 3) : "");
}

/** "All accounts": each account's rows together, in the accounts' order, sorted and
 * searched within the account by `sortRows`; the first row of each account carries its
 * heading (`head`). An account with no row left by the search has no heading.
 * @param {ResourceRow[]} rows @param {string[]} order account ids
 * @param {(rows: ResourceRow[]) => ResourceRow[]} sortRows */
export function grouped(rows, order, sortRows) {
  return order.flatMap((id) => sortRows(rows.filter((r) => r.account && r.account.id === id))
    .map((r, i) => (i === 0 ? { ...r, head: true } : r)));
}

/** The banner's words for the rows that need attention, by account, in the accounts'
 * order: [account name, how many]. @param {ResourceRow[]} need */
export function attentionByAccount(need) {
  /** @type {Map<string, [string, number]>} */
  const by = new Map();
  for (const r of need) {
    const a = r.account ? r.account.id : "";
    const was = by.get(a);
    by.set(a, [r.account ? r.account.name : "", (was ? was[1] : 0) + 1]);
  }
  return [...by.values()];
}

import { test } from "node:test";
import assert from "node:assert/strict";
import { attentionByAccount, attentionNames, DAY_PX, grouped, mayBackUp, needAttention, rowKey, stripDayAt, stripLabel, stripPaint, visibleRange } from "./rows.js";

test("the rows in view of a scrolled list, and those drawn beyond them", () => {
  const h = () => 50;
  // 100 rows of 50 px; a 200 px view scrolled to 1,000 px shows rows 20–23.
  assert.deepEqual(visibleRange(100, h, 1000, 200, 12), { first: 20, y: 1000, last: 24, from: 8, to: 36 });
  // At the top and at the end, the overscan stops at the list's ends.
  assert.deepEqual(visibleRange(100, h, 0, 200, 12), { first: 0, y: 0, last: 4, from: 0, to: 16 });
  assert.deepEqual(visibleRange(100, h, 4900, 200, 12), { first: 98, y: 4900, last: 100, from: 86, to: 100 });
  // A row cut by the top edge is in view; rows of other heights count as they are.
  const heights = [30, 80, 40];
  assert.deepEqual(visibleRange(3, (i) => heights[i], 40, 20, 0), { first: 1, y: 30, last: 2, from: 1, to: 2 });
  assert.deepEqual(visibleRange(0, h, 0, 200, 12), { first: 0, y: 0, last: 0, from: 0, to: 0 });
});

test("a row is built again when its data, the language or the minute changes", () => {
  const r = /** @type {any} */ ({ id: "a", name: "Atlas", health: "fresh" });
  const at = Date.parse("2026-11-25T12:00:10Z");
  assert.equal(rowKey(r, "en", at), rowKey({ ...r }, "en", at + 30000));
  assert.notEqual(rowKey(r, "en", at), rowKey(r, "en", at + 60000));
  assert.notEqual(rowKey(r, "en", at), rowKey(r, "pt-BR", at));
  assert.notEqual(rowKey(r, "en", at), rowKey({ ...r, health: "stale" }, "en", at));
});

test("a row is built again when All accounts adds its tag, or its heading's count or quota changes", () => {
  const a = { id: "A", name: "Mine" };
  const r = /** @type {any} */ ({ id: "a", name: "Atlas", account: a });
  const head = /** @type {any} */ ({ ...r, head: true });
  const at = Date.parse("2026-11-25T12:00:10Z");
  const groups = (/** @type {number} */ used, /** @type {number} */ n) =>
    [{ id: "A", rows: Array(n).fill(r), quota: { used, total: 10 } }];
  // The same row in one account's view and in All accounts is drawn differently (the tag).
  assert.notEqual(rowKey(r, "en", at), rowKey(r, "en", at, groups(1, 2)));
  // A row under no heading does not change with its group's quota.
  assert.equal(rowKey(r, "en", at, groups(1, 2)), rowKey(r, "en", at, groups(2, 2)));
  // The heading row does, and with its group's count.
  assert.notEqual(rowKey(head, "en", at, groups(1, 2)), rowKey(head, "en", at, groups(2, 2)));
  assert.notEqual(rowKey(head, "en", at, groups(1, 2)), rowKey(head, "en", at, groups(1, 3)));
  assert.equal(rowKey(head, "en", at, groups(1, 2)), rowKey({ ...head }, "en", at, groups(1, 2)));
});

test("the 30-day strip: one gradient, 6 px a day, the day under the pointer", () => {
  const p = stripPaint(["backed_up", "failed", "nothing"]);
  assert.equal(p.width, 3 * DAY_PX - 1);
  assert.equal(p.image, "linear-gradient(to right, var(--ok) 0px 5px, transparent 5px 6px, var(--err) 6px 11px, "
    + "transparent 11px 12px, var(--line) 12px 17px, transparent 17px 18px)");
  const now = Date.parse("2026-11-25T12:00:00Z");
  assert.deepEqual(stripDayAt(0, 30, now), { i: 0, date: new Date(now - 29 * 86400000) });
  assert.deepEqual(stripDayAt(179, 30, now), { i: 29, date: new Date(now) });
  // Past either end, the nearest day.
  assert.equal(stripDayAt(-4, 30, now).i, 0);
  assert.equal(stripDayAt(500, 30, now).i, 29);
});

test("the strip's accessible name counts the days of each kind", () => {
  const words = { backed_up: "backed up", failed: "failed", missed: "missed", nothing: "nothing planned" };
  assert.equal(stripLabel(["nothing", "backed_up", "backed_up", "missed", "nothing"], words),
    "2 × nothing planned, 2 × backed up, 1 × missed");
});

test("the banner names the resources without a fresh copy, three at most", () => {
  const rows = /** @type {any[]} */ (["fresh", "stale", "none", "stale", "none"].map((health, i) => ({ id: String(i), name: `r${i}`, health })));
  const need = needAttention(rows);
  assert.deepEqual(need.map((r) => r.name), ["r1", "r2", "r3", "r4"]);
  assert.equal(attentionNames(need, (n) => ` and ${n} more`), "r1, r2, r3 and 1 more");
  assert.equal(attentionNames(need.slice(0, 2), (n) => ` and ${n} more`), "r1, r2");
  assert.deepEqual(needAttention(rows.slice(0, 1)), []);
});

test("a shared application is backed up only with a role that may take snapshots", () => {
  const ws = (role, may) => ({ id: "w", name: "Team", role, may_snapshot: may });
  const rows = /** @type {any[]} */ ([
    { id: "own", name: "own", health: "none" },
    { id: "adm", name: "adm", health: "none", workspace: ws("admin", true) },
    { id: "view", name: "view", health: "none", workspace: ws("view", false) },
  ]);
  assert.deepEqual(rows.map(mayBackUp), [true, true, false]);
  // The banner's "back them up" leaves out what may not be backed up: its row says why.
  assert.deepEqual(needAttention(rows).map((r) => r.id), ["own", "adm"]);
});

test("All accounts: each account's rows together, in the accounts' order, its first under its heading", () => {
  const a = { id: "A", name: "Mine" }, b = { id: "B", name: "Cliente X" };
  const rows = /** @type {any[]} */ ([
    { id: "1", name: "zeta", account: b }, { id: "2", name: "beta", account: a },
    { id: "3", name: "alpha", account: b }, { id: "4", name: "gamma", account: a },
  ]);
  /** @param {any[]} rs */
  const byName = (rs) => [...rs].sort((x, y) => x.name.localeCompare(y.name));
  const g = grouped(rows, ["B", "A"], byName);
  assert.deepEqual(g.map((r) => [r.id, !!r.head]), [["3", true], ["1", false], ["2", true], ["4", false]]);
  // The rows themselves are not changed: the heading is on a copy.
  assert.equal(rows[2].head, undefined);
  // A search that leaves an account no row leaves it no heading; an unknown account is not shown.
  /** @param {any[]} rs */
  const onlyA = (rs) => rs.filter((r) => r.account.id === "A");
  assert.deepEqual(grouped(rows, ["B", "A", "C"], onlyA).map((r) => [r.id, !!r.head]), [["2", true], ["4", false]]);
});

test("the banner counts the rows that need attention per account, in order of first showing", () => {
  const a = { id: "A", name: "Mine" }, b = { id: "B", name: "Cliente X" };
  const need = /** @type {any[]} */ ([{ id: "1", account: b }, { id: "2", account: a }, { id: "3", account: b }]);
  assert.deepEqual(attentionByAccount(need), [["Cliente X", 2], ["Mine", 1]]);
  assert.deepEqual(attentionByAccount([]), []);
});

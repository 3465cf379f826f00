import { test } from "node:test";
import assert from "node:assert/strict";
import { restoreDialog } from "./restore.js";

const A = { id: "aaaa", name: "Atlas Bot" };
const B = { id: "bbbb", name: "Loja São João" };

test("a second opening while the first one's versions load: the first answer is dropped", () => {
  const d = restoreDialog();
  const a = d.open(A);
  const b = d.open(B);
  // B's versions come first, then A's late answer.
  assert.equal(d.accept(b), true);
  assert.deepEqual(d.shown(), { id: B.id, name: B.name });
  assert.equal(d.stale(a), true);
  assert.equal(d.accept(a), false);
  // The dialog still belongs to B: its title, and what the button restores.
  assert.deepEqual(d.shown(), { id: B.id, name: B.name });
  assert.deepEqual(d.confirm(b, "v-b1"), { id: B.id, name: B.name, version: "v-b1" });
  // The first opening's handlers can restore nothing.
  assert.equal(d.confirm(a, "v-b1"), null);
});

test("the first answer arriving before the second's is dropped too", () => {
  const d = restoreDialog();
  const a = d.open(A);
  const b = d.open(B);
  assert.equal(d.accept(a), false);
  assert.equal(d.shown(), null, "nothing is shown for A");
  assert.equal(d.confirm(a, "v-a1"), null);
  assert.equal(d.accept(b), true);
  assert.deepEqual(d.confirm(b, "v-b1"), { id: B.id, name: B.name, version: "v-b1" });
});

test("one opening: its resource, and nothing without a version", () => {
  const d = restoreDialog();
  const a = d.open(A);
  assert.equal(d.stale(a), false);
  assert.equal(d.confirm(a, "v-a1"), null, "not shown yet");
  assert.equal(d.accept(a), true);
  assert.equal(d.confirm(a, ""), null);
  assert.deepEqual(d.confirm(a, "v-a1"), { id: A.id, name: A.name, version: "v-a1" });
});

test("reopening the same row makes the earlier ticket stale", () => {
  const d = restoreDialog();
  const first = d.open(A);
  const again = d.open(A);
  assert.equal(d.accept(first), false);
  assert.equal(d.accept(again), true);
  assert.equal(d.confirm(first, "v"), null);
  assert.deepEqual(d.confirm(again, "v"), { id: A.id, name: A.name, version: "v" });
});

test("a later opening stops an open dialog's button from restoring", () => {
  const d = restoreDialog();
  const b = d.open(B);
  d.accept(b);
  const a = d.open(A);
  assert.equal(d.confirm(b, "v-b1"), null);
  assert.equal(d.stale(b), true);
  d.accept(a);
  assert.deepEqual(d.confirm(a, "v-a1"), { id: A.id, name: A.name, version: "v-a1" });
});

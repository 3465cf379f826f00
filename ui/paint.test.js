import { test } from "node:test";
import assert from "node:assert/strict";
import { keyed, PressGate } from "./paint.js";

test("a part is drawn again only when what it shows changed", () => {
  /** @type {unknown[][]} */
  const drawn = [];
  const parent = { dataset: /** @type {DOMStringMap} */ ({}), replaceChildren: (/** @type {unknown[]} */ ...n) => { drawn.push(n); } };
  let made = 0;
  const make = () => { made += 1; return [`switch ${made}`]; };
  keyed(parent, "off", make);
  // The same state again (a refresh with nothing new): the node stays, so a click on it lands.
  keyed(parent, "off", make);
  keyed(parent, "off", make);
  assert.deepEqual(drawn, [["switch 1"]]);
  // A change (the folder turned on, another language): drawn again, once.
  keyed(parent, "on", make);
  keyed(parent, "on", make);
  assert.deepEqual(drawn, [["switch 1"], ["switch 2"]]);
  assert.equal(made, 2);
});

test("a part whose drawing failed is drawn again on the next repaint", () => {
  const parent = { dataset: /** @type {DOMStringMap} */ ({}), replaceChildren: () => {} };
  assert.throws(() => keyed(parent, "k", () => { throw new Error("no strings yet"); }));
  let made = 0;
  keyed(parent, "k", () => { made += 1; return []; });
  assert.equal(made, 1);
});

/** A gate on a clock the test sets (`at.t`), its timers kept to be run by hand. */
function gateAt(t = 0) {
  const at = { t };
  /** @type {[() => void, number][]} */
  const timers = [];
  const gate = new PressGate(() => at.t, (fn, ms) => { timers.push([fn, ms]); }, 1000);
  return { at, timers, gate };
}

test("what asks to be drawn while the pointer is down is drawn once, after the release", () => {
  const { at, timers, gate } = gateAt(1000);
  const drawn = [];
  const rows = () => drawn.push("rows"), drawer = () => drawn.push("drawer");
  // Not pressed: drawn at once.
  assert.equal(gate.holds(rows), false);
  gate.press();
  at.t += 50;
  assert.equal(gate.holds(rows), true);
  assert.equal(gate.holds(drawer), true);
  assert.equal(gate.holds(rows), true);
  assert.deepEqual(drawn, []);
  at.t += 80;
  gate.release();
  // Run after the click (a task later), each held painter once.
  timers.splice(0).forEach(([fn]) => fn());
  assert.deepEqual(drawn.sort(), ["drawer", "rows"]);
  assert.equal(gate.holds(rows), false);
});

test("a press held longer than the limit (a drag) holds back nothing any more", () => {
  const { at, timers, gate } = gateAt();
  const drawn = [];
  gate.press();
  at.t = 100;
  assert.equal(gate.holds(() => drawn.push("rows")), true);
  // Its timer is due when the limit is reached, release or not.
  assert.equal(timers[0][1], 900);
  at.t = 1000;
  timers[0][0]();
  assert.deepEqual(drawn, ["rows"]);
  assert.equal(gate.holds(() => drawn.push("late")), false);
});

test("a flush while a new press is held waits for that press, and one painter's failure spares the others", () => {
  const { at, timers, gate } = gateAt();
  const drawn = [];
  gate.press();
  at.t = 10;
  gate.holds(() => { throw new Error("broken view"); });
  gate.holds(() => drawn.push("rows"));
  // The release's flush comes during a second press (a release not seen, then a press).
  gate.release();
  gate.press();
  at.t = 20;
  timers.splice(0, 2)[1][0]();
  assert.deepEqual(drawn, []);
  // It asked again for when the second press reaches the limit.
  const [again, ms] = timers.splice(0)[0];
  assert.equal(ms, 990);
  at.t = 1010;
  const error = console.error;
  console.error = () => {};
  try { again(); } finally { console.error = error; }
  assert.deepEqual(drawn, ["rows"]);
});

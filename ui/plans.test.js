import { test } from "node:test";
import assert from "node:assert/strict";
import { planFields, planFromForm, planWords } from "./plans.js";
import { strings } from "./i18n.js";

const form = { name: " nightly ", kind: "snapshot", scope: "all", when: "day", hours: "6", weekday: "2", at: "03:30", keep: "calendar", keepN: "7" };

test("the plan form becomes the plan add_plan takes", () => {
  assert.deepEqual(planFromForm(form, []), {
    id: "nightly", kind: "snapshot", scope: { scope: "all" }, schedule: { every: "day", at: "03:30:00" },
    retention: { keep: "calendar", daily: 7, weekly: 4, monthly: 6 }, dest: null,
  });
  const p = planFromForm({ ...form, kind: "mirror", scope: "selected", when: "week", at: "", keep: "last", keepN: "0" }, new Set(["a", "b"]));
  assert.deepEqual(p.scope, { scope: "resources", ids: ["a", "b"] });
  assert.deepEqual(p.schedule, { every: "week", weekday: 2, at: "03:00:00" }, "no time given: 03:00");
  assert.deepEqual(p.retention, { keep: "last", n: 1 }, "keeps at least one");
  assert.deepEqual(planFromForm({ ...form, when: "hours", hours: "" }, []).schedule, { every: "hours", hours: 1 });
  assert.deepEqual(planFromForm({ ...form, when: "hour", keep: "everything" }, []).schedule, { every: "hour" });
  assert.deepEqual(planFromForm({ ...form, keep: "everything" }, []).retention, { keep: "everything" });
  assert.equal(planFromForm({ ...form, offsite: "" }, []).offsite, undefined, "this computer only");
  assert.equal(planFromForm({ ...form, offsite: "b2" }, []).offsite, "b2");
});

test("only the fields a schedule and retention use are shown", () => {
  assert.deepEqual(planFields("hour", "calendar"), { hours: false, weekday: false, at: false, keepN: false });
  assert.deepEqual(planFields("hours", "last"), { hours: true, weekday: false, at: false, keepN: true });
  assert.deepEqual(planFields("day", "everything"), { hours: false, weekday: false, at: true, keepN: false });
  assert.deepEqual(planFields("week", "calendar"), { hours: false, weekday: true, at: true, keepN: false });
});

test("a plan in words, with its resources by name", () => {
  const names = { a: "Atlas Bot", b: "Loja" };
  const nameOf = (id) => names[id] || id;
  const en = strings.en;
  assert.equal(planWords(planFromForm(form, []), en, nameOf),
    "nightly — Snapshot, daily at 03:30, Every resource; keep: 7 daily, 4 weekly, 6 monthly");
  const p = planFromForm({ ...form, kind: "mirror", scope: "selected", when: "week", weekday: "0", keep: "last", keepN: "3" }, ["a", "zz"]);
  assert.equal(planWords(p, en, nameOf), "nightly — Mirror, Mondays at 03:30, 2 × Atlas Bot, zz; keep: The last 3");
  assert.equal(planWords({ ...p, schedule: { every: "hours", hours: 6 } }, en, nameOf).split(", ")[1], "every 6 hours");
  assert.ok(planWords({ ...p, offsite: "b2" }, en, nameOf).endsWith("; keep: The last 3; also to b2"));
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { copiesChoices, copiesOf, offsiteLine, planFields, planFromForm, planWords } from "./plans.js";
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
  const both = planFromForm({ ...form, offsite: "both:b2" }, []);
  assert.equal(both.offsite, "b2");
  assert.equal(both.offsite_only, undefined, "an old field's meaning: here and there");
  assert.deepEqual(planFromForm({ ...form, offsite: "only:b2" }, []), {
    ...planFromForm(form, []), offsite: "b2", offsite_only: true,
  });
});

test("Keep copies: this computer, then each destination alone and with this computer", () => {
  const en = strings.en;
  assert.deepEqual(copiesChoices([], en), [["", "On this computer"]], "no destination: this computer only");
  assert.deepEqual(copiesChoices(["b2", "r2:eu"], en), [
    ["", "On this computer"],
    ["only:b2", "In b2"], ["both:b2", "Both: this computer and b2"],
    ["only:r2:eu", "In r2:eu"], ["both:r2:eu", "Both: this computer and r2:eu"],
  ]);
  // Each choice reads back as the fields it stands for, whatever the name holds.
  for (const [value] of copiesChoices(["b2", "r2:eu"], en)) {
    const c = copiesOf(value);
    assert.equal(value ? `${c.offsite_only ? "only" : "both"}:${c.offsite}` : "", value);
  }
  // Anything else is this computer: never a destination made up from a stray value.
  for (const odd of ["", "b2", "only:", "some:b2", ":b2"]) assert.deepEqual(copiesOf(odd), {}, odd);
  for (const lang of ["pt-BR", "es"]) {
    const t = strings[lang];
    const labels = copiesChoices(["b2"], t).map(([, label]) => label);
    assert.equal(new Set(labels).size, 3, `${lang}: three different choices`);
    assert.ok(labels.slice(1).every((l) => l.includes("b2")), lang);
  }
});

test("a run's offsite step in words: what went there, or what waits here, where and why", () => {
  const en = strings.en;
  const note = { dest: "b2", only: true, uploaded: 2, deleted: 1, waiting: 0 };
  assert.equal(offsiteLine(note, en), "b2: 2 sent, 1 deleted there by the plan's rule");
  assert.equal(offsiteLine({ ...note, error: "The bucket is gone.", code: "offsite_no_bucket" }, en),
    "b2: 2 sent, 1 deleted there by the plan's rule. Not everything went: That bucket does not exist at this address. Your copies are unchanged; create it or fix its name and region, then retry.");
  const waits = { ...note, uploaded: 0, deleted: 0, waiting: 3, waiting_in: "/d/outbox/b2", error: "The server is busy (SlowDown).", code: "offsite_busy" };
  assert.equal(offsiteLine(waits, en), `3 copies wait on this computer for the upload to b2, in /d/outbox/b2: ${en.failedWhy.offsite_busy}`);
  // A run recorded before codes were kept: the generic sentence (its words are on the tooltip).
  assert.equal(offsiteLine({ ...waits, code: undefined }, en), `3 copies wait on this computer for the upload to b2, in /d/outbox/b2: ${en.failedOther}`);
  assert.ok(offsiteLine({ ...waits, waiting: 1 }, strings["pt-BR"]).startsWith("1 cópia espera neste computador pelo envio para b2, em /d/outbox/b2"));
  assert.ok(offsiteLine(waits, strings.es).includes("3 copias esperan en esta computadora el envío a b2"));
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
    "nightly — Snapshot, daily at 03:30, Every resource; keep: 7 daily, 4 weekly, 6 monthly; copies on this computer");
  const p = planFromForm({ ...form, kind: "mirror", scope: "selected", when: "week", weekday: "0", keep: "last", keepN: "3" }, ["a", "zz"]);
  assert.equal(planWords(p, en, nameOf), "nightly — Mirror, Mondays at 03:30, 2 × Atlas Bot, zz; keep: The last 3; copies on this computer");
  assert.equal(planWords({ ...p, schedule: { every: "hours", hours: 6 } }, en, nameOf).split(", ")[1], "every 6 hours");
  assert.ok(planWords({ ...p, offsite: "b2" }, en, nameOf).endsWith("; keep: The last 3; copies on this computer and in b2"));
  assert.ok(planWords({ ...p, offsite: "b2", offsite_only: true }, en, nameOf).endsWith("; copies in b2 only"));
  assert.ok(planWords({ ...p, offsite: "b2", offsite_only: true }, strings["pt-BR"], nameOf).endsWith("; cópias só em b2"));
});

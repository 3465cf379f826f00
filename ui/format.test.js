import { test } from "node:test";
import assert from "node:assert/strict";
import { bytes, duration, fileName, folderOf, relative, sortRows, time } from "./format.js";
import { pickLocale, strings } from "./i18n.js";

test("bytes", () => {
  assert.equal(bytes(12), "12 B");
  assert.equal(bytes(8 * 1024 * 1024), "8.0 MB");
});

test("relative times, in English and Portuguese", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  assert.equal(relative("2026-11-25T09:00:00Z", "en", now), "3 hours ago");
  assert.equal(relative("2026-11-25T17:00:00Z", "en", now), "in 5 hours");
  assert.equal(relative("2026-11-24T12:00:00Z", "en", now), "yesterday");
  assert.equal(relative("2026-11-25T09:00:00Z", "pt-BR", now), "há 3 horas");
  assert.equal(relative(null, "en", now), "");
});

test("every relative-time bucket, past and future, in both languages", () => {
  const now = Date.parse("2026-11-25T12:00:00Z");
  const at = (/** @type {number} */ secs) => new Date(now + secs * 1000).toISOString();
  const min = 60, hour = 3600, day = 86400;
  /** @type {[number, string, string][]} */
  const cases = [
    [0, "just now", "agora mesmo"],
    [-20, "just now", "agora mesmo"],
    [-59, "just now", "agora mesmo"],
    [20, "in a moment", "em instantes"],
    [-min, "1 minute ago", "há 1 minuto"],
    [-5 * min, "5 minutes ago", "há 5 minutos"],
    [5 * min, "in 5 minutes", "em 5 minutos"],
    [-3 * hour, "3 hours ago", "há 3 horas"],
    [5 * hour, "in 5 hours", "em 5 horas"],
    [-day, "yesterday", "ontem"],
    [day, "tomorrow", "amanhã"],
    [-3 * day, "3 days ago", "há 3 dias"],
    [2 * day, "in 2 days", "depois de amanhã"],
    [4 * day, "in 4 days", "em 4 dias"],
    [-14 * day, "2 weeks ago", "há 2 semanas"],
    [-60 * day, "2 months ago", "há 2 meses"],
    [90 * day, "in 3 months", "em 3 meses"],
  ];
  for (const [secs, en, pt] of cases) {
    assert.equal(relative(at(secs), "en", now), en, `${secs} s in English`);
    assert.equal(relative(at(secs), "pt-BR", now), pt, `${secs} s in Portuguese`);
  }
  assert.equal(relative(at(-20), "es", now), "ahora mismo");
  assert.equal(relative(at(20), "es", now), "en un momento");
  assert.equal(relative(at(-3 * hour), "es", now), "hace 3 horas");
  assert.equal(relative(at(-day), "es", now), "ayer");
});

test("dates follow the window's language", () => {
  assert.match(time("2026-11-26T12:00:00Z", "pt-BR"), /^26\/11\/2026/);
  assert.match(time("2026-11-26T12:00:00Z", "en"), /^11\/26\/26/);
});

test("duration", () => {
  assert.equal(duration(5), "5s");
  assert.equal(duration(125), "2m 5s");
  assert.equal(duration(7260), "2h 1m");
  assert.equal(duration(null), "");
});

test("search and sort", () => {
  const rows = [
    { id: "a1", name: "Loja São João", runtime: "php", ram: 1024, newest_server: "2026-01-02" },
    { id: "b2", name: "Atlas Bot", runtime: "javascript", ram: 512, newest_server: "2026-01-03" },
  ];
  assert.deepEqual(sortRows(rows, "name", "").map((r) => r.id), ["b2", "a1"]);
  assert.deepEqual(sortRows(rows, "newest", "").map((r) => r.id), ["b2", "a1"]);
  assert.deepEqual(sortRows(rows, "ram", "").map((r) => r.id), ["a1", "b2"]);
  assert.deepEqual(sortRows(rows, "name", "PHP").map((r) => r.id), ["a1"]);
});

test("locales have the same keys", () => {
  assert.equal(pickLocale(null, "pt-BR"), "pt-BR");
  assert.equal(pickLocale(null, "en-US"), "en");
  assert.equal(pickLocale("en", "pt-BR"), "en");
  assert.equal(pickLocale(null, "es-AR"), "es");
  assert.equal(pickLocale("es", "en-US"), "es");
  // Every language has every key, and each key is of the same kind (words or a function
  // of the same arguments) as in English.
  for (const [name, table] of Object.entries(strings)) {
    assert.deepEqual(Object.keys(table).sort(), Object.keys(strings.en).sort(), name);
    for (const [k, v] of Object.entries(strings.en)) {
      const w = /** @type {Record<string, unknown>} */ (table)[k];
      assert.equal(typeof w, typeof v, `${name}.${k}`);
      if (typeof v === "function") assert.equal(/** @type {Function} */ (w).length, v.length, `${name}.${k}`);
      // A table inside (reasons, failures) has every key too, each worded.
      if (v && typeof v === "object") {
        assert.deepEqual(Object.keys(/** @type {object} */ (w)).sort(), Object.keys(v).sort(), `${name}.${k}`);
        for (const [kk, ww] of Object.entries(/** @type {object} */ (w))) assert.ok(typeof ww === "string" && ww.trim(), `${name}.${k}.${kk}`);
      }
    }
  }
});

test("a file's name and folder, with either separator", () => {
  assert.equal(fileName("/home/ana/backups/Atlas_0f1e_20261125T120000Z.zip"), "Atlas_0f1e_20261125T120000Z.zip");
  assert.equal(folderOf("/home/ana/backups/Atlas.zip"), "/home/ana/backups");
  assert.equal(fileName("C:\\Users\\ana\\b\\x.zip"), "x.zip");
  assert.equal(folderOf("C:\\Users\\ana\\b\\x.zip"), "C:\\Users\\ana\\b");
});

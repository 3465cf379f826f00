import { test } from "node:test";
import assert from "node:assert/strict";
import { offsiteOf, offsiteValue, putBackChoices } from "./choices.js";
import { strings } from "./i18n.js";

const en = strings.en, es = strings.es;
const local = [{ resource_id: "a", resource_name: "Atlas", version: "v2", taken_at: "2026-11-25T12:00:00Z", size: 2048,
  path: "/b/atlas-2.zip", downloaded_at: "2026-11-25T12:01:00Z", verified_at: null }];
const copy = (destination, over = {}) => ({ destination, bucket: "snaps", key: `pb/atlas-1.zip${over.sealed === false ? "" : ".age"}`,
  version: "v1", taken_at: "2026-11-24T12:00:00Z", size: 1024, sealed: true, configured: true, local: "/b/atlas-1.zip", ...over });

test("the copies on this computer come first, then those kept in buckets, each saying where", () => {
  const offsite = [copy("vault"), copy("old", { configured: false, sealed: false })];
  const c = putBackChoices(local, offsite, en, "en-GB");
  assert.deepEqual(c.map((x) => [x.group, x.value, x.disabled]), [
    ["here", "/b/atlas-2.zip", false],
    ["offsite", "offsite:0", false],
    ["offsite", "offsite:1", true],
  ]);
  assert.match(c[0].text, /2\.0 KB$/);
  assert.match(c[1].text, /· 1\.0 KB · in vault \(bucket snaps\) · encrypted$/);
  // A removed destination's copy stays in its bucket but cannot be fetched from here.
  assert.match(c[2].text, /in old \(destination removed here: cannot be fetched\)$/);
  assert.doesNotMatch(c[2].text, /encrypted/);
});

test("only a bucket's copies: the local file is gone, the offsite one is still offered", () => {
  const c = putBackChoices([], [copy("vault")], es, "es");
  assert.equal(c.length, 1);
  assert.equal(c[0].group, "offsite");
  assert.match(c[0].text, /en vault \(bucket snaps\) · cifrada$/);
});

test("a choice's value names its copy in a bucket, and only that", () => {
  const offsite = [copy("vault"), copy("lab")];
  assert.equal(offsiteOf(offsiteValue(1), offsite), offsite[1]);
  assert.equal(offsiteOf("offsite:7", offsite), null);
  assert.equal(offsiteOf("/b/offsite:0.zip", offsite), null, "a path is a file on this computer");
  assert.equal(offsiteOf("", offsite), null);
});

import { test } from "node:test";
import assert from "node:assert/strict";
import { applyUpload, drawerLines, elapsed, fetchingText, lineText, percent, progressText, quotaWaits, ticking, transferText, uploadId } from "./lines.js";
import { strings } from "./i18n.js";

const en = strings.en, pt = strings["pt-BR"], es = strings.es;
const now = Date.parse("2026-11-25T12:00:00Z");
const ago = (s) => new Date(now - s * 1000).toISOString();
const later = (s) => new Date(now + s * 1000).toISOString();

test("a download's line: done, total, speed and time left", () => {
  const mb = 1024 * 1024;
  assert.equal(progressText({ bytes: 12 * mb, total: 40 * mb, bytes_per_sec: 2 * mb, eta_secs: 14 }, en),
    "12.0 MB of 40.0 MB · 2.0 MB/s · 14s left");
  // A size the host did not say, and no estimate yet.
  assert.equal(progressText({ bytes: 512, total: null, bytes_per_sec: 0.4, eta_secs: null }, en), "512 B · 0 B/s");
});

test("each engine state in words", () => {
  const r = "a1";
  assert.equal(transferText({ event: "waiting", resource: r, until: later(4.2), reason: "account_window" }, en, "en", now),
    "Starts in 4s — account limit: 1 every 5 s");
  // Never "starts in 0s": a wait about to end still says a second.
  assert.match(transferText({ event: "waiting", resource: r, until: ago(3), reason: "keep_calm" }, en, "en", now), /^Starts in 1s — /);
  assert.equal(transferText({ event: "creating", resource: r, since: ago(125) }, en, "en", now), "Preparing on Square Cloud… 2m 5s");
  assert.equal(transferText({ event: "processing", resource: r, since: ago(40), answer_lost: false, until: later(60) }, en, "en", now),
    "Still preparing on Square Cloud… 40s");
  assert.match(transferText({ event: "processing", resource: r, since: ago(40), answer_lost: true, until: later(60) }, en, "en", now),
    /^Square Cloud may have made this snapshot; watching its list until .+ \(no second one is requested\)$/);
  assert.equal(transferText({ event: "paused_for_quota", until: null, held: [] }, en, "en", now), "Paused: daily quota used up");
  assert.equal(transferText({ event: "postponed", resource: r, reason: "metered", bytes: 300 * 1024 * 1024 }, en, "en", now),
    "Waits for a connection that is not metered (300.0 MB); the next run tries again");
  assert.equal(transferText({ event: "joined", resource: r, since: ago(1) }, en, "en", now), en.joined);
  assert.equal(transferText({ event: "created", resource: r, taken_at: ago(1) }, en, "en", now), "Ready on the server");
  assert.equal(transferText({ event: "done", resource: r, path: "/b/x.zip", size: 1, already_present: false }, en, "en", now),
    "Saved and verified: /b/x.zip");
  assert.equal(transferText({ event: "failed", resource: r, code: "network", message: "Reset." }, en, "en", now),
    "Failed: The connection was lost. What was saved is kept; try again and it goes on from there.");
  // A code the window has no words for: the generic sentence (the engine's message is on the
  // line's tooltip).
  assert.equal(transferText({ event: "failed", resource: r, code: "new_code", message: "Reset." }, en, "en", now),
    "Failed: This did not work. The details say why (in English).");
  assert.equal(transferText({ event: "learned", message: "x" }, en, "en", now), "");
  assert.equal(transferText(undefined, en, "en", now), "");
});

test("the words follow the language", () => {
  const e = /** @type {const} */ ({ event: "created", resource: "a", taken_at: ago(1) });
  assert.equal(transferText(e, pt, "pt-BR", now), pt.created);
  assert.notEqual(pt.created, en.created);
});

test("elapsed time never runs backwards", () => {
  assert.equal(elapsed(ago(5), now), "5s");
  assert.equal(elapsed(later(5), now), "0s");
});

test("the drawer counts what runs and waits, never the done ones; counting lines tick", () => {
  const retry = () => {};
  /** @type {Map<string, import("./state.js").Transfer>} */
  const m = new Map([
    ["a", { name: "A", kind: "busy", retry, progress: { bytes: 1, total: 2, bytes_per_sec: 1, eta_secs: 1 }, last: { event: "downloading", resource: "a", progress: { bytes: 1, total: 2, bytes_per_sec: 1, eta_secs: 1 } } }],
    ["b", { name: "B", kind: "waiting", retry, last: { event: "waiting", resource: "b", until: later(3), reason: "retry" } }],
    ["c", { name: "C", kind: "done", retry }],
    ["d", { name: "D", kind: "failed", retry, last: { event: "failed", resource: "d", code: "x", message: "y" } }],
  ]);
  const d = drawerLines(m);
  assert.deepEqual(d.list.map(([id]) => id), ["a", "b", "d"]);
  assert.equal(d.running, 1);
  assert.equal(d.waiting, 1);
  assert.equal(ticking(m.values()), true, "a waiting line counts down");
  m.delete("b");
  assert.equal(ticking(m.values()), false, "a download's progress is drawn when it comes");
});

test("the lines held for the quota, and until the latest time named", () => {
  const retry = () => {};
  const held = (until) => ({ name: "x", kind: "waiting", last: { event: "paused_for_quota", until, held: [] }, retry });
  const lines = [
    held(later(600)),
    held(later(3600)),
    { name: "y", kind: "waiting", last: { event: "waiting", resource: "y", until: later(60) }, retry },
    { name: "z", kind: "busy", last: { event: "creating", resource: "z" }, retry },
  ];
  assert.deepEqual(quotaWaits(lines), { count: 2, until: later(3600) });
  assert.deepEqual(quotaWaits([]), { count: 0, until: null });
  assert.equal(en.quotaWaits(2, "12:43"), "2 backups wait for the quota until 12:43");
  assert.equal(pt.quotaWaits(1, null), "1 backup aguarda a cota");
  assert.equal(en.allGood(36), "Everything has a copy from the last 36 hours");
});

const mb = 1024 * 1024;

test("a fetch from a bucket in words: the bucket, then how far once its size is known", () => {
  assert.equal(percent({ bytes: 40 * mb, total: 100 * mb, bytes_per_sec: 1, eta_secs: 1 }), 40);
  assert.equal(percent({ bytes: 5, total: null, bytes_per_sec: 1, eta_secs: null }), null);
  assert.equal(percent({ bytes: 3, total: 2, bytes_per_sec: 1, eta_secs: null }), 100, "never past 100");
  assert.equal(fetchingText("snaps", { bytes: 40 * mb, total: 100 * mb, bytes_per_sec: mb, eta_secs: 60 }, en), "Fetching from snaps… 40 %");
  assert.equal(fetchingText("snaps", { bytes: 0, total: null, bytes_per_sec: 0, eta_secs: null }, en), "Fetching from snaps…");
  assert.equal(fetchingText("snaps", { bytes: 1, total: 4, bytes_per_sec: 1, eta_secs: 3 }, pt), "Buscando em snaps… 25%");
  const p = { bytes: 40 * mb, total: 100 * mb, bytes_per_sec: 2 * mb, eta_secs: 30 };
  const line = { name: "Atlas", kind: "busy", retry: () => {}, progress: p,
    last: { event: "fetching", resource: "a", destination: "vault", bucket: "snaps", progress: p } };
  assert.equal(lineText(line, en, "en", now), "Fetching from snaps… 40 % · 40.0 MB of 100.0 MB · 2.0 MB/s · 30s left");
  assert.equal(transferText({ event: "fetched", resource: "a", size: 1 }, en, "en", now), en.fetched);
});

const up = (state, extra = {}) => ({ destination: "vault", bucket: "snaps", file: "/b/atlas-1.zip", resource: "a", name: "Atlas", state, ...extra });

test("an upload's line: waiting, then sending with its percent and rate, then gone to the done ones", () => {
  /** @type {Map<string, import("./state.js").Transfer>} */
  const lines = new Map();
  /** @type {import("./state.js").Finished[]} */
  const finished = [];
  let retried = 0;
  const retry = () => { retried++; };
  const id = uploadId(up("waiting"));
  applyUpload(lines, finished, up("waiting"), retry, "2026-11-25T12:00:00Z");
  assert.equal(lines.get(id).kind, "waiting");
  assert.equal(lineText(lines.get(id), en, "en", now), "to vault (snaps) · waits its turn");
  assert.deepEqual(drawerLines(lines).waiting, 1);
  const progress = { bytes: 3 * mb, total: 10 * mb, bytes_per_sec: mb, eta_secs: 7 };
  applyUpload(lines, finished, up("sending", { progress }), retry, "2026-11-25T12:00:00Z");
  assert.equal(lines.get(id).kind, "busy");
  assert.equal(lineText(lines.get(id), en, "en", now), "to vault (snaps) · 30 % · 3.0 MB of 10.0 MB · 1.0 MB/s · 7s left");
  assert.equal(lineText(lines.get(id), es, "es", now), "a vault (snaps) · 30 % · 3.0 MB de 10.0 MB · 1.0 MB/s · faltan 7s");
  applyUpload(lines, finished, up("sent", { at: "s3://snaps/pb/atlas-1.zip#vault" }), retry, "2026-11-25T12:00:09Z");
  assert.equal(lines.size, 0, "a sent upload leaves the drawer");
  assert.deepEqual(finished, [{ id, name: "Atlas", path: "/b/atlas-1.zip", at: "2026-11-25T12:00:09Z", to: { destination: "vault", bucket: "snaps" } }]);
  assert.equal(en.sentTo("vault", "snaps", "/b/atlas-1.zip"), "Sent to vault (bucket snaps): /b/atlas-1.zip");
  assert.equal(retried, 0);
});

test("a failed upload stays with its reason in words and a Retry; a stopped or unsent one goes", () => {
  const lines = new Map(), finished = [];
  let retried = 0;
  applyUpload(lines, finished, up("waiting"), () => { retried++; }, "t");
  applyUpload(lines, finished, up("failed", { code: "offsite_credentials", message: "The server refused the access key (InvalidAccessKeyId)…" }), () => {}, "t");
  const x = lines.get(uploadId(up("failed")));
  assert.equal(x.kind, "failed");
  assert.match(lineText(x, en, "en", now), /^to vault \(snaps\) · Failed: The bucket refused the access key .*add the destination again with the right key, then retry\.$/);
  assert.equal(x.last.message, "The server refused the access key (InvalidAccessKeyId)…", "the engine's words stay for the tooltip");
  x.retry();
  assert.equal(retried, 1, "Retry sends that destination's copies again");
  // Another copy behind it was not sent this time; a stopped one goes too.
  applyUpload(lines, finished, up("waiting", { file: "/b/atlas-2.zip" }), () => {}, "t");
  applyUpload(lines, finished, up("left", { file: "/b/atlas-2.zip" }), () => {}, "t");
  applyUpload(lines, finished, up("failed", { code: "cancelled", message: "The upload was cancelled." }), () => {}, "t");
  assert.equal(lines.size, 0);
  assert.equal(finished.length, 0);
});

// That every code the Rust side can send has words in every language is errors.test.js's
// check, read from the Rust sources.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { errorWords, failure, worded, wordsFor } from "./errors.js";
import { strings } from "./i18n.js";

const en = strings.en, pt = strings["pt-BR"], es = strings.es;
const root = fileURLToPath(new URL("..", import.meta.url));

/** Every production .rs file under `dir` (unit-test files left out). @param {string} dir @returns {string[]} */
function rustFiles(dir) {
  /** @type {string[]} */
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== "tests") out.push(...rustFiles(p)); }
    else if (e.name.endsWith(".rs") && e.name !== "tests.rs" && !e.name.endsWith("_tests.rs")) out.push(p);
  }
  return out;
}

/** The body of the block whose `{` is at or after `from` (braces in strings are rare enough
 * here not to matter: the bodies read are match arms of string literals). @param {string} src @param {number} from */
function block(src, from) {
  const open = src.indexOf("{", from);
  let depth = 0;
  for (let i = open; i < src.length; i++) {
    if (src[i] === "{") depth++;
    else if (src[i] === "}" && --depth === 0) return src.slice(open, i + 1);
  }
  return src.slice(open);
}

/** The source without its `#[cfg(test)]` modules (their codes are fixtures, not sent). @param {string} src */
function withoutTests(src) {
  let out = src;
  let at = out.indexOf("#[cfg(test)]");
  while (at >= 0) {
    if (/^#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{/.test(out.slice(at))) {
      const open = out.indexOf("{", at);
      out = out.slice(0, at) + out.slice(open + block(out, open).length);
      at = out.indexOf("#[cfg(test)]", at);
    } else at = out.indexOf("#[cfg(test)]", at + 1);
  }
  return out;
}

/**
 * Every code the Rust side can send the window, read from its sources:
 * - the string literals of each `fn code(&self) -> &'static str` (EngineError, DownloadError,
 *   OffsiteError, FolderError, PlanError, and any added later);
 * - each `code: "…"` a struct or event is made with (EngineError::Offsite's literals);
 * - each `UiError::new("…"` (and `Self::new("…"` in the shell's error.rs) in src-tauri.
 * @returns {Map<string, string>} code -> the first file it was found in
 */
function rustCodes() {
  /** @type {Map<string, string>} */
  const codes = new Map();
  const add = (/** @type {string} */ code, /** @type {string} */ file) => { if (!codes.has(code)) codes.set(code, file.slice(root.length)); };
  const dirs = ["crates/snapshots/src", "src-tauri/src"];
  for (const dir of dirs) {
    for (const file of rustFiles(join(root, dir))) {
      const src = withoutTests(readFileSync(file, "utf8"));
      for (const m of src.matchAll(/fn code\(&self\)\s*->\s*&'static str\s*\{/g)) {
        for (const lit of block(src, m.index || 0).matchAll(/"([a-z][a-z0-9_]*)"/g)) add(lit[1], file);
      }
      for (const m of src.matchAll(/\bcode:\s*(?:Some\()?"([a-z][a-z0-9_]*)"/g)) add(m[1], file);
      if (dir === "src-tauri/src") {
        for (const m of src.matchAll(/\b(?:UiError|Self)::new\(\s*"([a-z][a-z0-9_]*)"/g)) add(m[1], file);
      }
    }
  }
  return codes;
}

test("every code the Rust sources can send has words in every language", () => {
  const codes = rustCodes();
  // The scan reads each kind of place a code is made: were one of these missing, it would
  // have stopped seeing them and the check below would pass on nothing.
  for (const c of ["auth", "insecure", "offsite_clock", "not_a_folder", "plan_exists", "offsite_unknown", "autostart", "signed_out", "recovered", "damaged"]) {
    assert.ok(codes.has(c), `the scan no longer finds ${c}: ${[...codes.keys()].join(", ")}`);
  }
  assert.ok(codes.size >= 50, `only ${codes.size} codes found`);
  const missing = [];
  for (const [lang, t] of Object.entries(strings)) {
    for (const [code, file] of codes) {
      const w = wordsFor(code, t);
      if (!w || !w.trim()) missing.push(`${lang}: ${code} (from ${file})`);
    }
  }
  assert.deepEqual(missing, [], "codes the window has no words for; add them to failedWhy in ui/i18n.js");
});

test("a test module's codes are left out of the scan, and a code elsewhere is kept", () => {
  const src = 'fn a() { x(code: "kept") }\n#[cfg(test)]\nmod tests {\n fn b() { y(code: "fixture") { } }\n}\nfn c() { z(code: "after") }';
  const left = withoutTests(src);
  assert.ok(left.includes('"kept"') && left.includes('"after"'), left);
  assert.ok(!left.includes("fixture"), left);
});

test("a command's failure: the window's sentence by its code, the Rust message as the detail", () => {
  const e = { code: "offsite_no_bucket", message: "The bucket nightly does not exist at this endpoint." };
  assert.deepEqual(errorWords(e, en), { text: en.failedWhy.offsite_no_bucket, detail: e.message });
  assert.match(errorWords(e, pt).text, /^Esse bucket não existe/);
  assert.match(errorWords(e, es).text, /^Ese bucket no existe/);
  // The same entry a transfer line uses for the same code.
  assert.equal(errorWords({ code: "quota", message: "x" }, en).text, en.failedWhy.quota);
});

test("a code without words: the generic sentence in the language, the message kept", () => {
  const e = { code: "brand_new", message: "Something new went wrong with /tmp/x." };
  assert.deepEqual(errorWords(e, en), { text: en.failedOther, detail: e.message });
  assert.equal(errorWords(e, pt).text, pt.failedOther);
  assert.equal(errorWords(e, es).text, es.failedOther);
  // Names that objects have are no codes.
  assert.equal(wordsFor("toString", en), null);
  assert.equal(wordsFor("constructor", en), null);
  assert.equal(worded(null, null, en).detail, "");
});

test("whatever a promise was rejected with: a UiError, an Error, a string", () => {
  assert.deepEqual(failure({ code: "disk", message: "No space." }), { code: "disk", message: "No space." });
  assert.deepEqual(failure(new TypeError("x is not a function")), { code: "", message: "x is not a function" });
  assert.deepEqual(failure("command not found"), { code: "", message: "command not found" });
  assert.deepEqual(failure(undefined), { code: "", message: "" });
  assert.equal(errorWords(new Error("boom"), en).text, en.failedOther);
  assert.equal(errorWords(new Error("boom"), en).detail, "boom");
});

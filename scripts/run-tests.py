#!/usr/bin/env python3
"""Runs every test of the workspace once it is built, several at a time.

`cargo test --workspace` runs its test binaries one after another, and most of that time
goes to the window tests, which mostly wait for the app (a 2-core machine stood 3/4 idle).
Here each test binary is a job, run as cargo runs it, and each test of a target named in
--split (the window tests, the fault suite's rows) is a job of its own. Every job has its
own virtual display, D-Bus session and unlocked gnome-keyring (scripts/with-keyring.sh), so
apps that are single-instance on their session bus run side by side; --jobs run at a time.
Extra jobs (--also NAME=COMMAND) run in the same pool without a session.

Each job's output goes to target/test-logs/NAME.log; a failed job's log is printed. What each
job took is kept in target/test-times.json and orders the next run, longest first (jobs never
timed first of all: split tests, extra jobs, then the other binaries). Exits non-zero when a job fails, when a split test
listed ran nothing, or when a job outlives --timeout.
"""

import argparse
import contextlib
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "target" / "test-logs"
TIMES = ROOT / "target" / "test-times.json"
RESULT = re.compile(r"^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")
# The fault suite's own harness (crates/sqsnap/tests/soak) ends with this line.
SOAK = re.compile(r"^soak: (\d+) passed, (\d+) failed, (\d+) skipped$")


CARGO = os.environ.get("CARGO", "cargo")


class Job:
    def __init__(self, name, argv, session=True, env=None, cwd=ROOT, split=False):
        self.name, self.argv, self.session, self.env, self.cwd = name, argv, session, env or {}, cwd
        self.split = split
        self.took = 0.0
        self.code = None
        self.counts = [0, 0, 0]

    @property
    def log(self):
        return LOGS / (re.sub(r"[^A-Za-z0-9_.-]", "_", self.name) + ".log")


def built_targets():
    """The test binaries `cargo test --workspace` runs, as they were built: package, kind,
    target name, executable and the package's directory."""
    build = subprocess.run(
        [CARGO, "test", "--workspace", "--locked", "--no-run", "--message-format=json-render-diagnostics"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    if build.returncode != 0:
        sys.exit("run-tests: the build failed (its errors are above)")
    out = build.stdout
    found = []
    for line in out.splitlines():
        m = json.loads(line)
        if m.get("reason") != "compiler-artifact" or not m["profile"]["test"] or not m.get("executable"):
            continue
        manifest = Path(m["manifest_path"])
        kind = m["target"]["kind"][0]
        kind = "lib" if kind in ("lib", "rlib", "cdylib", "staticlib", "dylib") else kind
        found.append((package_name(manifest), kind, m["target"]["name"], m["executable"], manifest.parent))
    return found


def package_name(manifest):
    with open(manifest, "rb") as f:
        return tomllib.load(f)["package"]["name"]


def listed(exe):
    out = subprocess.run([exe, "--list", "--include-ignored"], cwd=ROOT, check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return [line[: -len(": test")] for line in out.splitlines() if line.endswith(": test")]


def plan(split, also):
    """A job per test binary, run as cargo runs it (from its package's directory), and one
    per test of a split target. (A `cargo test -p …` per job would build again: features
    are unified over the packages named, and make test builds them for the workspace.)"""
    jobs = []
    for pkg, kind, name, exe, cwd in built_targets():
        env = {"CARGO_MANIFEST_DIR": str(cwd), "CARGO_PKG_NAME": pkg}
        if kind == "test" and f"{pkg}:{name}" in split:
            tests = listed(exe)
            if not tests:
                sys.exit(f"run-tests: {pkg}:{name} lists no tests (its --list printed none)")
            for test in tests:
                jobs.append(Job(f"{name}::{test}", [exe, "--include-ignored", "--exact", test],
                                env=env, cwd=cwd, split=True))
        else:
            jobs.append(Job(f"{pkg}:{kind}:{name}", [exe, "--include-ignored"], env=env, cwd=cwd))
    jobs.append(Job("doctests", [CARGO, "test", "--workspace", "--locked", "--doc"]))
    for spec in also:
        name, command = spec.split("=", 1)
        jobs.append(Job(name, ["bash", "-c", command], session=False))
    return jobs


class Displays:
    """X display numbers for the jobs' Xvfb servers: none in use by another server, none
    handed to two jobs at once (`xvfb-run -a` alone can give two starting together one)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.taken = set()

    def take(self):
        with self.lock:
            n = 200
            while (n in self.taken or Path(f"/tmp/.X{n}-lock").exists()
                   or Path(f"/tmp/.X11-unix/X{n}").exists()):
                n += 1
            self.taken.add(n)
            return n

    def give_back(self, n):
        with self.lock:
            self.taken.discard(n)


RUNNING = set()
RUNNING_LOCK = threading.Lock()


def run(job, displays, timeout, base_env):
    env = dict(base_env, **job.env)
    argv = job.argv
    display = None
    if job.session:
        display = displays.take()
        argv = ["xvfb-run", "-n", str(display), "dbus-run-session", "--",
                str(ROOT / "scripts" / "with-keyring.sh"), *argv]
    start = time.monotonic()
    try:
        with open(job.log, "w") as log:
            log.write("$ " + shlex.join(argv) + "\n")
            log.flush()
            p = subprocess.Popen(argv, cwd=job.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            with RUNNING_LOCK:
                RUNNING.add(p)
            try:
                job.code = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(p.pid, sig)
                    try:
                        p.wait(timeout=grace)
                        break
                    except subprocess.TimeoutExpired:
                        pass
                log.write(f"\nrun-tests: stopped after {timeout} s\n")
                job.code = -1
            finally:
                with RUNNING_LOCK:
                    RUNNING.discard(p)
    finally:
        job.took = time.monotonic() - start
        if display is not None:
            displays.give_back(display)
    for line in job.log.read_text(errors="replace").splitlines():
        m = RESULT.match(line) or SOAK.match(line)
        if m:
            job.counts = [a + int(b) for a, b in zip(job.counts, m.groups())]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("TEST_JOBS", "4")))
    ap.add_argument("--split", default="", help="PACKAGE:TARGET,…: test targets run one test per job")
    ap.add_argument("--also", action="append", default=[], help="NAME=COMMAND, run without a session")
    ap.add_argument("--timeout", type=int, default=900, help="seconds one job may take")
    args = ap.parse_args()
    LOGS.mkdir(parents=True, exist_ok=True)
    for old in LOGS.glob("*.log"):
        old.unlink()

    started = time.monotonic()
    jobs = plan(set(filter(None, args.split.split(","))), args.also)
    try:
        times = json.loads(TIMES.read_text())
    except (OSError, ValueError):
        times = {}
    order = {j.name: i for i, j in enumerate(jobs)}
    # Longest first. Jobs never timed (a fresh clone) before all: the split tests first (the
    # window tests are the long ones), then the extra jobs, then the test binaries.
    kind = {j.name: 0 if j.split else 1 if not j.session else 2 for j in jobs}
    jobs.sort(key=lambda j: (j.name in times, -times.get(j.name, 0), kind[j.name], order[j.name]))
    print(f"run-tests: {len(jobs)} jobs, {args.jobs} at a time", flush=True)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    displays = Displays()
    queue = list(jobs)
    lock = threading.Lock()
    done = []

    stopping = threading.Event()

    def worker():
        while True:
            with lock:
                if not queue or stopping.is_set():
                    return
                job = queue.pop(0)
            try:
                run(job, displays, args.timeout, os.environ)
            except Exception as e:  # the runner's own failure is the job's, said in its log
                job.code = -1
                with open(job.log, "a") as log:
                    log.write(f"\nrun-tests: could not run this job: {e!r}\n")
            with lock:
                done.append(job)
                state = "ok" if job.code == 0 else "FAILED"
                p, f, i = job.counts
                print(f"[{len(done):3}/{len(jobs)}] {state:6} {job.name} ({job.took:.0f} s"
                      + (f"; {p} passed, {f} failed" if job.session or p or f else "") + ")",
                      flush=True)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        # Each job is in a session of its own: stop them, not only this process, and start
        # no other.
        stopping.set()
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 0)):
            with RUNNING_LOCK:
                running = list(RUNNING)
            for p in running:
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
            end = time.monotonic() + grace
            while time.monotonic() < end and any(p.poll() is None for p in running):
                time.sleep(0.2)
        sys.exit("run-tests: interrupted; the running jobs were stopped")

    failed = [j for j in done if j.code != 0]
    if len(done) != len(jobs):
        sys.exit(f"run-tests: only {len(done)} of {len(jobs)} jobs ran")
    # A split test listed but not run (a filter that matched nothing) is a failure too; a
    # fault row skipped with its reason (no root for a disk of its own) is not.
    empty = [j for j in done if j.code == 0 and j.split and j.counts[0] + j.counts[2] == 0]
    for j in failed + empty:
        print(f"\n===== {j.name}: {'ran no test' if j.code == 0 else 'failed'} "
              f"(log: {j.log.relative_to(ROOT)}) =====")
        sys.stdout.write(j.log.read_text(errors="replace"))
    times.update({j.name: round(j.took, 1) for j in done})
    TIMES.write_text(json.dumps(times, indent=1, sort_keys=True) + "\n")
    total = [sum(j.counts[k] for j in done) for k in range(3)]
    slow = sorted(done, key=lambda j: -j.took)[:6]
    print(f"\nrun-tests: {total[0]} passed, {total[1]} failed, {total[2]} ignored in "
          f"{len(done)} jobs; {time.monotonic() - started:.0f} s wall, "
          f"{sum(j.took for j in done):.0f} s of jobs")
    print("run-tests: longest: " + ", ".join(f"{j.name} {j.took:.0f} s" for j in slow))
    if failed or empty:
        print(f"run-tests: FAILED: {', '.join(j.name for j in failed + empty)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

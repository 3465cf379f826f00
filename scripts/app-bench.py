#!/usr/bin/env python3
"""The window's figures for docs/benchmarks.md, printed as Markdown table rows.

Runs the release app in demo mode (`--demo --demo-resources N`), on the display and D-Bus
session it is started in (scripts/bench.sh runs it inside xvfb-run and dbus-run-session):

- launch to the list on screen, as a person starts the app (no WebDriver): from just before
  the process is spawned to the app's log line saying the first list was painted, read from
  its stderr as it comes; for 50 and 1,000 resources, RUNS launches each, each with a fresh
  home;

and under WebKit's WebDriver (tauri-driver):
- redraws of a 1,000-row list: the sort menu changed, and the tick-all box, each timed in
  the page to the next frame, beside a frame with nothing changed;
- the whole process tree's PSS (the app, WebKit's web and network processes), idle 10 s
  after the list shows; after the list was scrolled through once; then after 100 downloads
  started from the rows' menus (scrolling down to them) and finished.

Usage: app-bench.py APP_BINARY [RUNS]
"""
import http.client
import json
import os
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

APP = os.path.abspath(sys.argv[1])
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


CONNECTIONS = {}


def call(method, url, body=None, timeout=120):
    """One kept-alive connection per driver, as WebDriver clients do."""
    u = urllib.parse.urlsplit(url)
    conn = CONNECTIONS.get(u.netloc)
    if conn is None:
        conn = CONNECTIONS[u.netloc] = http.client.HTTPConnection(u.netloc, timeout=timeout)
    data = json.dumps(body).encode() if body is not None else None
    try:
        conn.request(method, u.path, body=data, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return json.loads(r.read() or b"{}")
    except Exception:
        conn.close()
        del CONNECTIONS[u.netloc]
        raise


def children():
    """pid -> parent pid for every process."""
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                stat = open(f"/proc/{d}/stat").read()
                out[int(d)] = int(stat[stat.rindex(")") + 2:].split()[1])
            except OSError:
                pass
    return out


def tree(root):
    parents = children()
    pids, grew = {root}, True
    while grew:
        grew = False
        for p, pp in parents.items():
            if pp in pids and p not in pids:
                pids.add(p)
                grew = True
    return pids


def pss_mib(root):
    total = 0
    for p in tree(root):
        try:
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def app_pid(home):
    """The app process started for this session (its environment names our home)."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") != APP:
                continue
            env = open(f"/proc/{d}/environ", "rb").read()
        except OSError:
            continue
        if f"HOME={home}".encode() in env.split(b"\0"):
            return int(d)
    return None


def fresh_home():
    """A new home for one launch: (home, its backup folder, the app's environment)."""
    home = tempfile.mkdtemp(prefix="sqsnap-appbench-")
    out = os.path.join(home, "backups")
    data = os.path.join(home, "data")
    os.makedirs(os.path.join(data, "demo"))
    os.makedirs(out)
    # A default folder is set, so the list shows rather than the first-run card.
    with open(os.path.join(data, "demo", "settings.json"), "w") as f:
        json.dump({"default_dest": out}, f)
    env = dict(os.environ, HOME=home, SQSNAP_DATA_DIR=data, NO_AT_BRIDGE="1",
               XDG_DATA_HOME=os.path.join(home, ".local/share"),
               XDG_CONFIG_HOME=os.path.join(home, ".config"),
               XDG_CACHE_HOME=os.path.join(home, ".cache"))
    return home, out, env


class Session:
    def __init__(self, resources):
        self.home, self.out, env = fresh_home()
        port, native = free_port(), free_port()
        self.driver = subprocess.Popen(
            ["tauri-driver", "--port", str(port), "--native-port", str(native)],
            env=env, stdout=subprocess.DEVNULL, stderr=open(os.environ.get("APP_BENCH_LOG", os.devnull), "ab"))
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": APP, "args": ["--demo", "--demo-resources", str(resources)]}}}}
        # The driver listens once it is up; one session request then (a second one while
        # the first is being answered would start a second app).
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        # Listening is not ready: until WebKit's driver is up behind it, tauri-driver drops
        # the request. Ask again on a new connection.
        while True:
            try:
                v = call("POST", f"{self.base}/session", caps)
                break
            except (http.client.HTTPException, ConnectionError):
                if time.time() > deadline + 30:
                    raise
                time.sleep(0.2)
        if "sessionId" not in v.get("value", {}):
            raise RuntimeError(f"no session: {v}")
        self.id = v["value"]["sessionId"]
        self.pid = app_pid(self.home)

    def js(self, script, *args):
        return call("POST", f"{self.base}/session/{self.id}/execute/sync",
                    {"script": script, "args": list(args)})["value"]

    def js_async(self, script, *args):
        return call("POST", f"{self.base}/session/{self.id}/execute/async",
                    {"script": script, "args": list(args)})["value"]

    def wait_rows(self, n, limit=120):
        """Epoch seconds of the rows-shown mark, once n rows are in the list."""
        deadline = time.time() + limit
        while time.time() < deadline:
            v = self.js("""const m = performance.getEntriesByName("rows-shown")[0];
                const row = document.querySelector("#resources li.row");
                return m && row ? [performance.timeOrigin + m.startTime,
                                   Number(row.getAttribute("aria-setsize"))] : null;""")
            if v and v[1] >= n:
                return v[0] / 1000
            time.sleep(0.02)
        raise RuntimeError(f"the list did not reach {n} rows in {limit} s")

    def close(self):
        try:
            call("DELETE", f"{self.base}/session/{self.id}")
        except OSError:
            pass
        self.driver.kill()
        self.driver.wait()
        shutil.rmtree(self.home, ignore_errors=True)


def fmt(v, unit=""):
    return f"{statistics.median(v):.0f}{unit} ({min(v):.0f}–{max(v):.0f})"


SHOWN = b"the list is on screen"


def launch(resources, limit=60):
    """Milliseconds from spawning the app to its log line saying the first list was painted
    (the page sends it after the frame with the rows), RUNS launches with a fresh home each."""
    times = []
    for _ in range(RUNS):
        home, _, env = fresh_home()
        start = time.time()
        p = subprocess.Popen([APP, "--demo", "--demo-resources", str(resources)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             start_new_session=True)
        try:
            seen, shown = b"", None
            while shown is None:
                left = start + limit - time.time()
                if left <= 0 or not select.select([p.stderr], [], [], left)[0]:
                    raise RuntimeError(f"no list on screen in {limit} s: {seen[-2000:]!r}")
                chunk = os.read(p.stderr.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"the app ended before its list showed: {seen[-2000:]!r}")
                seen += chunk
                if SHOWN in seen:
                    shown = time.time()
            times.append((shown - start) * 1000)
        finally:
            # The app and WebKit's processes (one process group).
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            shutil.rmtree(home, ignore_errors=True)
    return times


def main():
    rows = []
    for n in (50, 1000):
        t = launch(n)
        rows.append(f"| App: launch to the list on screen, {n:,} resources (ms) | {fmt(t)} | "
                    f"{'met' if statistics.median(t) <= 1000 else 'missed'} (≤ 1,000 ms) |")
        print(rows[-1], file=sys.stderr)
    s = Session(1000)
    try:
        s.wait_rows(1000)
        time.sleep(3)  # the list settles (the newest snapshots are learnt, once)
        # Two kinds of redraw of a 1,000-row list, each timed from the change to the next
        # frame: a new order (the sort menu) and every row ticked (the tick-all box).
        redraw = s.js_async("""const done = arguments[arguments.length - 1];
            const sort = document.getElementById("sort"), all = document.getElementById("select-all");
            const order = ["ram", "name"], moved = [], rebuilt = [], idle = [];
            let lastFirst = null;
            const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
            (async () => {
              for (let i = 0; i < 20; i++) {
                let t = performance.now();
                sort.value = order[i % 2];
                sort.dispatchEvent(new Event("change"));
                await frame();
                moved.push(performance.now() - t);
                t = performance.now();
                all.checked = !all.checked;
                all.dispatchEvent(new Event("change"));
                await frame();
                rebuilt.push(performance.now() - t);
                t = performance.now();
                await frame();
                idle.push(performance.now() - t);
                // Only the rows in view (and a few beyond) are drawn: the list must say it
                // holds 1,000, and its first row must have changed with the order.
                const first = document.querySelector("#resources li.row");
                const n = Number(first.getAttribute("aria-setsize"));
                if (n !== 1000) { done("rows: " + n); return; }
                if (first.dataset.id === lastFirst) { done("the order did not change"); return; }
                lastFirst = first.dataset.id;
              }
              all.checked = false; all.dispatchEvent(new Event("change"));
              done([moved, rebuilt, idle]);
            })();""")
        if not isinstance(redraw, list):
            raise RuntimeError(f"redraw: {redraw}")
        for what, v in zip(("a new order", "all ticked"), redraw):
            rows.append(f"| App: redraw of 1,000 rows, {what}, to the next frame (ms, "
                        f"{len(v)} times) | {fmt(v)} | "
                        f"{'met' if statistics.median(v) <= 100 else 'missed'} (≤ 100 ms) |")
            print(rows[-1], file=sys.stderr)
        # What waiting for a frame costs here with nothing to draw: the floor under both.
        rows.append(f"| App: the next frame with nothing changed (ms, {len(redraw[2])} times) "
                    f"| {fmt(redraw[2])} | the floor of the two rows above |")
        time.sleep(10)
        idle = pss_mib(s.pid)
        # The whole list looked over once, a screen at a time, down and back up: WebKit
        # keeps what it drew for scrolling (tiles, glyphs, the rows built), about 80 MiB
        # here the first time and no more after. The downloads below scroll the list too, so
        # their growth is measured from this figure, not from the one before any scrolling.
        s.js_async("""const done = arguments[arguments.length - 1];
            const list = document.getElementById("resources");
            const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
            (async () => {
              while (list.scrollTop + list.clientHeight < list.scrollHeight - 1) {
                list.scrollTop += list.clientHeight; await frame();
              }
              list.scrollTop = 0; await frame(); done(true);
            })();""")
        time.sleep(10)
        warm = pss_mib(s.pid)
        # 100 downloads, each from a row's "⋯" menu as a person would start it, scrolling
        # down the list for the rows after the first screen.
        names = []
        while len(names) < 100:
            more = s.js_async("""const done = arguments[arguments.length - 1];
                const list = document.getElementById("resources"), seen = new Set(arguments[0]);
                const ids = [...list.querySelectorAll("li.row")].filter((li) => {
                  const r = li.getBoundingClientRect(), v = list.getBoundingClientRect();
                  return r.top >= v.top && r.bottom <= v.bottom && !seen.has(li.dataset.id) &&
                    li.querySelector(".name").textContent.startsWith("demo app");
                }).map((li) => li.dataset.id);
                for (const id of ids.slice(0, 100 - seen.size)) {
                  list.querySelector(`li[data-id="${id}"] button.more`).click();
                  document.getElementById("menu-download").click();
                }
                list.scrollTop += list.clientHeight;
                requestAnimationFrame(() => setTimeout(() => done(ids.slice(0, 100 - seen.size))));""",
                names)
            if not more:
                raise RuntimeError(f"only {len(names)} demo apps found in the list")
            names += more
        deadline = time.time() + 600
        while True:
            done = [f for f in os.listdir(s.out) if f.endswith(".zip")]
            busy = s.js("""return document.querySelectorAll("#transfers li").length;""")
            if len(done) >= len(names) and busy == 0:
                break
            if time.time() > deadline:
                raise RuntimeError(f"{len(done)} of {len(names)} downloads finished in 600 s")
            time.sleep(0.5)
        time.sleep(10)
        after = pss_mib(s.pid)
        growth = (after / warm - 1) * 100
        rows.append(f"| App: PSS of the process tree, idle after start, 1,000 resources (MiB) "
                    f"| {idle:.0f} | published |")
        rows.append(f"| App: PSS after the whole list was scrolled through once (MiB) "
                    f"| {warm:.0f} | published |")
        rows.append(f"| App: PSS after {len(names)} downloads, against the line above (MiB) "
                    f"| {after:.0f} ({growth:+.1f} %) | {'met' if growth <= 10 else 'missed'} "
                    f"(≤ +10 %) |")
    finally:
        s.close()
    print("\n".join(rows))


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# What a kill -9 at half of a 1 GiB download costs, and where it comes from: for each kill,
# the bytes the host sent twice, what it had sent by the kill beside what the sidecar had
# recorded, and what sat in the sockets' queues just before the kill (read by `ss`).
# Usage: scripts/kill-breakdown.sh [N] [sqsnap binary ...]   (default: 10, target/release/sqsnap)
# With several binaries, the kills alternate between them.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10}; shift || true
bins=("$@"); [ ${#bins[@]} -gt 0 ] || bins=(target/release/sqsnap)
tmp=$(mktemp -d)
sim=""
trap '[ -n "$sim" ] && kill $sim 2>/dev/null; rm -rf "$tmp"' EXIT
cat >"$tmp/account.json" <<JSON
{"id":"1","name":"bench","email":"b@example.com","plan":"standard-4","memory_mb":4096,
 "applications":[{"id":"00000000000000000000000000000001","name":"one gib","kind":"rust","ram":512,"snapshot_size":1073741824,"history":1}]}
JSON
. scripts/sim-env.sh
start_sim "$tmp/account.json"
one=00000000000000000000000000000001
# The file host's port: its sockets' send queues are the host's, the others' ours.
fport=$(url_of $one | python3 -c 'import sys,urllib.parse; print(urllib.parse.urlparse(sys.stdin.read().strip()).port)')
# As in make bench: 100 MB/s a connection, so the kill lands mid-way.
cap_each 100000000
for i in $(seq "$N"); do
  for bin in "${bins[@]}"; do
    rm -rf "$tmp/out" "$tmp/data"; mkdir -p "$tmp/out"
    before=$(served)
    "$bin" download $one --dest "$tmp/out" --connections 4 >/dev/null 2>&1 &
    pid=$!
    python3 - "$tmp/out" <<'PY'
import glob, json, sys, time
def half():
    for p in glob.glob(sys.argv[1] + "/*.part.json"):
        try:
            return sum(b - a for a, b in json.load(open(p))["done"]) >= 536870912
        except Exception:
            return False
    return False
while not half():
    time.sleep(0.01)
PY
    ss -tnH state established "( sport = :$fport or dport = :$fport )" >"$tmp/ss"
    kill -9 $pid; wait $pid 2>/dev/null || true
    sleep 0.3
    atkill=$(served)
    rec=$(python3 -c "import glob,json; print(sum(b-a for p in glob.glob('$tmp/out/*.part.json') for a,b in json.load(open(p))['done']))")
    q=$(awk -v p=":$fport" '{ if ($3 ~ p"$") s+=$2; else r+=$1 } END {print r+0, s+0}' "$tmp/ss")
    "$bin" download $one --dest "$tmp/out" --connections 4 >/dev/null 2>&1
    after=$(served)
    python3 -c "
M=1048576; size=1073741824
twice=$after-$before-size; by_kill=$atkill-$before; r,s=map(int,'$q'.split())
print(f'{\"$bin\":28} twice {twice*100/size:5.2f} %  sent by the kill {by_kill/M:6.1f} MiB, recorded {$rec/M:6.1f}, queued: ours {r/M:5.1f}, host {s/M:5.1f}')"
  done
done

#!/usr/bin/env bash
# The README's simulator example, run as written: the envelope, a create whose URL downloads
# a zip that `unzip -t` accepts, and a second create within 5 s answered 429 KEEP_CALM.
set -euo pipefail
scripts/lib/test-build.sh
port=${SIM_PORT:-8787}
out=$(mktemp)
./target/debug/squarecloud-sim --port "$port" --api-key demo-key >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null || true; rm -rf "$out" "$tmp"' EXIT
tmp=$(mktemp -d)
for _ in $(seq 50); do [ -s "$out" ] && break; sleep 0.1; done
base=$(head -1 "$out")
[ "$base" = "http://127.0.0.1:$port/v2" ] || { echo "unexpected first line: $base"; exit 1; }
me=$(curl -sf -H 'Authorization: demo-key' "$base/users/me")
echo "$me" | grep -q '"status":"success"' && echo "$me" | grep -q '"name":"standard-4"'
app=0f1e2d3c4b5a69788796a5b4c3d2e1f0
url=$(curl -sf -X POST -H 'Authorization: demo-key' "$base/apps/$app/snapshots" | sed -E 's/.*"url":"([^"]+)".*/\1/')
curl -sf -o "$tmp/snap.zip" "$url"
unzip -tq "$tmp/snap.zip"
code=$(curl -s -o "$tmp/second.json" -w '%{http_code}' -X POST -H 'Authorization: demo-key' "$base/databases/92a3b4c5d6e7f8091a2b3c4d5e6f7081/snapshots")
[ "$code" = 429 ] && grep -q '"code":"KEEP_CALM"' "$tmp/second.json"
echo "readme-check: 3 passed, 0 failed"

#!/usr/bin/env bash
# The offsite upload row of `make bench`: 200 MiB uploaded to a real S3 server on loopback
# (the release s3s-fs example, SigV4 on) by `sqsnap offsite sync`, beside `rclone copy`
# (Debian's) to the same server. Prints two Markdown table rows (wall, CPU). Needs a keychain
# for the destination's secret: run outside one, it starts a throwaway gnome-keyring.
# Medians of RUNS runs (default 5), after one uncounted warm-up each.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SQSNAP_EXPECT_KEYRING:-}" != present ]; then
  exec dbus-run-session -- scripts/with-keyring.sh "$0" "$@"
fi
RUNS=${RUNS:-5}
command -v rclone >/dev/null || scripts/ensure-deps.sh rclone >&2
tmp=$(mktemp -d)
sim="" s3=""
trap '[ -n "$sim" ] && kill $sim 2>/dev/null; [ -n "$s3" ] && kill $s3 2>/dev/null; rm -rf "$tmp"' EXIT
export SQSNAP_KEYRING_SERVICE=app.squaresnapshots.bench-offsite
cat >"$tmp/account.json" <<JSON
{"id":"1","name":"bench","email":"b@example.com","plan":"standard-4","memory_mb":4096,
 "applications":[
  {"id":"00000000000000000000000000000002","name":"two hundred mib","kind":"rust","ram":512,"snapshot_size":209715200,"history":1}]}
JSON
. scripts/sim-env.sh
start_sim "$tmp/account.json"
bin=target/release
mkdir -p "$tmp/s3/bench" "$tmp/dl"
export S3_AK=benchaccesskey S3_SK=bench-secret-key-0123456789
"$bin/examples/s3-server" "$tmp/s3" "$tmp/s3port" &
s3=$!
for _ in $(seq 50); do [ -s "$tmp/s3port" ] && break; sleep 0.1; done
endpoint="http://127.0.0.1:$(cat "$tmp/s3port")"
printf %s "$S3_SK" >"$tmp/sk" && chmod 600 "$tmp/sk"
# Signed in (the account is the current one), and the 200 MiB snapshot in the library.
unset SQUARECLOUD_API_KEY
printf %s bench-key | "$bin/sqsnap" login >/dev/null
"$bin/sqsnap" download 00000000000000000000000000000002 --dest "$tmp/dl" >/dev/null 2>&1
file=$(ls "$tmp/dl"/*.zip)

one() { # NAME: a new destination (so the file is missing there), then one timed sync
  "$bin/sqsnap" offsite add "$1" --endpoint "$endpoint" --bucket bench --access-key-id "$S3_AK" \
    --prefix "$1" --path-style --no-encrypt --secret-key-file "$tmp/sk" >/dev/null
  sync
  /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$bin/sqsnap" offsite sync "$1" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 1; }
  cmp "$file" "$tmp/s3/bench/$1/$(basename "$file")"
}
rc() { # one timed rclone copy of the same file
  sync
  # AWS_CA_BUNDLE (set on some machines) makes rclone refuse its own transport.
  env -u AWS_CA_BUNDLE RCLONE_CONFIG=/dev/null RCLONE_S3_PROVIDER=Other RCLONE_S3_ENDPOINT="$endpoint" \
    RCLONE_S3_ACCESS_KEY_ID="$S3_AK" RCLONE_S3_SECRET_ACCESS_KEY="$S3_SK" \
    RCLONE_S3_FORCE_PATH_STYLE=true RCLONE_S3_REGION=us-east-1 \
    /usr/bin/time -f "%e %U %S" -o "$tmp/t" rclone copy "$file" ":s3:bench/rclone-$1/" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 1; }
  cmp "$file" "$tmp/s3/bench/rclone-$1/$(basename "$file")"
}
row() { read -r e u s <"$tmp/t"; echo "$e $(python3 -c "print(round($u+$s,2))")" >>"$tmp/$1"; }
one warm; rc warm
for i in $(seq "$RUNS"); do
  one "run$i"; row sq
  rc "run$i"; row rc
done
stat() {
  python3 - "$tmp/$1" "$2" <<'PY'
import statistics, sys
v = [float(l.split()[int(sys.argv[2]) - 1]) for l in open(sys.argv[1])]
print(f"{statistics.median(v):.2f} ({min(v):.2f}–{max(v):.2f})")
PY
}
ratio() { python3 -c "
import statistics
m=lambda f: statistics.median(float(l.split()[$2-1]) for l in open(f))
print(f'{m(\"$tmp/sq\")/m(\"$tmp/rc\"):.2f}×')"; }
echo "| 200 MiB to S3 (s3s-fs) on loopback: wall | $(stat sq 1) | rclone copy $(stat rc 1) | $(ratio x 1) | ≤ 1.05× |"
echo "| the same: CPU s | $(stat sq 2) | rclone copy $(stat rc 2) | $(ratio x 2) | |"

#!/usr/bin/env bash
# Writes crates/snapshots/tests/fixtures/a4040b1/: a data dir made by the release before
# accounts (commit a4040b1, one account, every state file at the top of the data dir), for
# the test that opens it migrated (crates/snapshots/tests/accounts.rs).
#
#   git worktree add /tmp/old a4040b1
#   (cd /tmp/old && cargo build -p snapshots --bin sqsnap --example legacy_settings \
#        -p squarecloud-sim --bin squarecloud-sim)     # after copying the example, below
#   scripts/legacy-fixture.sh /tmp/old
#
# That commit's sqsnap writes the ledger, library and plans; its app wrote settings.json,
# which an example built against that commit's engine writes here (its source is below).
set -euo pipefail
old=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/crates/snapshots/tests/fixtures/a4040b1"
if [ ! -x "$old/target/debug/legacy_settings" ] && [ ! -x "$old/target/debug/examples/legacy_settings" ]; then
  mkdir -p "$old/crates/snapshots/examples"
  cat >"$old/crates/snapshots/examples/legacy_settings.rs" <<'RS'
//! Writes settings.json in the data dir given, as the app of this commit did.
use snapshots::settings::Settings;
use snapshots::statedir::StateDir;
fn main() {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("data dir"));
    let root = std::path::PathBuf::from(std::env::args().nth(2).expect("root"));
    let state = StateDir::open(&dir).unwrap();
    state
        .update("settings.json", |s: &mut Settings| {
            s.default_dest = Some(root.join("backups"));
            s.destinations.insert("00000000000000000000000000000001".into(), root.join("db-backups"));
            s.keep_last = Some(5);
            s.close_to_tray = false;
            s.locale = Some("pt-BR".into());
            s.full_verify = true;
            s.theme = Some("dark".into());
            s.connections = Some(2);
        })
        .unwrap();
}
RS
  (cd "$old" && cargo build -q -p snapshots --example legacy_settings)
fi
tmp=$(mktemp -d)
trap 'kill $sim 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$old/target/debug/squarecloud-sim" --port "$port" --api-key legacy-key --seed 4040 >"$tmp/url" &
sim=$!
for _ in $(seq 50); do [ -s "$tmp/url" ] && break; sleep 0.1; done
# The fixture's paths are written under this root; the test puts its own root in their place.
root=/LEGACY_ROOT
export SQUARECLOUD_API_URL=$(head -1 "$tmp/url") SQUARECLOUD_API_KEY=legacy-key SQSNAP_DATA_DIR="$tmp$root/data"
mkdir -p "$tmp$root/backups"
sq="$old/target/debug/sqsnap"
"$old/target/debug/examples/legacy_settings" "$SQSNAP_DATA_DIR" "$root"
app=$("$sq" list --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])')
"$sq" snapshot "$app" --download --dest "$tmp$root/backups"
"$sq" plan add nightly --snapshot --daily 03:00 --keep-last 3 --dest "$tmp$root/backups" "$app"
"$sq" plan add mirror --mirror --hourly --dest "$tmp$root/backups"
"$sq" plan reserve 2
rm -rf "$out"
mkdir -p "$out"
# Everything the data dir holds but its lock (the zips stay out: the library's paths only).
(cd "$SQSNAP_DATA_DIR" && find . -type f ! -name .lock ! -path './locks/*' ! -path './claims/*' -print0 | xargs -0 -I{} cp --parents {} "$out/")
# The absolute temp prefix becomes the placeholder root.
grep -rl "$tmp" "$out" | xargs -r sed -i "s#$tmp$root#$root#g"
ls -la "$out"

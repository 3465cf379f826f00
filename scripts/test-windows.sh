#!/usr/bin/env bash
# sqsnap for Windows, cross-built here (x86_64-pc-windows-gnu, Debian's mingw-w64) and run
# under Wine against the simulator on loopback:
#   1. `sqsnap.exe --help` runs;
#   2. `sqsnap.exe --json snapshot ID --download` takes a snapshot of the resource named CON
#      (a reserved device name on Windows) and saves it through a \\?\ path;
#   3. the file is byte-identical to the same version downloaded by the Linux sqsnap, and
#      both sqsnap.exe and the Linux sqsnap check it whole (every CRC);
#   4. the engine's unit tests, built for Windows, pass under Wine (those that cannot run
#      there are skipped, each with the reason printed).
# Prints each check, then how many ran and passed. Wine 8 lacks one DLL Rust needs
# (packaging/windows/wine-bcryptprimitives.c says which and why); a stand-in is built for it.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
cargo build --locked --target "$target" -p sqsnap --bin sqsnap
cargo build --locked -p sqsnap --bin sqsnap -p squarecloud-sim --bin squarecloud-sim
exe_dir="target/$target/debug"
x86_64-w64-mingw32-gcc -shared -O2 -o "$exe_dir/bcryptprimitives.dll" \
  packaging/windows/wine-bcryptprimitives.c packaging/windows/wine-bcryptprimitives.def

work=$(mktemp -d)
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export WINEPREFIX="$work/wine" WINEDEBUG=-all
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
target/debug/squarecloud-sim --port "$port" --api-key win-key >"$work/sim.log" 2>&1 &
sim_pid=$!
for _ in $(seq 50); do grep -q "http://" "$work/sim.log" && break; sleep 0.1; done
export SQUARECLOUD_API_URL="http://127.0.0.1:$port/v2" SQUARECLOUD_API_KEY=win-key
con=4d5e6f708192a3b4c5d6e7f8091a2b3c # the demo account's app named CON
. scripts/lib/wine-checks.sh

help_runs() { "$wine64" "$exe_dir/sqsnap.exe" --help | grep -q "Usage: sqsnap.exe"; }
check "sqsnap.exe --help runs under Wine" help_runs

mkdir -p "$work/win" "$work/linux"
snapshot_saves() {
  SQSNAP_DATA_DIR="Z:${work//\//\\}\\wdata" "$wine64" "$exe_dir/sqsnap.exe" --json snapshot "$con" \
    --download --dest "Z:${work//\//\\}\\win" >"$work/win.json" &&
    grep -q '"event":"done"' "$work/win.json" && ls "$work"/win/CON_*.zip >/dev/null
}
check "sqsnap.exe --json snapshot CON --download saves the zip" snapshot_saves

identical() {
  local got
  got=$(ls "$work"/win/CON_*.zip | head -1)
  SQSNAP_DATA_DIR="$work/ldata" target/debug/sqsnap download "$con" --dest "$work/linux" >/dev/null &&
    cmp "$got" "$(ls "$work"/linux/CON_*.zip | head -1)" &&
    SQSNAP_DATA_DIR="$work/ldata" target/debug/sqsnap verify "$got" >/dev/null &&
    SQSNAP_DATA_DIR="Z:${work//\//\\}\\wdata" "$wine64" "$exe_dir/sqsnap.exe" verify \
      "Z:${got//\//\\}" >/dev/null
}
check "the zip is byte-identical to the Linux download, and both sqsnaps verify it" identical

# 4. The engine's unit tests under Wine. Skipped, each with why:
skips=(
  "claim::tests::a_leftover_unlocked_file_is_stale_and_odd_tokens_are_refused|Wine 8 answers UnlockFile with ERROR_LOCK_VIOLATION once another handle's try_lock failed (not tried on Windows)"
  "statedir::tests::a_held_lock_is_waited_for_with_a_limit_and_a_name|the same Wine unlock after a competing lock"
)
# Not built for Windows at all (#[cfg(unix)], the reason beside each in the code): two that
# judge a rewrite by the file's inode, and one that uses a Unix program for a gone process.
echo "skip  3 Unix-only unit tests (inode checks, a Unix child process): see #[cfg(unix)] in the code"
cargo test --locked --no-run --target "$target" -p snapshots --lib 2>"$work/build.log" ||
  { cat "$work/build.log"; exit 1; }
cp "$exe_dir/bcryptprimitives.dll" "$exe_dir/deps/"
args=()
for s in "${skips[@]}"; do
  args+=(--skip "${s%%|*}")
  echo "skip  ${s%%|*}: ${s#*|}"
done
unit_tests() {
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine64" \
    cargo test --locked --target "$target" -p snapshots --lib -- "${args[@]}" >"$work/unit.log" 2>&1
  local rc=$?
  grep -E "^test result" "$work/unit.log" | sed 's/^/      /'
  [ $rc -eq 0 ] || grep -E "^test .* FAILED|panicked" "$work/unit.log" | head -20
  return $rc
}
check "the engine's unit tests pass under Wine" unit_tests
units=$(grep -oE "[0-9]+ passed" "$work/unit.log" | head -1)

echo "test-windows: $ran checks run, $passed passed (engine unit tests under Wine: $units, $((${#skips[@]} + 3)) skipped) (Wine: $("$wine64" --version 2>/dev/null || echo unknown))"
[ "$passed" -eq "$ran" ]

#!/usr/bin/env bash
# sqsnap for Windows, cross-built here (x86_64-pc-windows-gnu, Debian's mingw-w64) and run
# under Wine against the simulator on loopback:
#   1. `sqsnap.exe --help` runs;
#   2. `sqsnap.exe --json snapshot ID --download` takes a snapshot of the resource named CON
#      (a reserved device name on Windows) and saves it through a \\?\ path;
#   3. the file is byte-identical to the same version downloaded by the Linux sqsnap, and
#      both sqsnap.exe and the Linux sqsnap check it whole (every CRC);
#   4. `sqsnap.exe list` prints the demo's names (accents, an emoji) as UTF-8 bytes through a
#      pipe, and as characters in a console of its own (console-capture.exe reads the screen
#      back), with no escape code in either; a download's progress in that console leaves none
#      either;
#   5. `sqsnap.exe login` (the key piped on stdin) keeps the key in Windows Credential Manager
#      (Wine's), `whoami` and `list` work from it with no key given otherwise, no file holds
#      it, and `logout` removes it;
#   6. the engine's unit tests, built for Windows, pass under Wine (those that cannot run
#      there are skipped, each with the reason printed);
#   7. sqsnap's integration tests (crates/sqsnap/tests: cli, accounts, offsite, language,
#      key_cmd, folder_cmd, with_engine), built for Windows, pass under Wine: each test binary
#      starts the simulator (and the S3 test server) in itself and runs sqsnap.exe, the key in
#      Wine's Credential Manager; those that need what Linux alone has (systemd, a pty, a FIFO,
#      mode bits) are skipped, each with the reason printed. The soak suite is not run here.
# Prints each check, then how many ran and passed. Wine 8 lacks one DLL Rust needs
# (packaging/windows/wine-bcryptprimitives.c says which and why); a stand-in is built for it.
#
# The Windows builds go to target/windows: a build directory of their own, with its own lock,
# so that they go on beside `make test`, as .ci/run does, without either waiting for the
# other (`--build`: the builds alone, nothing run). The run then takes the Linux sqsnap and
# simulator from the workspace's test build in target/, waiting for make test's if it is
# still under way.
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-pc-windows-gnu
wdir=target/windows
exe_dir="$wdir/$target/debug"
wcargo() {
  local sub=$1
  shift
  cargo "$sub" --locked --target "$target" --target-dir "$wdir" "$@"
}
sq_tests=(accounts cli folder_cmd key_cmd language offsite with_engine)
sq_args=()
for t in "${sq_tests[@]}"; do sq_args+=(--test "$t"); done

# The builds: sqsnap.exe, the engine's unit tests and sqsnap's integration tests for Windows.
rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
wcargo build -p sqsnap --bin sqsnap
wcargo test --no-run -p snapshots --lib
wcargo test --no-run -p sqsnap "${sq_args[@]}"
x86_64-w64-mingw32-gcc -shared -O2 -o "$exe_dir/bcryptprimitives.dll" \
  packaging/windows/wine-bcryptprimitives.c packaging/windows/wine-bcryptprimitives.def
cp "$exe_dir/bcryptprimitives.dll" "$exe_dir/deps/"
if [ "${1:-}" = --build ]; then
  echo "test-windows: built in $wdir"
  exit 0
fi
# The Linux sqsnap and simulator from the workspace's test build (make test's, the same units:
# nothing is built twice when it runs beside make test).
scripts/lib/test-build.sh

work=$(mktemp -d)
sim_pid=""
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export WINEPREFIX="$work/wine" WINEDEBUG=-all
# One wineserver for the whole run, kept until cleanup's `wineserver -k`: left to itself it
# exits 3 s after its last program, and a program started in that moment meets it going
# ("wine client error:0: recvmsg: Connection reset by peer", seen once in CI on logout).
mkdir -p "$WINEPREFIX"
wineserver -p >/dev/null 2>&1
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

# 4. Output in a console and through a pipe. Rust's standard library writes to a console with
# WriteConsoleW (characters, whatever the console's code page) and to a pipe or file the
# UTF-8 bytes; sqsnap itself writes no escape code anywhere (its progress bars are drawn
# with the console API), so neither shows one.
x86_64-w64-mingw32-gcc -municode -O2 -o "$work/console-capture.exe" scripts/lib/console-capture.c
win() { local p=$1; echo "Z:${p//\//\\}"; }
names=("Loja São João" "🚀 rocket-api" "Meu Site: Portfólio")
has_names() {
  local n
  for n in "${names[@]}"; do
    grep -qF "$n" "$1" || { echo "      \"$n\" not in $(basename "$1")"; return 1; }
  done
}
no_escapes() { # ESC, or CSI as one C1 character
  local f
  for f in "$@"; do
    if LC_ALL=C grep -q $'\x1b\|\xc2\x9b' "$f"; then
      echo "      an escape code in $(basename "$f")"
      return 1
    fi
  done
}
utf8() { python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$1"; }
piped() {
  SQSNAP_DATA_DIR="$(win "$work")\\wdata" "$wine64" "$exe_dir/sqsnap.exe" list \
    >"$work/list.out" 2>"$work/list.err" &&
    "$wine64" "$exe_dir/sqsnap.exe" --help >"$work/help.out" 2>&1 &&
    utf8 "$work/list.out" && has_names "$work/list.out" &&
    no_escapes "$work/list.out" "$work/list.err" "$work/help.out"
}
check "sqsnap.exe list through a pipe: the names as UTF-8, no escape code" piped
in_console() {
  local exe
  exe="$(win "$PWD/$exe_dir")\\sqsnap.exe"
  mkdir -p "$work/cdl"
  SQSNAP_DATA_DIR="$(win "$work")\\wdata" "$wine64" "$work/console-capture.exe" \
    "$(win "$work")\\list.screen" "\"$exe\" list" &&
    SQSNAP_DATA_DIR="$(win "$work")\\wdata" "$wine64" "$work/console-capture.exe" \
      "$(win "$work")\\download.screen" \
      "\"$exe\" download 2b3c4d5e6f708192a3b4c5d6e7f8091a --dest \"$(win "$work")\\cdl\"" &&
    has_names "$work/list.screen" && grep -q "rocket-api: saved" "$work/download.screen" &&
    no_escapes "$work/list.screen" "$work/download.screen"
}
check "sqsnap.exe list and a download in a console: the names as characters, no escape code" in_console

# 5. The key in Windows Credential Manager (keyring's windows-native store; Wine keeps it in
# its registry, encrypted). Nothing else gives a key here.
creds='HKCU\Software\Wine\Credential Manager'
keychain() {
  local kdata out
  kdata="$(win "$work")\\kdata"
  out=$(printf 'win-key' | env -u SQUARECLOUD_API_KEY SQSNAP_DATA_DIR="$kdata" \
    "$wine64" "$exe_dir/sqsnap.exe" login 2>&1) &&
    grep -q "the key is in the OS keychain" <<<"$out" || { echo "      login: $out"; return 1; }
  "$wine64" reg query "$creds" /s 2>/dev/null | grep -q "Generic: account:" ||
    { echo "      no credential in Wine's Credential Manager"; return 1; }
  out=$(env -u SQUARECLOUD_API_KEY SQSNAP_DATA_DIR="$kdata" \
    "$wine64" "$exe_dir/sqsnap.exe" whoami 2>&1) &&
    grep -q "Demo Account" <<<"$out" || { echo "      whoami: $out"; return 1; }
  env -u SQUARECLOUD_API_KEY SQSNAP_DATA_DIR="$kdata" \
    "$wine64" "$exe_dir/sqsnap.exe" list >"$work/klist.out" 2>&1 &&
    has_names "$work/klist.out" || { echo "      list: $(head -3 "$work/klist.out")"; return 1; }
  ! grep -rqa "win-key" "$work/kdata" || { echo "      the key is in a file"; return 1; }
  out=$(env -u SQUARECLOUD_API_KEY SQSNAP_DATA_DIR="$kdata" \
    "$wine64" "$exe_dir/sqsnap.exe" logout 2>&1) || { echo "      logout: $out"; return 1; }
  ! "$wine64" reg query "$creds" /s 2>/dev/null | grep -q "Generic: account:" ||
    { echo "      the credential is still there after logout"; return 1; }
  out=$(env -u SQUARECLOUD_API_KEY SQSNAP_DATA_DIR="$kdata" \
    "$wine64" "$exe_dir/sqsnap.exe" whoami 2>&1)
  [ $? -eq 3 ] && grep -q "Not signed in" <<<"$out" ||
    { echo "      whoami after logout: $out"; return 1; }
}
check "sqsnap.exe login keeps the key in Credential Manager, whoami and list use it, logout removes it" keychain

# 6. The engine's unit tests under Wine. Skipped, each with why:
skips=(
  "claim::tests::a_leftover_unlocked_file_is_stale_and_odd_tokens_are_refused|Wine 8 answers UnlockFile with ERROR_LOCK_VIOLATION once another handle's try_lock failed (not tried on Windows)"
  "statedir::tests::a_held_lock_is_waited_for_with_a_limit_and_a_name|the same Wine unlock after a competing lock"
  "ownfile::windows::tests::the_lists_are_protected_and_passed_on_to_what_is_made_inside|Wine 8 keeps no security descriptor on a file: GetNamedSecurityInfoW answers one made from the Unix mode bits (SYSTEM, the owner, Everyone when others may read), never with SE_DACL_PROTECTED, and a file made in a private folder gets Everyone's read from the umask, not the folder's inherited entries"
)
# Not built for Windows at all (#[cfg(unix)], the reason beside each in the code): two that
# judge a rewrite by the file's inode, and one that uses a Unix program for a gone process.
echo "skip  3 Unix-only unit tests (inode checks, a Unix child process): see #[cfg(unix)] in the code"
args=()
for s in "${skips[@]}"; do
  args+=(--skip "${s%%|*}")
  echo "skip  ${s%%|*}: ${s#*|}"
done
unit_tests() {
  CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine64" \
    wcargo test -p snapshots --lib -- "${args[@]}" >"$work/unit.log" 2>&1
  local rc=$?
  grep -E "^test result" "$work/unit.log" | sed 's/^/      /'
  [ $rc -eq 0 ] || grep -E "^test .* FAILED|panicked" "$work/unit.log" | head -20
  return $rc
}
check "the engine's unit tests pass under Wine" unit_tests
units=$(grep -oE "[0-9]+ passed" "$work/unit.log" | head -1)

# 7. sqsnap's integration tests under Wine. Their skips are in the code: #[cfg_attr(windows,
# ignore = "why")], printed by the test harness, and two tests not built for Windows at all
# (`// Unix only: why` above their #[cfg(unix)]). The keychain tests use Wine's Credential Manager.
sqsnap_tests() {
  local rc=0
  (
    unset SQUARECLOUD_API_URL SQUARECLOUD_API_KEY
    export SQSNAP_EXPECT_KEYRING=present CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$wine64"
    wcargo test --no-fail-fast -p sqsnap "${sq_args[@]}"
  ) >"$work/sqsnap.log" 2>&1 || rc=$?
  grep -E "^test .* ignored, " "$work/sqsnap.log" | sed -E 's/^test (.*) \.\.\. ignored, (.*)$/\2/' |
    sort | uniq -c | sed -E 's/^ *([0-9]+) /skip  \1: /'
  grep -h "^// Unix only: " crates/sqsnap/tests/*.rs crates/sqsnap/tests/with_engine/*.rs |
    sed -E 's|^// Unix only: |skip  1 (not built for Windows): |'
  # A failure with no failed test (a binary that would not start) shows the log's end.
  if [ $rc -ne 0 ]; then
    grep -qE "^test .* FAILED|panicked" "$work/sqsnap.log" &&
      grep -E -A2 "^test .* FAILED|panicked" "$work/sqsnap.log" | head -30 ||
      tail -15 "$work/sqsnap.log"
  fi
  return $rc
}
check "sqsnap's integration tests pass under Wine" sqsnap_tests
sq_count() { grep -E "^test result" "$work/sqsnap.log" | grep -oE "[0-9]+ $1" | awk '{s += $1} END {print s + 0}'; }
sq_unix=$(grep -hc "^// Unix only: " crates/sqsnap/tests/*.rs crates/sqsnap/tests/with_engine/*.rs |
  awk '{s += $1} END {print s + 0}')
sq_passed=$(sq_count passed) sq_failed=$(sq_count failed) sq_ignored=$(sq_count ignored)
echo "      sqsnap under Wine: $((sq_passed + sq_failed)) run, $sq_passed passed, $sq_failed failed, $((sq_ignored + sq_unix)) skipped ($sq_ignored ignored, $sq_unix not built for Windows)"

echo "test-windows: $ran checks run, $passed passed (engine unit tests under Wine: $units, $((${#skips[@]} + 3)) skipped; sqsnap's tests under Wine: $sq_passed passed of $((sq_passed + sq_failed)), $((sq_ignored + sq_unix)) skipped) (Wine: $("$wine64" --version 2>/dev/null || echo unknown))"
[ "$passed" -eq "$ran" ]

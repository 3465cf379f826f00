#!/usr/bin/env bash
# Runs the Rust tests with the clock moved to the moments where time-of-day bugs live: just
# before the simulator's daily automatic run (03:00 UTC), just before midnight in a zone far
# from UTC, and just before a new year. A test that passes at one hour and fails at another
# is found here, not by CI some night. Not part of `make test` (one pass takes as long as the
# Rust tests); run it after touching dates, days or windows.
#
#   scripts/time-sweep.sh                        # every moment below
#   scripts/time-sweep.sh 'UTC 02:59:30' [-- cargo test args]
#
# libfaketime (Debian's `faketime`) shifts the clock by one fixed offset, set anew as each
# test binary starts (cargo's runner), so every binary starts 30 s before the moment; the
# simulator and `sqsnap` it starts inherit the same offset and agree with it on the time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --run ]; then
  # cargo's runner: `--run <binary> <args...>`
  shift
  target=$(TZ=$SWEEP_ZONE date -d "$SWEEP_WHEN" +%s)
  now=$(date +%s)
  [ "$target" -gt $((now + 30)) ] || target=$((target + 86400))
  export FAKETIME="+$((target - 30 - now))" FAKETIME_DONT_FAKE_MONOTONIC=1 \
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1 TZ=$SWEEP_ZONE
  exec "$@"
fi
scripts/ensure-deps.sh faketime >/dev/null
moments=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do moments+=("$1"); shift; done
[ "${1:-}" != -- ] || shift
[ ${#moments[@]} -gt 0 ] || moments=(
  'UTC 02:59:30'
  'Asia/Tokyo 23:59:30'
  'UTC 2026-12-31 23:59:30'
)
cargo test --workspace --locked --no-run
status=0
for m in "${moments[@]}"; do
  echo "== $m"
  if ! SWEEP_ZONE=${m%% *} SWEEP_WHEN=${m#* } \
    CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="$PWD/scripts/time-sweep.sh --run" \
    xvfb-run -a dbus-run-session -- scripts/with-keyring.sh \
    cargo test --workspace --locked --no-fail-fast "$@" -- --include-ignored; then
    echo "== FAILED at $m"
    status=1
  fi
done
exit $status

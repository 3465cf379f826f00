#!/usr/bin/env bash
# The test servers (the simulator, s3s) and the command line's crates stay out of what users run: the engine's
# normal dependencies hold neither the simulator nor clap, indicatif or rpassword, and the
# app and sqsnap built without their default `demo` feature hold no simulator.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
check() { # PACKAGE FLAGS... -- PATTERN
  local pkg=$1; shift
  local pattern=${*: -1}
  local flags=("${@:1:$#-1}")
  local found
  found=$(cargo tree -q --locked -p "$pkg" -e normal "${flags[@]}" --prefix none | grep -E "^($pattern) v" | sort -u || true)
  if [ -n "$found" ]; then
    echo "deps-check: $pkg ${flags[*]} depends on: $found" >&2
    fail=1
  fi
}
check snapshots --no-default-features 'squarecloud-sim|clap|indicatif|rpassword|s3s|s3s-fs'
check snapshots 'squarecloud-sim|clap|indicatif|rpassword|s3s|s3s-fs'
check sqsnap --no-default-features 'squarecloud-sim'
check square-snapshots --no-default-features 'squarecloud-sim|clap|indicatif|rpassword|s3s|s3s-fs'
[ $fail = 0 ] && echo "deps-check: no test server or CLI crate where it does not belong"
exit $fail

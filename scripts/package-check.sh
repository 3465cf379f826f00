#!/usr/bin/env bash
# Builds the .deb (debug, to stay within CI's time), installs it with apt, starts the
# installed app from its desktop entry's Exec line under Xvfb in demo mode, waits for its
# window, runs /usr/bin/sqsnap --help, and removes the package again.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=debug scripts/package.sh >/dev/null
deb=$(ls -1 target/debug/bundle/deb/*.deb | head -1)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "package-check FAILED: $*" >&2; fi; }

DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "./$deb" >/dev/null
trap 'DEBIAN_FRONTEND=noninteractive $sudo apt-get remove -y -qq square-snapshots >/dev/null || true' EXIT
entry=$(dpkg -L square-snapshots | grep -m1 '\.desktop$')
exec_line=$(sed -n 's/^Exec=//p' "$entry" | head -1)
check test -n "$exec_line"
check test -x /usr/bin/sqsnap
check /usr/bin/sqsnap --help >/dev/null

# The installed app, as the desktop entry starts it, in demo mode: a window appears.
home=$(mktemp -d)
window_seen() {
  HOME="$home" XDG_DATA_HOME="$home/data" XDG_CONFIG_HOME="$home/config" \
  xvfb-run -a dbus-run-session -- bash -c '
    '"$exec_line"' --demo & app=$!
    for _ in $(seq 100); do
      if xwininfo -root -tree 2>/dev/null | grep -q "\"Square Snapshots\""; then
        kill $app; wait $app 2>/dev/null; exit 0
      fi
      sleep 0.3
    done
    kill $app 2>/dev/null; exit 1'
}
check window_seen
rm -rf "$home"

# The .rpm (for Fedora and openSUSE) holds the same: the app, sqsnap, the desktop entry.
rpm_file=$(ls -1 target/debug/bundle/rpm/*.rpm | head -1)
rpm_files=$(rpm -qpl "$rpm_file" 2>/dev/null)
rpm_has() { grep -q "$1" <<<"$rpm_files"; }
check rpm_has '^/usr/bin/sqsnap$'
check rpm_has '^/usr/bin/square-snapshots$'
check rpm_has '\.desktop$'
echo "package-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

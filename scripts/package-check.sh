#!/usr/bin/env bash
# Bundles the .deb from make test's debug build (to stay within CI's time), installs it with
# apt, starts the installed app from its desktop entry's Exec line under Xvfb in demo mode,
# waits for its window, runs /usr/bin/sqsnap --help, validates the desktop entry and the
# AppStream metainfo, checks an upgrade from a package with the old id, and removes the
# package again.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=debug PREBUILT=1 scripts/package.sh >/dev/null
bundle=target/package/debug/bundle
deb=$(ls -1 $bundle/deb/*.deb | head -1)
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
passed=0 failed=0
check() { if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "package-check FAILED: $*" >&2; fi; }

id=app.squaresnapshots.SquareSnapshots
apt_q() { DEBIAN_FRONTEND=noninteractive $sudo apt-get "$@" -y -qq >/dev/null; }
trap 'apt_q remove square-snapshots || true' EXIT

# Upgrading from a release before the app's id. Its package is made from this one under the
# old names (what it installed: "Square Snapshots.desktop", square-snapshots.png icons, no
# metainfo) and an older version, rather than built again from e4a75fe (minutes on CI);
# its autostart entry is written as that release wrote it.
old_deb=$(mktemp -d)
dpkg-deb -R "$deb" "$old_deb/root"
mv "$old_deb/root/usr/share/applications/$id.desktop" "$old_deb/root/usr/share/applications/Square Snapshots.desktop"
for icon in "$old_deb"/root/usr/share/icons/hicolor/*/apps/$id.png; do mv "$icon" "${icon%/*}/square-snapshots.png"; done
rm -r "$old_deb/root/usr/share/metainfo"
sed -i 's/^Version: .*/Version: 0.0.9/' "$old_deb/root/DEBIAN/control"
(cd "$old_deb/root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$old_deb/root/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip -z1 -b "$old_deb/root" "$old_deb/old.deb" >/dev/null
apt_q install "$old_deb/old.deb"
rm -rf "$old_deb"
home=$(mktemp -d)
mkdir -p "$home/config/autostart"
printf '[Desktop Entry]\nType=Application\nName=Square Snapshots\nExec="/usr/bin/square-snapshots" --minimized\nIcon=square-snapshots\nTerminal=false\nX-GNOME-Autostart-enabled=true\n' \
  >"$home/config/autostart/square-snapshots.desktop"

apt_q install "./$deb"
entry=/usr/share/applications/$id.desktop
no_stale_entry() { ! ls /usr/share/applications | grep -q '^Square Snapshots'; }
check test -f "$entry"
check no_stale_entry
check test -f "/usr/share/icons/hicolor/128x128/apps/$id.png"
check test ! -e /usr/share/icons/hicolor/128x128/apps/square-snapshots.png
check desktop-file-validate "$entry"
check appstreamcli validate --no-net --strict "/usr/share/metainfo/$id.metainfo.xml"
exec_line=$(sed -n 's/^Exec=//p' "$entry" | head -1)
check test -n "$exec_line"
check test -x /usr/bin/sqsnap
check /usr/bin/sqsnap --help >/dev/null

# The installed app, as the desktop entry starts it, in demo mode: a window appears (and
# the old release's autostart entry gives way to one under the id).
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
check test ! -e "$home/config/autostart/square-snapshots.desktop"
check grep -q "^Icon=$id\$" "$home/config/autostart/$id.desktop"
rm -rf "$home"

# The .rpm (for Fedora and openSUSE) holds the same: the app, sqsnap, the desktop entry.
rpm_file=$(ls -1 $bundle/rpm/*.rpm | head -1)
rpm_files=$(rpm -qpl "$rpm_file" 2>/dev/null)
rpm_has() { grep -q "$1" <<<"$rpm_files"; }
check rpm_has '^/usr/bin/sqsnap$'
check rpm_has '^/usr/bin/square-snapshots$'
check rpm_has "^/usr/share/applications/$id.desktop\$"
check rpm_has "^/usr/share/metainfo/$id.metainfo.xml\$"
echo "package-check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

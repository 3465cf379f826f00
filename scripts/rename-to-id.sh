#!/usr/bin/env bash
# Usage: scripts/rename-to-id.sh DEB RPM — gives the desktop entry and the icons in the
# packages the Tauri bundler made the app's id as their names.
#
# The bundler names the desktop entry after productName ("Square Snapshots.desktop", a
# space in a desktop file id) and the icons after the binary, whatever the identifier, and
# has no setting for either (tauri-apps/tauri#11300). Everything else comes from the
# bundler's own settings in tauri.conf.json (the entry's text from its desktopTemplate, the
# AppStream metainfo from its files); here only those names change: the entry becomes
# <id>.desktop and the icons <id>.png, in the .deb and the .rpm, each otherwise as the
# bundler made it (metadata, dependencies, gzip level 6).
set -euo pipefail
id=app.squaresnapshots.SquareSnapshots
deb=$1 rpm=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

to_id() {
  local root=$1 icon
  mv "$root/usr/share/applications/Square Snapshots.desktop" "$root/usr/share/applications/$id.desktop"
  for icon in "$root"/usr/share/icons/hicolor/*/apps/square-snapshots.png; do
    mv "$icon" "${icon%/*}/$id.png"
  done
}

# The .deb: unpacked, renamed, its md5sums written again, packed.
dpkg-deb -R "$deb" "$work/deb"
to_id "$work/deb"
(cd "$work/deb" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$work/deb/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zgzip -z6 -b "$work/deb" "$deb" >/dev/null

# The .rpm: its payload renamed, built again by rpmbuild with the bundler's name, version,
# release, summary, license, description and dependencies (no automatic ones, no strip).
q() { rpm -qp --qf "$1" "$rpm" 2>/dev/null; }
mkdir -p "$work/rpm/root"
rpm2archive - <"$rpm" | tar -xz -C "$work/rpm/root"
to_id "$work/rpm/root"
{
  echo "Name: $(q '%{NAME}')"
  echo "Version: $(q '%{VERSION}')"
  echo "Release: $(q '%{RELEASE}')"
  echo "Summary: $(q '%{SUMMARY}')"
  echo "License: $(q '%{LICENSE}')"
  echo "AutoReqProv: no"
  rpm -qp --requires "$rpm" 2>/dev/null | grep -v '^rpmlib(' | sed 's/^/Requires: /'
  echo "%define debug_package %{nil}"
  echo "%define __os_install_post %{nil}"
  echo "%define _build_id_links none"
  echo "%define _binary_payload w6.gzdio"
  echo "%description"
  q '%{DESCRIPTION}'
  echo
  echo "%install"
  echo "cp -a '$work/rpm/root/.' %{buildroot}/"
  echo "%files"
  echo "%defattr(-,root,root,-)"
  (cd "$work/rpm/root" && find . -type f | sed 's|^\.\(.*\)$|"\1"|' | sort)
} >"$work/rpm/spec"
rpmbuild -bb --quiet --define "_topdir $work/rpm/top" --target "$(q '%{ARCH}')" "$work/rpm/spec" >/dev/null
cp "$work"/rpm/top/RPMS/*/*.rpm "$rpm"

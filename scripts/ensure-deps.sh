#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages named as arguments when they are missing.
# On other systems it says what to install and stops.
set -euo pipefail
if ! command -v cargo >/dev/null; then
  echo "Rust is needed: install it from https://rustup.rs and run this again." >&2
  exit 1
fi
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
  cat >&2 <<MSG
This Makefile installs system packages on Debian and Ubuntu only. On this system install:
  - WebKitGTK 4.1 and GTK 3 development files, libayatana-appindicator3 (Linux), D-Bus development files
  - for tests: dbus-daemon, gnome-keyring (or another Secret Service), curl, unzip
  (macOS and Windows need nothing beyond Xcode or the MSVC build tools and WebView2.)
Then run the same make command again.
MSG
  exit 1
fi
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "Installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

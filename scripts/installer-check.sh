#!/usr/bin/env bash
# The Windows installer (packaging/windows/installer.nsi, built with Debian's makensis around
# debug builds of square-snapshots.exe and sqsnap.exe) under Wine, in a throwaway prefix:
#   1. `setup.exe /S` installs the three files, the Start menu shortcut and the uninstall key
#      (HKCU, read back with `reg query`); it opens the shortcut's property store and sets and
#      commits a value there (its AppUserModelID: Wine keeps none, see below), and the
#      installed app gives its process the same AppUserModelID as it starts;
#   2. a start-at-login entry is written as the app's autostart plugin writes it (a Run value
#      and a StartupApproved\Run value named "Square Snapshots"), and data files are planted
#      where the app keeps its data;
#   3. `uninstall.exe /S` removes every file, the shortcut, the key and both start-at-login
#      values, and leaves the data files (and another program's Run value) alone.
# Besides the installer and uninstaller, the app is started once, with no display: it sets
# its AppUserModelID first thing, then stops where it would open its window.
# Prints each check, then how many ran and passed, and how long it took. KEEP=1 keeps the
# throwaway folder (the prefix, setup.log, app.log) and says where it is.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
target=x86_64-pc-windows-gnu
bin="target/$target/debug"
if [ -z "${INSTALLER_CHECK_NO_BUILD:-}" ]; then
  rustup target list --installed 2>/dev/null | grep -qx "$target" || rustup target add "$target"
  cargo build --locked --target "$target" -p square-snapshots --bin square-snapshots \
    -p sqsnap --bin sqsnap
fi
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' tauri.conf.json)
[ -n "$version" ] || { echo "no version in tauri.conf.json" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  wineserver -k 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
setup="$work/Square Snapshots_${version}_x64-setup.exe"
makensis -V2 -DVERSION="$version" -DBINDIR="$PWD/$bin" -DICON="$PWD/icons/icon.ico" \
  -DOUTFILE="$setup" packaging/windows/installer.nsi

# No menu entries or file associations in the real desktop (winemenubuilder), no Mono or
# Gecko prompts.
export WINEPREFIX="$work/wine" WINEDEBUG=-all WINEDLLOVERRIDES="winemenubuilder.exe=d;mscoree=;mshtml="
. scripts/lib/wine-checks.sh
"$wine64" wineboot -i >/dev/null 2>&1
wineserver -w
user_dir=$(find "$WINEPREFIX/drive_c/users" -mindepth 1 -maxdepth 1 -type d ! -name Public | head -1)
local_dir="$user_dir/AppData/Local"
roaming_dir="$user_dir/AppData/Roaming"
inst="$local_dir/Programs/Square Snapshots"
inst_win='C:\users\'"$(basename "$user_dir")"'\AppData\Local\Programs\Square Snapshots'
lnk="$roaming_dir/Microsoft/Windows/Start Menu/Programs/Square Snapshots.lnk"
files=(square-snapshots.exe WebView2Loader.dll sqsnap.exe uninstall.exe)
uninst='HKCU\Software\Microsoft\Windows\CurrentVersion\Uninstall\app.squaresnapshots.SquareSnapshots'
run='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'
approved='HKCU\Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run'

reg_has() { "$wine64" reg query "$1" /v "$2" >/dev/null 2>&1; }
reg_value() { # key, value: the data as reg query prints it
  "$wine64" reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' |
    sed -n "s/^ *$2 *REG_[A-Z_]* *//p"
}
reg_key_gone() { ! "$wine64" reg query "$1" >/dev/null 2>&1; }
all_files() { for f in "${files[@]}"; do [ -f "$inst/$f" ] || return 1; done; }
no_files() { for f in "${files[@]}"; do [ ! -e "$inst/$f" ] || return 1; done; }
same_as_built() {
  for f in square-snapshots.exe WebView2Loader.dll sqsnap.exe; do
    cmp -s "$bin/$f" "$inst/$f" || return 1
  done
}
key_is() { [ "$(reg_value "$uninst" "$1")" = "$2" ]; }

# 1. Install, silently, as a user. Wine's notes on unfinished shell calls are kept (see the
# AppUserModelID checks below).
WINEDEBUG=fixme+shell "$wine64" "$setup" /S 2>"$work/setup.log"
wineserver -w
check "installed: ${files[*]} in %LOCALAPPDATA%\\Programs\\Square Snapshots" all_files
check "installed files are the ones built" same_as_built
check "Start menu shortcut" test -s "$lnk"
check "shortcut points at square-snapshots.exe" grep -qa 'square-snapshots.exe' "$lnk"
# The shortcut's System.AppUserModel.ID. Wine 8's shell32 accepts IPropertyStore::SetValue and
# Commit on a shell link but keeps nothing (both are stubs: "fixme:shell:propertystore_SetValue
# ... stub"), so the id cannot be read back from the .lnk here; what Wine shows is that the
# installer got the shortcut's property store and set and committed a value on it.
check "shortcut: a property set on it (the AppUserModelID; Wine keeps none)" \
  grep -q "propertystore_SetValue" "$work/setup.log"
check "shortcut: its property store committed" grep -q "propertystore_Commit" "$work/setup.log"
# The app sets the same id on its process first thing (Wine's SetCurrentProcessExplicitAppUserModelID
# is a stub that prints it). With no display it then stops where it would open its window.
# Wine 8 lacks bcryptprimitives.dll, which every Rust program loads: the stand-in
# test-windows.sh uses goes into this prefix's system32, not the install folder.
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  packaging/windows/wine-bcryptprimitives.c packaging/windows/wine-bcryptprimitives.def
app_id=$(sed -n 's/^pub const ID: &str = "\(.*\)";$/\1/p' src-tauri/src/appid.rs)
env -u DISPLAY -u WAYLAND_DISPLAY WINEDEBUG=fixme+shcore timeout 60 \
  "$wine64" "$inst/square-snapshots.exe" >/dev/null 2>"$work/app.log" || true
wineserver -w
check "the app sets its process's AppUserModelID to $app_id" \
  grep -qF "SetCurrentProcessExplicitAppUserModelID L\"$app_id\"" "$work/app.log"
check "the installer writes the same id" grep -qF "!define APPID \"$app_id\"" packaging/windows/installer.nsi
check "uninstall key: DisplayName" key_is DisplayName "Square Snapshots"
check "uninstall key: DisplayVersion $version" key_is DisplayVersion "$version"
check "uninstall key: Publisher" reg_has "$uninst" Publisher
check "uninstall key: DisplayIcon" key_is DisplayIcon "\"$inst_win\\square-snapshots.exe\""
check "uninstall key: InstallLocation" key_is InstallLocation "$inst_win"
check "uninstall key: UninstallString" key_is UninstallString "\"$inst_win\\uninstall.exe\""
check "uninstall key: QuietUninstallString" key_is QuietUninstallString "\"$inst_win\\uninstall.exe\" /S"
check "uninstall key: NoModify, NoRepair" eval 'key_is NoModify 0x1 && key_is NoRepair 0x1'
size_kib=$(( $(du -b --apparent-size -c "$inst"/*.exe "$inst"/*.dll | tail -1 | cut -f1) / 1024 ))
estimated=$(( $(reg_value "$uninst" EstimatedSize) ))
check "uninstall key: EstimatedSize ${estimated} KiB (files: ${size_kib} KiB)" \
  test $((estimated > size_kib * 9 / 10 && estimated <= size_kib + 8)) = 1

# 2. Start at login as the autostart plugin writes it, another program's Run value, and the
# app's data where it keeps it (%APPDATA%\squaresnapshots\Square Snapshots\data for the
# engine, Tauri's %APPDATA% and %LOCALAPPDATA% folders named after the identifier).
"$wine64" reg add "$run" /v "Square Snapshots" /t REG_SZ \
  /d "$inst_win\\square-snapshots.exe --minimized" /f >/dev/null 2>&1
"$wine64" reg add "$approved" /v "Square Snapshots" /t REG_BINARY /d 020000000000000000000000 /f >/dev/null 2>&1
"$wine64" reg add "$run" /v "Another Program" /t REG_SZ /d 'C:\other\other.exe' /f >/dev/null 2>&1
check "Run value written (as the autostart plugin)" reg_has "$run" "Square Snapshots"
check "StartupApproved\\Run value written" reg_has "$approved" "Square Snapshots"
data_files=(
  "$roaming_dir/squaresnapshots/Square Snapshots/data/plans.json"
  "$roaming_dir/app.squaresnapshots.SquareSnapshots/settings.json"
  "$local_dir/app.squaresnapshots.SquareSnapshots/cache.json"
)
for f in "${data_files[@]}"; do
  mkdir -p "$(dirname "$f")"
  echo '{"planted":true}' >"$f"
done

# 3. Uninstall, silently. The uninstaller copies itself to %TEMP% and starts that copy, so
# wait for every Wine process to end.
"$wine64" "$inst/uninstall.exe" /S
wineserver -w
check "uninstalled: every installed file gone" no_files
check "install folder gone" test ! -e "$inst"
check "shortcut gone" test ! -e "$lnk"
check "uninstall key gone" reg_key_gone "$uninst"
check "Run value gone" eval '! reg_has "$run" "Square Snapshots"'
check "StartupApproved\\Run value gone" eval '! reg_has "$approved" "Square Snapshots"'
check "another program's Run value kept" reg_has "$run" "Another Program"
for f in "${data_files[@]}"; do
  check "data kept: ${f#"$user_dir/"}" grep -q planted "$f"
done

echo "installer-check: $ran checks run, $passed passed, in $((SECONDS - start)) s (installer $(du -h "$setup" | cut -f1), $("$wine64" --version 2>/dev/null || echo "Wine unknown"))"
[ "$passed" -eq "$ran" ]

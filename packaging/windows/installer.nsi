; Square Snapshots for Windows: a per-user installer (no administrator rights) built with
; makensis (Debian's nsis package), because the Tauri bundler's NSIS step downloads a DLL from
; github.com while bundling. Built by `make package-windows`, checked under Wine by
; scripts/installer-check.sh.
;
; makensis -DVERSION=0.1.0 -DBINDIR=<dir with the three files> -DICON=icons/icon.ico \
;          -DOUTFILE=<setup.exe> packaging/windows/installer.nsi
;
; Installs into %LOCALAPPDATA%\Programs\Square Snapshots: square-snapshots.exe,
; WebView2Loader.dll, sqsnap.exe. A Start menu shortcut, and an uninstaller registered for
; this user only. The user's backups, settings and keys are never touched, on install or on
; uninstall.

Unicode true
Target amd64-unicode
SetCompressor /SOLID lzma
RequestExecutionLevel user
ManifestDPIAware true

!ifndef VERSION
  !error "pass -DVERSION=x.y.z (tauri.conf.json's version)"
!endif
!ifndef BINDIR
  !error "pass -DBINDIR=<folder with square-snapshots.exe, WebView2Loader.dll, sqsnap.exe>"
!endif
!ifndef ICON
  !define ICON "icons\icon.ico"
!endif
!ifndef OUTFILE
  !define OUTFILE "Square Snapshots_${VERSION}_x64-setup.exe"
!endif

!define NAME "Square Snapshots"
!define PUBLISHER "Square Snapshots"
!define EXE "square-snapshots.exe"
; The identifier in tauri.conf.json: the uninstall key's name.
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\app.squaresnapshots.SquareSnapshots"
; Where tauri-plugin-autostart (through the auto-launch crate) writes "start at login": a
; value named after the product under Run, and the same name under StartupApproved\Run.
!define RUNKEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define APPROVEDKEY "Software\Microsoft\Windows\CurrentVersion\Explorer\StartupApproved\Run"
!define RUNVALUE "Square Snapshots"
; The Evergreen WebView2 runtime's client key (per machine under WOW6432Node, or per user).
!define WEBVIEW2KEY "Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"

Name "${NAME}"
OutFile "${OUTFILE}"
Icon "${ICON}"
UninstallIcon "${ICON}"
InstallDir "$LOCALAPPDATA\Programs\${NAME}"
InstallDirRegKey HKCU "${UNINSTKEY}" "InstallLocation"
BrandingText "${NAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${NAME}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "FileDescription" "${NAME} installer"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

Page directory
Page instfiles

UninstPage uninstConfirm
UninstPage instfiles

UninstallText "This removes ${NAME} from $INSTDIR, its Start menu shortcut and its start at login. \
Your backups, plans, settings and the keys in Windows Credential Manager stay where they are \
(in %APPDATA% and %LOCALAPPDATA%): delete them yourself if you no longer want them."

Function .onInit
  SetShellVarContext current
FunctionEnd

Function un.onInit
  SetShellVarContext current
FunctionEnd

; Windows 10 and 11 come with the WebView2 runtime; it is not bundled. If it is missing, say
; where to get it (nothing is downloaded).
Function CheckWebView2
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\${WEBVIEW2KEY}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKLM "SOFTWARE\${WEBVIEW2KEY}" "pv"
  StrCmp $0 "" 0 found
  ReadRegStr $0 HKCU "Software\${WEBVIEW2KEY}" "pv"
  StrCmp $0 "" 0 found
  DetailPrint "The Microsoft Edge WebView2 runtime was not found."
  MessageBox MB_OK|MB_ICONINFORMATION "${NAME} needs the Microsoft Edge WebView2 runtime, which \
Windows 10 and 11 include. It was not found on this computer: install the Evergreen runtime from \
https://developer.microsoft.com/microsoft-edge/webview2/ before starting ${NAME}. \
(sqsnap, the command line program, works without it.)" /SD IDOK
  Return
found:
  DetailPrint "WebView2 runtime $0 found."
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  File "${BINDIR}\${EXE}"
  File "${BINDIR}\WebView2Loader.dll"
  File "${BINDIR}\sqsnap.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0

  WriteRegStr HKCU "${UNINSTKEY}" "DisplayName" "${NAME}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTKEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKCU "${UNINSTKEY}" "DisplayIcon" "$\"$INSTDIR\${EXE}$\""
  WriteRegStr HKCU "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTKEY}" "UninstallString" "$\"$INSTDIR\uninstall.exe$\""
  WriteRegStr HKCU "${UNINSTKEY}" "QuietUninstallString" "$\"$INSTDIR\uninstall.exe$\" /S"
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTKEY}" "NoRepair" 1
  ; EstimatedSize is in KiB: the size of what was just installed.
  Push $0
  Push $1
  StrCpy $0 0
  FindFirst $1 $2 "$INSTDIR\*.*"
size_loop:
  StrCmp $2 "" size_done
  IfFileExists "$INSTDIR\$2\*.*" size_next
  FileOpen $3 "$INSTDIR\$2" r
  FileSeek $3 0 END $4
  FileClose $3
  IntOp $4 $4 / 1024
  IntOp $0 $0 + $4
size_next:
  FindNext $1 $2
  Goto size_loop
size_done:
  FindClose $1
  WriteRegDWORD HKCU "${UNINSTKEY}" "EstimatedSize" $0
  Pop $1
  Pop $0

  Call CheckWebView2
SectionEnd

Section "Uninstall"
  ; Only what the installer put there; RMDir without /r leaves the folder if anything else is
  ; in it. The data folders are elsewhere and are not touched.
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\sqsnap.exe"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"

  Delete "$SMPROGRAMS\${NAME}.lnk"

  ; Start at login, as the app's autostart plugin writes it.
  DeleteRegValue HKCU "${RUNKEY}" "${RUNVALUE}"
  DeleteRegValue HKCU "${APPROVEDKEY}" "${RUNVALUE}"

  DeleteRegKey HKCU "${UNINSTKEY}"
  DetailPrint "Your backups and settings were kept."
SectionEnd

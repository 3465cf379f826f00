; Square Snapshots for Windows: a per-user installer (no administrator rights) built with
; makensis (Debian's nsis package), because the Tauri bundler's NSIS step downloads a DLL from
; github.com while bundling. Built by `make package-windows`, checked under Wine by
; scripts/installer-check.sh.
;
; makensis -DVERSION=0.1.0 -DBINDIR=<dir with the three files> -DICON=icons/icon.ico \
;          -DOUTFILE=<setup.exe> packaging/windows/installer.nsi
;
; Installs into %LOCALAPPDATA%\Programs\Square Snapshots: square-snapshots.exe,
; WebView2Loader.dll, sqsnap.exe. A Start menu shortcut carrying the app's AppUserModelID,
; and an uninstaller registered for this user only. The user's backups, settings and keys
; are never touched, on install or on uninstall.

Unicode true
Target amd64-unicode
!include LogicLib.nsh
; NSIS's own COM and property-key definitions (Debian's nsis), for the shortcut's
; AppUserModelID: no plugin beyond System, which makensis always has.
!include Win\COM.nsh
!include Win\Propkey.nsh
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
; The identifier in tauri.conf.json (src-tauri/src/appid.rs): the uninstall key's name, and the
; AppUserModelID the app gives its process and shows its notifications under.
!define APPID "app.squaresnapshots.SquareSnapshots"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APPID}"
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

; Writes System.AppUserModel.ID = ${APPID} on the shortcut whose path is on the stack, through
; the shell's own link object (IShellLinkW, IPersistFile, IPropertyStore): Windows shows a
; desktop app's notifications only under an id a Start menu shortcut declares. Each step's
; HRESULT is in the details; a failure leaves a working shortcut, without the id.
Function SetShortcutAppId
  Exch $R0 ; the shortcut
  Push $R1 ; IShellLinkW
  Push $R2 ; IPersistFile
  Push $R3 ; IPropertyStore
  Push $R4 ; PROPERTYKEY
  Push $R5 ; PROPVARIANT
  Push $R6 ; the id, UTF-16
  Push $R7 ; HRESULT
  StrCpy $R2 0
  StrCpy $R3 0
  !insertmacro ComHlpr_CreateInProcInstance ${CLSID_ShellLink} ${IID_IShellLink} r11 .r17
  ${If} $R7 <> 0
  ${OrIf} $R1 P= 0
    IntFmt $R7 "0x%08X" $R7
    DetailPrint "AppUserModelID: no shell link object ($R7)"
    Goto done
  ${EndIf}
  ${IUnknown::QueryInterface} $R1 '("${IID_IPersistFile}",.r12).r17'
  ${If} $R7 = 0
    ${IPersistFile::Load} $R2 '("$R0",${STGM_READWRITE}).r17'
  ${EndIf}
  ${If} $R7 = 0
    ${IUnknown::QueryInterface} $R1 '("${IID_IPropertyStore}",.r13).r17'
  ${EndIf}
  ${If} $R7 <> 0
    IntFmt $R7 "0x%08X" $R7
    DetailPrint "AppUserModelID: cannot open $R0 ($R7)"
    Goto release
  ${EndIf}
  System::Call '*(&w${NSIS_MAX_STRLEN} "${APPID}")p.r16'
  System::Call '*${SYSSTRUCT_PROPERTYKEY}(${PKEY_AppUserModel_ID})p.r14'
  System::Call '*(&i2 ${VT_LPWSTR},&i6 0,p r16,&i8 0)p.r15'
  ${IPropertyStore::SetValue} $R3 '($R4,$R5).r17'
  ${If} $R7 = 0
    ${IPropertyStore::Commit} $R3 '().r17'
  ${EndIf}
  ${If} $R7 = 0
    ${IPersistFile::Save} $R2 '("$R0",1).r17'
  ${EndIf}
  ${If} $R7 = 0
    DetailPrint "AppUserModelID ${APPID} written on $R0"
  ${Else}
    IntFmt $R7 "0x%08X" $R7
    DetailPrint "AppUserModelID: cannot write it on $R0 ($R7)"
  ${EndIf}
  System::Free $R4
  System::Free $R5
  System::Free $R6
release:
  ${If} $R3 P<> 0
    ${IUnknown::Release} $R3 ""
  ${EndIf}
  ${If} $R2 P<> 0
    ${IUnknown::Release} $R2 ""
  ${EndIf}
  ${IUnknown::Release} $R1 ""
done:
  Pop $R7
  Pop $R6
  Pop $R5
  Pop $R4
  Pop $R3
  Pop $R2
  Pop $R1
  Pop $R0
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  File "${BINDIR}\${EXE}"
  File "${BINDIR}\WebView2Loader.dll"
  File "${BINDIR}\sqsnap.exe"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0
  Push "$SMPROGRAMS\${NAME}.lnk"
  Call SetShortcutAppId

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

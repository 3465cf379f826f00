/* What a Windows console shows after a command ran in it, for scripts/test-windows.sh (built
 * there with mingw-w64, run under Wine; never shipped).
 *
 *   console-capture.exe OUT.txt "COMMAND LINE"
 *
 * Runs COMMAND LINE in a console of its own, as from cmd.exe: its standard output and error
 * are that console, not a pipe. When it has ended, the console's screen (every row down to
 * the cursor's, trailing blanks cut) is written to OUT.txt as UTF-8, one row a line, and the
 * console's output mode then as a last line "mode=0x...". Exits with the command's code, or
 * 90 and a message on standard error when the console itself fails.
 *
 * The console is made by starting this program again with CREATE_NO_WINDOW, which gives it a
 * console with no window (Wine's conhost --headless), so no display is needed; the two
 * arguments go to that second start through its environment, quotes and all. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#define FAIL 90

static int inner(const wchar_t *out_path, wchar_t *command) {
  HANDLE con = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE,
                           FILE_SHARE_READ | FILE_SHARE_WRITE, NULL, OPEN_EXISTING, 0, NULL);
  if (con == INVALID_HANDLE_VALUE) return FAIL;
  STARTUPINFOW si = {sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessW(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return FAIL + 1;
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = FAIL + 2;
  GetExitCodeProcess(pi.hProcess, &code);
  CONSOLE_SCREEN_BUFFER_INFO info;
  if (!GetConsoleScreenBufferInfo(con, &info)) return FAIL + 3;
  DWORD mode = 0;
  GetConsoleMode(con, &mode);
  FILE *out = _wfopen(out_path, L"wb");
  if (!out) return FAIL + 4;
  int width = info.dwSize.X;
  wchar_t *row = malloc(sizeof(wchar_t) * width);
  char *utf8 = malloc(4 * width + 1);
  for (SHORT y = 0; y <= info.dwCursorPosition.Y; y++) {
    DWORD n = 0;
    COORD at = {0, y};
    if (!ReadConsoleOutputCharacterW(con, row, width, at, &n)) return FAIL + 5;
    while (n > 0 && row[n - 1] == L' ') n--;
    int len = WideCharToMultiByte(CP_UTF8, 0, row, n, utf8, 4 * width, NULL, NULL);
    fwrite(utf8, 1, len, out);
    fputc('\n', out);
  }
  fprintf(out, "mode=0x%lx\n", mode);
  fclose(out);
  return (int)code;
}

int wmain(int argc, wchar_t **argv) {
  static wchar_t out[32768], command[32768];
  if (argc == 2 && wcscmp(argv[1], L"--inner") == 0) {
    if (!GetEnvironmentVariableW(L"CONSOLE_CAPTURE_OUT", out, 32768) ||
        !GetEnvironmentVariableW(L"CONSOLE_CAPTURE_COMMAND", command, 32768))
      return FAIL;
    return inner(out, command);
  }
  if (argc != 3) {
    fprintf(stderr, "usage: console-capture.exe OUT.txt \"COMMAND LINE\"\n");
    return FAIL;
  }
  SetEnvironmentVariableW(L"CONSOLE_CAPTURE_OUT", argv[1]);
  SetEnvironmentVariableW(L"CONSOLE_CAPTURE_COMMAND", argv[2]);
  static wchar_t exe[32768], self[32800];
  if (!GetModuleFileNameW(NULL, exe, 32768)) return FAIL;
  swprintf(self, 32800, L"\"%ls\" --inner", exe);
  STARTUPINFOW si = {sizeof si};
  PROCESS_INFORMATION pi;
  if (!CreateProcessW(NULL, self, NULL, NULL, FALSE, CREATE_NO_WINDOW, NULL, NULL, &si, &pi)) {
    fprintf(stderr, "console-capture: cannot start itself in a new console (error %lu)\n",
            GetLastError());
    return FAIL;
  }
  WaitForSingleObject(pi.hProcess, INFINITE);
  DWORD code = FAIL;
  GetExitCodeProcess(pi.hProcess, &code);
  if (code >= FAIL && code <= FAIL + 5)
    fprintf(stderr, "console-capture: the console failed (step %lu)\n", code - FAIL);
  return (int)code;
}

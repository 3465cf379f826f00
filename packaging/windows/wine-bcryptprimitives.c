/* For Wine 8 (Debian 12's) only, never shipped: Rust's standard library asks Windows 10 and
 * later for random bytes through bcryptprimitives.dll's ProcessPrng, which Wine 8 does not
 * have, so every Rust program fails to start there. This stand-in answers it with
 * advapi32's RtlGenRandom (SystemFunction036), which Wine has. make test-windows puts it
 * beside sqsnap.exe; a real Windows never loads it from there (it is a known system DLL). */
#include <windows.h>
typedef BOOLEAN (WINAPI *gen_fn)(PVOID, ULONG);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    static gen_fn gen;
    if (!gen) gen = (gen_fn)GetProcAddress(LoadLibraryA("advapi32.dll"), "SystemFunction036");
    while (len) {
        ULONG n = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!gen || !gen(data, n)) return FALSE;
        data += n; len -= n;
    }
    return TRUE;
}

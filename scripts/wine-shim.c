/* Test infrastructure only (not part of jitcall): wine 8 lacks bcryptprimitives.dll,
 * whose ProcessPrng the Rust standard library imports. This stand-in fills the buffer
 * with RtlGenRandom (SystemFunction036, from advapi32). See shared/cross-testing.md. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}

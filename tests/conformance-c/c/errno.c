/* Callees for the errno capture tests: set errno (and on Windows the last error) to a
   given value, or report what they find there. */
#include <errno.h>
#ifdef _WIN32
#include <windows.h>
#endif

void jc_errno_set(int value) {
    errno = value;
#ifdef _WIN32
    SetLastError((DWORD)value + 1000);
#endif
}

int jc_errno_get(void) {
    return errno;
}

#ifdef _WIN32
unsigned jc_last_error_get(void) {
    return GetLastError();
}
#endif

/* The same setter in the other x86-64 convention, for capture in non-default plans. */
#if defined(__x86_64__)
#ifdef _WIN32
#define JC_ALT __attribute__((sysv_abi))
#else
#define JC_ALT __attribute__((ms_abi))
#endif
JC_ALT void jc_errno_set_alt(int value) {
    jc_errno_set(value);
}
#endif

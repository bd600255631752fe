/* Shared by the generated flavour callees and drivers (the generator is
   tests/conformance-c/gen). Compiled by clang-16 for Apple arm64 or Windows on ARM64 with
   -ffreestanding: only clang's own headers (stdint.h, stddef.h, stdbool.h, stdarg.h),
   none of the other OS's. The build script renames the two globals per flavour
   (-Djitcall_conf_fail=apple_conf_fail ...), so both flavours link into one test. */
#ifndef JC_H
#define JC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The wide and union cases build and compare objects byte by byte. No libc header here
   (it would be the host's): clang's builtins, which call the libc functions when they do
   not expand inline (memcpy, memset and memcmp take the same registers in every AArch64
   convention). */
#define memcpy __builtin_memcpy
#define memset __builtin_memset
#define memcmp __builtin_memcmp

/* Set by a generated callee: the first argument that arrived wrong, as
 * case_id * 100 + argument_index + 1 (0: all good); and the id of the last callee run. */
extern int jitcall_conf_fail;
extern int jitcall_conf_last;

/* Records the first mismatch and carries on, so that one call checks every argument. */
static inline void jc_check(int ok, int code) {
    if (!ok && jitcall_conf_fail == 0) {
        jitcall_conf_fail = code;
    }
}

/* The generator's layout must be the flavour's C layout: checked at compile time. */
#define JC_LAYOUT(T, size, align)                     \
    _Static_assert(sizeof(T) == (size), #T " size");  \
    _Static_assert(_Alignof(T) == (align), #T " align")
#define JC_OFFSET(T, f, off) _Static_assert(offsetof(T, f) == (off), #T "." #f " offset")

#endif

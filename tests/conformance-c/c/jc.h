/* Shared by every C callee of the conformance tests. */
#ifndef JC_H
#define JC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* The generator's layout (Janet's rules) must be C's: checked at compile time. */
#define JC_LAYOUT(T, size, align)                     \
    _Static_assert(sizeof(T) == (size), #T " size");  \
    _Static_assert(_Alignof(T) == (align), #T " align")
#define JC_OFFSET(T, f, off) _Static_assert(offsetof(T, f) == (off), #T "." #f " offset")

/* Hand-written callees (so.c, checks.c) are built twice on x86-64: in the target's
 * default convention, and (through alt.c) in the other x86-64 convention with `_alt`
 * appended to every name. */
#if defined(JC_ALT)
#if defined(_WIN32)
#define JC_CC __attribute__((sysv_abi))
#else
#define JC_CC __attribute__((ms_abi))
#endif
#define JC_NAME(name) name##_alt
#else
#define JC_CC
#define JC_NAME(name) name
#endif

/* What so.c's callees printed in Janet's example, kept here so the tests can see it. */
extern double jc_so_last_double;
extern int jc_so_last_int;
extern int jc_so_void_calls;

#endif

/* The globals the callees write, and accessors for the Rust side (plain int functions
   without arguments: the same convention on Linux, Apple and Windows). FN(name) gives
   each flavour its own names. */
#include "jc.h"

int jitcall_conf_fail;
int jitcall_conf_last = -1;

int FN(conf_fail_get)(void) { return jitcall_conf_fail; }
int FN(conf_last_get)(void) { return jitcall_conf_last; }

void FN(conf_reset)(void) {
    jitcall_conf_fail = 0;
    jitcall_conf_last = -1;
}

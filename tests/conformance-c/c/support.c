/* The globals the callees write, and accessors for the Rust side. */
#include "jc.h"

int jitcall_conf_fail;
int jitcall_conf_last = -1;

double jc_so_last_double;
int jc_so_last_int;
int jc_so_void_calls;

int jitcall_conf_fail_get(void) { return jitcall_conf_fail; }
int jitcall_conf_last_get(void) { return jitcall_conf_last; }

void jitcall_conf_reset(void) {
    jitcall_conf_fail = 0;
    jitcall_conf_last = -1;
}

double jc_so_last_double_get(void) { return jc_so_last_double; }
int jc_so_last_int_get(void) { return jc_so_last_int; }
int jc_so_void_calls_get(void) { return jc_so_void_calls; }

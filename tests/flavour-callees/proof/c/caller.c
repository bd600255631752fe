/* Callers compiled for the same flavour as the callees, so that clang lays out every
   call by that OS's rules (packed stack arguments on Apple, variadic arguments on the
   stack on Apple and in integer registers on Windows). The Rust test knows the values. */
#include "types.h"

uint64_t FN(call_mixed)(void) {
    hfa3 h = { 1.5f, -2.25f, 3.125f };
    small sm = { -0x71, 0x7172 };
    return FN(mixed)(-0x12, -0x1235, 0x7a3b5c1d, -0x0123456789abcdefLL, 0xa4, 0xa5b6,
                     0xa6b7c8d9u, 0xa7b8c9daebfc0d1eULL, -0x31, 0x3142, 0x52, -0x33445566,
                     -0x3456, 0x35162738495a6b7cLL, 0xe6, h, -6.0625, sm);
}

uint64_t FN(call_hfa_stack)(void) {
    hfa4d h = { 10.25, -11.5, 12.75, -13.125 };
    return FN(hfa_stack)(0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, h, 14.5f, -0x15);
}

uint64_t FN(call_vsum)(void) {
    return FN(vsum)(2, (int8_t)-7, 0x1122334455667788LL, 2.75, (int8_t)0x66, -0x99LL, -1.125);
}

uint64_t FN(call_probe)(void) {
    return FN(probe)(1, 2, 3, 4, 5, 6, 7, 8, -0x2a, 0x4b5c, -0x6d7e8f90);
}

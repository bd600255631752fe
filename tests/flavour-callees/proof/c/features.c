/* What real callees need of the rewrite beyond registers: constant pools, string
   literals, read-only tables of addresses, initialised and zeroed writable data, weak
   and hidden functions, and a stack frame large enough for Windows' __chkstk probe and
   Apple's stack protector. */
#include "types.h"

static const double table[4] = { 1.5, 2.25, 3.125, 4.0625 };
static int64_t zeroed;
int64_t FN(inited)[3] = { 1, 2, 3 };
const char *FN(greeting) = "hi;there // \"_q\"";

static int32_t twice(int32_t x) { return 2 * x; }
static int32_t thrice(int32_t x) { return 3 * x; }
int32_t (*const FN(ops)[2])(int32_t) = { twice, thrice };

__attribute__((weak)) int32_t FN(weak_one)(void) { return 1; }
__attribute__((visibility("hidden"))) int32_t FN(hidden_two)(void) { return 2; }

uint64_t FN(features)(int32_t i) {
    volatile char big[9000];
    for (int k = 0; k < 9000; k++) big[k] = (char)(k & 0x7f);
    int64_t len = 0;
    while (FN(greeting)[len]) len++;
    zeroed = i;
    FN(inited)[2] = 10 * i;
    double scaled = table[i & 3] * 1.000001;
    return (uint64_t)(len + FN(ops)[i & 1](i) + FN(inited)[1] + FN(inited)[2] + zeroed
                      + FN(weak_one)() + FN(hidden_two)() + (int64_t)(scaled * 1000.0)
                      + big[(i * 1000) % 9000]);
}

/* Callees: each records every argument it received (zero-extended bits, for the Rust
   side to compare one by one) and returns an FNV-1a hash over the bytes of all of them,
   so a single wrong byte changes the answer. */
#include "types.h"

#define FNV_START 0xcbf29ce484222325ULL
#define SEEN_MAX 24

static uint64_t seen_mixed[SEEN_MAX], seen_hfa_stack[SEEN_MAX];

struct hash { uint64_t h; uint64_t *seen; int n; };

static void take(struct hash *s, const void *value, int size) {
    const uint8_t *bytes = value;
    uint64_t bits = 0;
    for (int i = 0; i < size; i++) {
        s->h = (s->h ^ bytes[i]) * 0x100000001b3ULL;
        bits |= (uint64_t)bytes[i] << (8 * i);
    }
    if (s->seen && s->n < SEEN_MAX) s->seen[s->n] = bits;
    s->n++;
}
#define TAKE(s, v) take(&(s), &(v), sizeof(v))

/* The argument `i` that function `which` (0 mixed, 1 hfa_stack) last received. */
uint64_t FN(seen)(int32_t which, int32_t i) {
    if (i < 0 || i >= SEEN_MAX) return 0xdeadULL;
    return which == 0 ? seen_mixed[i] : seen_hfa_stack[i];
}

uint64_t FN(mixed)(int8_t a0, int16_t a1, int32_t a2, int64_t a3, uint8_t a4, uint16_t a5,
                   uint32_t a6, uint64_t a7, int8_t s0, int16_t s1, int8_t s2, int32_t s3,
                   int16_t s4, int64_t s5, uint8_t s6, hfa3 h, double d, small sm) {
    struct hash s = { FNV_START, seen_mixed, 0 };
    TAKE(s, a0); TAKE(s, a1); TAKE(s, a2); TAKE(s, a3);
    TAKE(s, a4); TAKE(s, a5); TAKE(s, a6); TAKE(s, a7);
    TAKE(s, s0); TAKE(s, s1); TAKE(s, s2); TAKE(s, s3);
    TAKE(s, s4); TAKE(s, s5); TAKE(s, s6);
    TAKE(s, h.a); TAKE(s, h.b); TAKE(s, h.c); TAKE(s, d);
    TAKE(s, sm.a); TAKE(s, sm.b); /* fields, not the struct: its padding byte is junk */
    return s.h;
}

uint64_t FN(hfa_stack)(double d0, double d1, double d2, double d3, double d4, double d5,
                       double d6, hfa4d h, float f, int8_t t) {
    struct hash s = { FNV_START, seen_hfa_stack, 0 };
    TAKE(s, d0); TAKE(s, d1); TAKE(s, d2); TAKE(s, d3); TAKE(s, d4); TAKE(s, d5); TAKE(s, d6);
    TAKE(s, h.a); TAKE(s, h.b); TAKE(s, h.c); TAKE(s, h.d); TAKE(s, f); TAKE(s, t);
    return s.h;
}

/* n triples of (int, int64_t, double), hashed as read. */
uint64_t FN(vsum)(int32_t n, ...) {
    struct hash s = { FNV_START, 0, 0 };
    __builtin_va_list ap;
    __builtin_va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int32_t small_int = __builtin_va_arg(ap, int32_t);
        int64_t wide = __builtin_va_arg(ap, int64_t);
        double real = __builtin_va_arg(ap, double);
        TAKE(s, small_int); TAKE(s, wide); TAKE(s, real);
    }
    __builtin_va_end(ap);
    return s.h;
}

/* Where the three stack arguments were: their bits side by side. */
uint64_t FN(probe)(int64_t x0, int64_t x1, int64_t x2, int64_t x3, int64_t x4, int64_t x5,
                   int64_t x6, int64_t x7, int8_t a, int16_t b, int32_t c) {
    uint64_t regs = (uint64_t)(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7);
    return (regs == 36 ? 0 : 1ULL << 63) | (uint8_t)a | (uint64_t)(uint16_t)b << 8
           | (uint64_t)(uint32_t)c << 24;
}

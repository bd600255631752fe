/* Hand-written callees and callback drivers for the wide scalars under AAPCS64 (Linux:
 * `long double` is binary128), for tests/aapcs64_wide_calls.rs. Empty on other targets.
 *
 * Every callee copies the bytes of each argument, in order, into `seen` and returns a
 * result copied from `ret_bytes`; every driver (`*_drive`) takes its arguments' bytes in
 * order from `arg_bytes`, calls the function pointer and copies the result into `seen`.
 * Values cross as bytes only (memcpy), so every bit is checked and none is converted. */
#if defined(__aarch64__) && __LDBL_MANT_DIG__ == 113
#include <stddef.h>
#include <string.h>

/* Per thread: the tests run in parallel threads. */
static _Thread_local unsigned char arg_bytes[512], seen[512], ret_bytes[64];
static _Thread_local size_t arg_at, seen_len;

void jc_w_set(const void *args, size_t n, const void *ret, size_t ret_n) {
    memcpy(arg_bytes, args, n);
    memcpy(ret_bytes, ret, ret_n);
    arg_at = 0;
    seen_len = 0;
}

size_t jc_w_seen(void *out) {
    memcpy(out, seen, seen_len);
    return seen_len;
}

#define SEE(x) (memcpy(seen + seen_len, &(x), sizeof(x)), seen_len += sizeof(x))
#define TAKE(x) (memcpy(&(x), arg_bytes + arg_at, sizeof(x)), arg_at += sizeof(x))
#define GIVE(T) do { T r_; memcpy(&r_, ret_bytes, sizeof r_); return r_; } while (0)

typedef long double LD;
typedef struct { LD a, b; } LD2;
typedef struct { LD a[4]; } LD4;
typedef struct { __int128 x; } SI;
typedef struct { LD a; int b[4]; } LDI;
typedef union { LD a; double b; } ULD;
typedef union { LD a; LD b[2]; } ULD2;
typedef _Complex long double CLD;
typedef double D;

LD w_ld(LD a, D b, LD c) { SEE(a); SEE(b); SEE(c); GIVE(LD); }
void w_ld_drive(LD (*f)(LD, D, LD)) {
    LD a, c; D b; TAKE(a); TAKE(b); TAKE(c);
    LD r = f(a, b, c); SEE(r);
}

LD2 w_hfa2(D a, LD2 s) { SEE(a); SEE(s); GIVE(LD2); }
void w_hfa2_drive(LD2 (*f)(D, LD2)) {
    D a; LD2 s; TAKE(a); TAKE(s);
    LD2 r = f(a, s); SEE(r);
}

LD4 w_hfa4(LD4 s) { SEE(s); GIVE(LD4); }
void w_hfa4_drive(LD4 (*f)(LD4)) {
    LD4 s; TAKE(s);
    LD4 r = f(s); SEE(r);
}

#define D8 D d0, D d1, D d2, D d3, D d4, D d5, D d6, D d7
#define SEE8 SEE(d0); SEE(d1); SEE(d2); SEE(d3); SEE(d4); SEE(d5); SEE(d6); SEE(d7)
#define TAKE8 D d0, d1, d2, d3, d4, d5, d6, d7; \
    TAKE(d0); TAKE(d1); TAKE(d2); TAKE(d3); TAKE(d4); TAKE(d5); TAKE(d6); TAKE(d7)

LD w_ld_stack(D8, D s, LD x) { SEE8; SEE(s); SEE(x); GIVE(LD); }
void w_ld_stack_drive(LD (*f)(D, D, D, D, D, D, D, D, D, LD)) {
    TAKE8; D s; LD x; TAKE(s); TAKE(x);
    LD r = f(d0, d1, d2, d3, d4, d5, d6, d7, s, x); SEE(r);
}

LD2 w_hfa_spill(D d0, D d1, D d2, D d3, D d4, D d5, D d6, LD2 s, D after) {
    SEE(d0); SEE(d1); SEE(d2); SEE(d3); SEE(d4); SEE(d5); SEE(d6); SEE(s); SEE(after);
    GIVE(LD2);
}
void w_hfa_spill_drive(LD2 (*f)(D, D, D, D, D, D, D, LD2, D)) {
    D d0, d1, d2, d3, d4, d5, d6, after; LD2 s;
    TAKE(d0); TAKE(d1); TAKE(d2); TAKE(d3); TAKE(d4); TAKE(d5); TAKE(d6); TAKE(s); TAKE(after);
    LD2 r = f(d0, d1, d2, d3, d4, d5, d6, s, after); SEE(r);
}

__int128 w_i128(int a, __int128 b, int c) { SEE(a); SEE(b); SEE(c); GIVE(__int128); }
void w_i128_drive(__int128 (*f)(int, __int128, int)) {
    int a, c; __int128 b; TAKE(a); TAKE(b); TAKE(c);
    __int128 r = f(a, b, c); SEE(r);
}

typedef long L;
typedef unsigned __int128 U128;
U128 w_u128_x7(L a0, L a1, L a2, L a3, L a4, L a5, L a6, U128 x, L after) {
    SEE(a0); SEE(a1); SEE(a2); SEE(a3); SEE(a4); SEE(a5); SEE(a6); SEE(x); SEE(after);
    GIVE(U128);
}
void w_u128_x7_drive(U128 (*f)(L, L, L, L, L, L, L, U128, L)) {
    L a0, a1, a2, a3, a4, a5, a6, after; U128 x;
    TAKE(a0); TAKE(a1); TAKE(a2); TAKE(a3); TAKE(a4); TAKE(a5); TAKE(a6); TAKE(x); TAKE(after);
    U128 r = f(a0, a1, a2, a3, a4, a5, a6, x, after); SEE(r);
}

__int128 w_i128_stack(L a0, L a1, L a2, L a3, L a4, L a5, L a6, L a7, L s, __int128 x) {
    SEE(a0); SEE(a1); SEE(a2); SEE(a3); SEE(a4); SEE(a5); SEE(a6); SEE(a7); SEE(s); SEE(x);
    GIVE(__int128);
}
void w_i128_stack_drive(__int128 (*f)(L, L, L, L, L, L, L, L, L, __int128)) {
    L a0, a1, a2, a3, a4, a5, a6, a7, s; __int128 x;
    TAKE(a0); TAKE(a1); TAKE(a2); TAKE(a3); TAKE(a4); TAKE(a5); TAKE(a6); TAKE(a7);
    TAKE(s); TAKE(x);
    __int128 r = f(a0, a1, a2, a3, a4, a5, a6, a7, s, x); SEE(r);
}

CLD w_cld(CLD a, _Complex double b, _Complex float c) { SEE(a); SEE(b); SEE(c); GIVE(CLD); }
void w_cld_drive(CLD (*f)(CLD, _Complex double, _Complex float)) {
    CLD a; _Complex double b; _Complex float c; TAKE(a); TAKE(b); TAKE(c);
    CLD r = f(a, b, c); SEE(r);
}

CLD w_cld_stack(D8, int i, CLD z) { SEE8; SEE(i); SEE(z); GIVE(CLD); }
void w_cld_stack_drive(CLD (*f)(D, D, D, D, D, D, D, D, int, CLD)) {
    TAKE8; int i; CLD z; TAKE(i); TAKE(z);
    CLD r = f(d0, d1, d2, d3, d4, d5, d6, d7, i, z); SEE(r);
}

ULD w_union(int a, ULD u) { SEE(a); SEE(u); GIVE(ULD); }
void w_union_drive(ULD (*f)(int, ULD)) {
    int a; ULD u; TAKE(a); TAKE(u);
    ULD r = f(a, u); SEE(r);
}

SI w_si(int a, SI x) { SEE(a); SEE(x); GIVE(SI); }
void w_si_drive(SI (*f)(int, SI)) {
    int a; SI x; TAKE(a); TAKE(x);
    SI r = f(a, x); SEE(r);
}

LDI w_ldi(LDI x, int a) { SEE(x); SEE(a); GIVE(LDI); }
void w_ldi_drive(LDI (*f)(LDI, int)) {
    LDI x; int a; TAKE(x); TAKE(a);
    LDI r = f(x, a); SEE(r);
}

ULD2 w_uld2(D a, ULD2 u) { SEE(a); SEE(u); GIVE(ULD2); }
void w_uld2_drive(ULD2 (*f)(D, ULD2)) {
    D a; ULD2 u; TAKE(a); TAKE(u);
    ULD2 r = f(a, u); SEE(r);
}
#endif

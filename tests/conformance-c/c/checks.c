/* Callees for the defects that running Janet's FFI showed (spec §9, the table after
 * §9.3), and a few more checks of the same kind: struct classes that Janet got wrong,
 * argument extension, long argument lists, HFAs spilled to the stack. */
#include "jc.h"

typedef struct {
    double x, y;
} jc_dd;

typedef struct {
    float a, b, c, d;
} jc_ffff;

typedef struct {
    double x;
    float y;
} jc_df;

typedef struct {
    int a[3];
} jc_ia3;

typedef struct {
    float a, b;
} jc_ff;

typedef struct {
    double a, b, c, d;
} jc_dddd;

/* SSE+SSE results come back in xmm0:xmm1 (Janet read rax:rdx). */
JC_CC jc_dd JC_NAME(ret_dd)(double x) {
    jc_dd r = {x, 2 * x};
    return r;
}

JC_CC jc_ffff JC_NAME(ret_ffff)(float x) {
    jc_ffff r = {x, x + 1, x + 2, x + 3};
    return r;
}

JC_CC jc_df JC_NAME(ret_df)(double x) {
    jc_df r = {x, (float)(x + 1)};
    return r;
}

/* An int array across both eightbytes: INTEGER, INTEGER (Janet classed it SSE, INTEGER). */
JC_CC int JC_NAME(take_ia3)(jc_ia3 s, int i) {
    return s.a[0] + 10 * s.a[1] + 100 * s.a[2] + 1000 * i;
}

JC_CC double JC_NAME(take_dd)(jc_dd s, double z) {
    return s.x + 10 * s.y + 100 * z;
}

JC_CC double JC_NAME(take_ff)(jc_ff s) {
    return s.a + 10 * s.b;
}

JC_CC jc_ff JC_NAME(ret_ff)(float x) {
    jc_ff r = {x, x + 1};
    return r;
}

/* Bound with narrower parameter types: the caller must have extended the value to the
 * full register (zero for unsigned and bool, sign for signed types). */
JC_CC uint64_t JC_NAME(raw)(uint64_t x) {
    return x;
}

JC_CC int64_t JC_NAME(raw_signed)(int64_t x) {
    return x;
}

/* The same for stack slots: the tenth argument is on the stack in every convention. */
JC_CC uint64_t JC_NAME(raw_stack)(uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e,
                                  uint64_t f, uint64_t g, uint64_t h, uint64_t i, uint64_t j) {
    (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)g, (void)h, (void)i;
    return j;
}

/* 100 arguments: argument k (from 0) is a double when k % 3 == 2, else an int. Every
 * argument counts with its own weight, so a lost or swapped one changes the sum. */
#define P3(k0, k1, k2) int a##k0, int a##k1, double a##k2
#define S3(k0, k1, k2) + (k0 + 1) * (double)a##k0 + (k1 + 1) * (double)a##k1 + (k2 + 1) * a##k2
JC_CC double JC_NAME(sum100)(
    P3(0, 1, 2), P3(3, 4, 5), P3(6, 7, 8), P3(9, 10, 11), P3(12, 13, 14), P3(15, 16, 17),
    P3(18, 19, 20), P3(21, 22, 23), P3(24, 25, 26), P3(27, 28, 29), P3(30, 31, 32),
    P3(33, 34, 35), P3(36, 37, 38), P3(39, 40, 41), P3(42, 43, 44), P3(45, 46, 47),
    P3(48, 49, 50), P3(51, 52, 53), P3(54, 55, 56), P3(57, 58, 59), P3(60, 61, 62),
    P3(63, 64, 65), P3(66, 67, 68), P3(69, 70, 71), P3(72, 73, 74), P3(75, 76, 77),
    P3(78, 79, 80), P3(81, 82, 83), P3(84, 85, 86), P3(87, 88, 89), P3(90, 91, 92),
    P3(93, 94, 95), P3(96, 97, 98), int a99) {
    return 0.0 S3(0, 1, 2) S3(3, 4, 5) S3(6, 7, 8) S3(9, 10, 11) S3(12, 13, 14) S3(15, 16, 17)
        S3(18, 19, 20) S3(21, 22, 23) S3(24, 25, 26) S3(27, 28, 29) S3(30, 31, 32)
        S3(33, 34, 35) S3(36, 37, 38) S3(39, 40, 41) S3(42, 43, 44) S3(45, 46, 47)
        S3(48, 49, 50) S3(51, 52, 53) S3(54, 55, 56) S3(57, 58, 59) S3(60, 61, 62)
        S3(63, 64, 65) S3(66, 67, 68) S3(69, 70, 71) S3(72, 73, 74) S3(75, 76, 77)
        S3(78, 79, 80) S3(81, 82, 83) S3(84, 85, 86) S3(87, 88, 89) S3(90, 91, 92)
        S3(93, 94, 95) S3(96, 97, 98) + 100 * (double)a99;
}
#undef P3
#undef S3

/* AArch64: seven doubles leave one FP register, the HFA needs two, so it goes to the
 * stack and so must every later FP argument (NSRN = 8); Janet put z in v7. */
JC_CC double JC_NAME(take_dd_late)(double d0, double d1, double d2, double d3, double d4,
                                   double d5, double d6, jc_dd s, double z) {
    return d0 + d1 + d2 + d3 + d4 + d5 + s.x + 10 * s.y + 100 * z + 1000 * d6;
}

/* AArch64: a four-double HFA after six FP registers takes 32 bytes of stack (Janet
 * reserved 8 and crashed). */
JC_CC double JC_NAME(take_dddd_late)(double d0, double d1, double d2, double d3, double d4,
                                     double d5, jc_dddd s, double z) {
    return d0 + d1 + d2 + d3 + d4 + d5 + s.a + 10 * s.b + 100 * s.c + 1000 * s.d + 10000 * z;
}

/* A NULL `const char *` result reads as nil (Janet crashed). */
JC_CC const char *JC_NAME(ret_null_string)(void) {
    return NULL;
}

/* The callees of Janet's examples/ffi/so.c (spec §9.2), with the same signatures and
 * results. Where Janet's printed (printf), these record the value in a global instead,
 * so that a test can check what arrived without reading stdout. */
#include "jc.h"

typedef struct {
    int a, b;
    float c, d;
} Split;

typedef struct {
    float c, d;
    int a, b;
} SplitFlip;

typedef struct {
    int u, v, w, x, y, z;
} SixInts;

typedef struct {
    int a;
    int b;
} intint;

typedef struct {
    int a;
    int b;
    int c;
} intintint;

typedef struct {
    uint64_t a;
    uint64_t b;
} uint64pair;

typedef struct {
    int64_t a;
    int64_t b;
    int64_t c;
} big;

JC_CC int JC_NAME(int_fn)(int a, int b) {
    return (a << 2) + b;
}

JC_CC double JC_NAME(my_fn)(int64_t a, int64_t b, const char *x) {
    return (double)(a + b) + 0.5 + strlen(x);
}

JC_CC double JC_NAME(double_fn)(double x, double y, double z) {
    return (x + y) * z * 3;
}

JC_CC double JC_NAME(double_many)(double x, double y, double z, double w, double a, double b) {
    return x + y + z + w + a + b;
}

JC_CC double JC_NAME(double_lots)(double a, double b, double c, double d, double e, double f,
                                  double g, double h, double i, double j) {
    (void)a, (void)b, (void)c, (void)d, (void)e, (void)f, (void)g, (void)h;
    return i + j;
}

JC_CC double JC_NAME(double_lots_2)(double a, double b, double c, double d, double e, double f,
                                    double g, double h, double i, double j) {
    return a + 10.0 * b + 100.0 * c + 1000.0 * d + 10000.0 * e + 100000.0 * f + 1000000.0 * g +
           10000000.0 * h + 100000000.0 * i + 1000000000.0 * j;
}

JC_CC double JC_NAME(float_fn)(float x, float y, float z) {
    return (x + y) * z;
}

JC_CC int JC_NAME(intint_fn)(double x, intint ii) {
    jc_so_last_double = x;
    return ii.a + ii.b;
}

JC_CC int JC_NAME(intintint_fn)(double x, intintint iii) {
    jc_so_last_double = x;
    return iii.a + iii.b + iii.c;
}

JC_CC intint JC_NAME(return_struct)(int i) {
    intint ret;
    ret.a = i;
    ret.b = i * i;
    return ret;
}

JC_CC big JC_NAME(struct_big)(int i, double d) {
    big ret;
    ret.a = i;
    ret.b = (int64_t)d;
    ret.c = ret.a + ret.b + 1000;
    return ret;
}

JC_CC void JC_NAME(void_fn)(void) {
    jc_so_void_calls++;
}

JC_CC void JC_NAME(void_fn_2)(double y) {
    jc_so_last_double = y;
}

JC_CC void JC_NAME(void_ret_fn)(int x) {
    jc_so_last_int = x;
}

JC_CC int JC_NAME(intintint_fn_2)(intintint iii, int i) {
    return i * (iii.a + iii.b + iii.c);
}

JC_CC float JC_NAME(split_fn)(Split s) {
    return s.a * s.c + s.b * s.d;
}

JC_CC float JC_NAME(split_flip_fn)(SplitFlip s) {
    return s.a * s.c + s.b * s.d;
}

JC_CC Split JC_NAME(split_ret_fn)(int x, float y) {
    Split ret;
    ret.a = x;
    ret.b = x;
    ret.c = y;
    ret.d = y;
    return ret;
}

JC_CC SplitFlip JC_NAME(split_flip_ret_fn)(int x, float y) {
    SplitFlip ret;
    ret.a = x;
    ret.b = x;
    ret.c = y;
    ret.d = y;
    return ret;
}

JC_CC SixInts JC_NAME(sixints_fn)(void) {
    return (SixInts){6666, 1111, 2222, 3333, 4444, 5555};
}

JC_CC int JC_NAME(sixints_fn_2)(int x, SixInts s) {
    return x + s.u + s.v + s.w + s.x + s.y + s.z;
}

JC_CC int JC_NAME(sixints_fn_3)(SixInts s, int x) {
    return x + s.u + s.v + s.w + s.x + s.y + s.z;
}

/* Eight u8 and eight floats fill the registers; the rest mixes widths on the stack and
 * ends with a struct there. */
JC_CC intint JC_NAME(stack_spill_fn)(uint8_t a, uint8_t b, uint8_t c, uint8_t d, uint8_t e,
                                     uint8_t f, uint8_t g, uint8_t h, float i, float j,
                                     float k, float l, float m, float n, float o, float p,
                                     float s1, int8_t s2, uint8_t s3, double s4, uint8_t s5,
                                     intint s6) {
    intint ret;
    ret.a = (a | b | c | d | e | f | g | h) + (i + j + k + l + m + n + o + p);
    ret.b = s1 * s6.a + s2 * s6.b + s3 * s4 * s5;
    return ret;
}

/* Three pairs fill the six SysV integer registers; d, e and f go to the stack. The
 * arithmetic is unsigned (wrapping), then read back as signed. */
JC_CC double JC_NAME(stack_spill_fn_2)(uint64pair a, uint64pair b, uint64pair c, int8_t d,
                                       uint64pair e, int8_t f) {
    return (double)(int64_t)((a.a * c.a + a.b * c.b + b.a * e.a) * f - (b.b * e.b) + d);
}

/* Tests of every function and type libffi.so.8 exports, compiled against the system's
   ffi.h. They pass on the system's libffi 3.4.4 (which checks the tests) and must pass on
   the drop-in. Prints one line per failed check and exits non-zero if any failed. */
#define _GNU_SOURCE
#include <complex.h>
#include <ffi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int failures;
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);           \
            failures++;                                                      \
        }                                                                    \
    } while (0)

/* ---- the type objects ------------------------------------------------------------ */

static void test_types(void) {
    struct { ffi_type *t; size_t size; unsigned short align, code; } scalars[] = {
        {&ffi_type_void, 1, 1, FFI_TYPE_VOID},
        {&ffi_type_uint8, 1, 1, FFI_TYPE_UINT8},     {&ffi_type_sint8, 1, 1, FFI_TYPE_SINT8},
        {&ffi_type_uint16, 2, 2, FFI_TYPE_UINT16},   {&ffi_type_sint16, 2, 2, FFI_TYPE_SINT16},
        {&ffi_type_uint32, 4, 4, FFI_TYPE_UINT32},   {&ffi_type_sint32, 4, 4, FFI_TYPE_SINT32},
        {&ffi_type_uint64, 8, 8, FFI_TYPE_UINT64},   {&ffi_type_sint64, 8, 8, FFI_TYPE_SINT64},
        {&ffi_type_float, 4, 4, FFI_TYPE_FLOAT},     {&ffi_type_double, 8, 8, FFI_TYPE_DOUBLE},
        {&ffi_type_pointer, 8, 8, FFI_TYPE_POINTER},
        {&ffi_type_longdouble, sizeof(long double), _Alignof(long double), FFI_TYPE_LONGDOUBLE},
    };
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        CHECK(scalars[i].t->size == scalars[i].size);
        CHECK(scalars[i].t->alignment == scalars[i].align);
        CHECK(scalars[i].t->type == scalars[i].code);
        CHECK(scalars[i].t->elements == NULL);
    }
    CHECK(ffi_type_complex_float.size == 8 && ffi_type_complex_float.alignment == 4);
    CHECK(ffi_type_complex_double.size == 16 && ffi_type_complex_double.alignment == 8);
    CHECK(ffi_type_complex_longdouble.size == 2 * sizeof(long double));
    CHECK(ffi_type_complex_float.type == FFI_TYPE_COMPLEX);
    CHECK(ffi_type_complex_float.elements[0]->type == FFI_TYPE_FLOAT);
    CHECK(ffi_type_complex_double.elements[0]->type == FFI_TYPE_DOUBLE);
    CHECK(ffi_type_complex_longdouble.elements[0]->type == FFI_TYPE_LONGDOUBLE);
    CHECK(ffi_type_complex_double.elements[1] == NULL);
}

/* ---- status codes and layout ------------------------------------------------------ */

static void test_status_codes(void) {
    ffi_cif cif;
    ffi_type *args[3] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_pointer};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_sint32, args) == FFI_OK);
    CHECK(cif.nargs == 3 && cif.rtype == &ffi_type_sint32 && cif.arg_types == args);
    CHECK(cif.abi == FFI_DEFAULT_ABI);
    CHECK(ffi_prep_cif(&cif, FFI_FIRST_ABI, 0, &ffi_type_void, NULL) == FFI_BAD_ABI);
    CHECK(ffi_prep_cif(&cif, FFI_LAST_ABI, 0, &ffi_type_void, NULL) == FFI_BAD_ABI);
    CHECK(ffi_prep_cif(&cif, (ffi_abi)1000, 0, &ffi_type_void, NULL) == FFI_BAD_ABI);

    ffi_type no_elements = {0, 0, FFI_TYPE_STRUCT, NULL};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &no_elements, NULL) == FFI_BAD_TYPEDEF);
    ffi_type *empty_list[1] = {NULL};
    ffi_type empty = {0, 0, FFI_TYPE_STRUCT, empty_list};
    ffi_type *one_arg[1] = {&empty};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, one_arg) == FFI_BAD_TYPEDEF);

    /* variadic: promoted types only */
    ffi_type *va[3] = {&ffi_type_pointer, &ffi_type_sint32, &ffi_type_double};
    CHECK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 3, &ffi_type_sint32, va) == FFI_OK);
    CHECK(cif.nargs == 3);
    ffi_type *bad[] = {&ffi_type_float, &ffi_type_sint16, &ffi_type_uint8, &ffi_type_sint8,
                       &ffi_type_uint16};
    for (int i = 0; i < 5; i++) {
        ffi_type *v[2] = {&ffi_type_pointer, bad[i]};
        CHECK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint32, v) ==
              FFI_BAD_ARGTYPE);
    }
    /* a copy of a type object is identified by its type field, not its address */
    ffi_type float_copy = ffi_type_float;
    ffi_type *vf[2] = {&ffi_type_pointer, &float_copy};
    ffi_status s = ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 1, 2, &ffi_type_sint32, vf);
    CHECK(s == FFI_OK || s == FFI_BAD_ARGTYPE); /* libffi compares the address */

    /* layout of a struct whose size is 0 */
    ffi_type *elems[4] = {&ffi_type_sint8, &ffi_type_double, &ffi_type_sint16, NULL};
    ffi_type st = {0, 0, FFI_TYPE_STRUCT, elems};
    size_t offsets[3] = {99, 99, 99};
    CHECK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &st, offsets) == FFI_OK);
    CHECK(offsets[0] == 0 && offsets[1] == 8 && offsets[2] == 16);
    CHECK(st.size == 24 && st.alignment == 8);
    CHECK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &st, NULL) == FFI_OK);
    CHECK(ffi_get_struct_offsets(FFI_LAST_ABI, &st, NULL) == FFI_BAD_ABI);
    CHECK(ffi_get_struct_offsets(FFI_DEFAULT_ABI, &ffi_type_sint32, NULL) == FFI_BAD_TYPEDEF);
    ffi_type st2 = {0, 0, FFI_TYPE_STRUCT, elems};
    ffi_type *sa[1] = {&st2};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_void, sa) == FFI_OK);
    CHECK(st2.size == 24 && st2.alignment == 8);
}

/* ---- calls ------------------------------------------------------------------------- */

static signed char ret_s8(void) { return -5; }
static unsigned char ret_u8(void) { return 200; }
static short ret_s16(void) { return -300; }
static unsigned short ret_u16(void) { return 60000; }
static int ret_s32(void) { return -70000; }
static unsigned ret_u32(void) { return 4000000000u; }
static _Bool ret_bool(void) { return 1; }

static void test_widening(void) {
    ffi_cif cif;
    ffi_arg r;
#define WIDEN(fn, type, expect)                                                 \
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &type, NULL) == FFI_OK);       \
    memset(&r, 0xAB, sizeof r);                                                 \
    ffi_call(&cif, FFI_FN(fn), &r, NULL);                                       \
    CHECK(r == (ffi_arg)(expect));
    WIDEN(ret_s8, ffi_type_sint8, (ffi_sarg)-5);
    WIDEN(ret_u8, ffi_type_uint8, 200);
    WIDEN(ret_s16, ffi_type_sint16, (ffi_sarg)-300);
    WIDEN(ret_u16, ffi_type_uint16, 60000);
    WIDEN(ret_s32, ffi_type_sint32, (ffi_sarg)-70000);
    WIDEN(ret_u32, ffi_type_uint32, 4000000000u);
    WIDEN(ret_bool, ffi_type_uint8, 1);
    /* a NULL rvalue discards the result */
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 0, &ffi_type_sint32, NULL) == FFI_OK);
    ffi_call(&cif, FFI_FN(ret_s32), NULL, NULL);
}

static double mix(int a, double b, char c, float d, long long e, short f, void *g) {
    return a + b + c + d + (double)e + f + (g ? 1000 : 0);
}

struct small { int i; float f; };
struct pair { double a, b; };
struct big { long v[5]; };
struct odd { char c; short s; char t[3]; };

static struct small make_small(struct small s, int k) { s.i += k; s.f *= 2; return s; }
static struct pair swap_pair(struct pair p) { struct pair q = {p.b, p.a}; return q; }
static struct big bump_big(struct big b) { for (int i = 0; i < 5; i++) b.v[i] += i; return b; }
static struct odd odd_id(struct odd o) { o.t[2]++; return o; }
static double complex cmul(double complex a, double complex b) { return a * b; }
static float complex cfconj(float complex a) { return conjf(a); }

static ffi_type *small_elems[] = {&ffi_type_sint32, &ffi_type_float, NULL};
static ffi_type small_t = {0, 0, FFI_TYPE_STRUCT, small_elems};
static ffi_type *pair_elems[] = {&ffi_type_double, &ffi_type_double, NULL};
static ffi_type pair_t = {0, 0, FFI_TYPE_STRUCT, pair_elems};
static ffi_type *big_elems[] = {&ffi_type_sint64, &ffi_type_sint64, &ffi_type_sint64,
                                &ffi_type_sint64, &ffi_type_sint64, NULL};
static ffi_type big_t = {0, 0, FFI_TYPE_STRUCT, big_elems};
static ffi_type *t3_elems[] = {&ffi_type_sint8, &ffi_type_sint8, &ffi_type_sint8, NULL};
static ffi_type t3_t = {0, 0, FFI_TYPE_STRUCT, t3_elems};
static ffi_type *odd_elems[] = {&ffi_type_sint8, &ffi_type_sint16, &t3_t, NULL};
static ffi_type odd_t = {0, 0, FFI_TYPE_STRUCT, odd_elems};

static void test_calls(void) {
    ffi_cif cif;
    ffi_type *args[7] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_sint8, &ffi_type_float,
                         &ffi_type_sint64, &ffi_type_sint16, &ffi_type_pointer};
    int a = 1; double b = 2.5; char c = 3; float d = 4.5f; long long e = 1LL << 40;
    short f = -6; void *g = &a;
    void *values[7] = {&a, &b, &c, &d, &e, &f, &g};
    double r;
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 7, &ffi_type_double, args) == FFI_OK);
    ffi_call(&cif, FFI_FN(mix), &r, values);
    CHECK(r == mix(a, b, c, d, e, f, g));

    struct small s = {10, 1.5f}, sr; int k = 5;
    ffi_type *sargs[2] = {&small_t, &ffi_type_sint32};
    void *svals[2] = {&s, &k};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &small_t, sargs) == FFI_OK);
    ffi_call(&cif, FFI_FN(make_small), &sr, svals);
    CHECK(sr.i == 15 && sr.f == 3.0f);

    struct pair p = {1.25, -2.5}, pr;
    ffi_type *pargs[1] = {&pair_t};
    void *pvals[1] = {&p};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &pair_t, pargs) == FFI_OK);
    ffi_call(&cif, FFI_FN(swap_pair), &pr, pvals);
    CHECK(pr.a == -2.5 && pr.b == 1.25);

    struct big bg = {{1, 2, 3, 4, 5}}, br;
    ffi_type *bargs[1] = {&big_t};
    void *bvals[1] = {&bg};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &big_t, bargs) == FFI_OK);
    ffi_call(&cif, FFI_FN(bump_big), &br, bvals);
    CHECK(br.v[0] == 1 && br.v[4] == 9 && bg.v[4] == 5);
    ffi_call(&cif, FFI_FN(bump_big), NULL, bvals); /* NULL rvalue for a struct */

    struct odd o = {'a', 300, {'x', 'y', 'z'}}, orr;
    ffi_type *oargs[1] = {&odd_t};
    void *ovals[1] = {&o};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &odd_t, oargs) == FFI_OK);
    CHECK(odd_t.size == sizeof(struct odd) && odd_t.alignment == _Alignof(struct odd));
    ffi_call(&cif, FFI_FN(odd_id), &orr, ovals);
    CHECK(orr.c == 'a' && orr.s == 300 && orr.t[2] == 'z' + 1);

    double complex x = 1 + 2 * I, y = 3 - 1 * I, z;
    ffi_type *cargs[2] = {&ffi_type_complex_double, &ffi_type_complex_double};
    void *cvals[2] = {&x, &y};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_complex_double, cargs) == FFI_OK);
    ffi_call(&cif, FFI_FN(cmul), &z, cvals);
    CHECK(z == x * y);
    float complex fx = 1.5f + 2.0f * I, fz;
    ffi_type *fargs[1] = {&ffi_type_complex_float};
    void *fvals[1] = {&fx};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_complex_float, fargs) == FFI_OK);
    ffi_call(&cif, FFI_FN(cfconj), &fz, fvals);
    CHECK(fz == conjf(fx));

    /* variadic: snprintf through ffi_prep_cif_var, and through a plain cif (x86-64 sets
       %al for every call, which ctypes relies on) */
    char buf[64];
    char *bp = buf; size_t n = sizeof buf; const char *fmt = "%d %.2f %s %lld";
    int vi = -42; double vd = 3.25; const char *vs = "str"; long long vl = -(1LL << 50);
    ffi_type *vargs[6] = {&ffi_type_pointer, &ffi_type_uint64, &ffi_type_pointer,
                          &ffi_type_sint32, &ffi_type_double, &ffi_type_pointer};
    ffi_type *vargs2[7];
    memcpy(vargs2, vargs, sizeof vargs);
    vargs2[6] = &ffi_type_sint64;
    void *vvals[7] = {&bp, &n, &fmt, &vi, &vd, &vs, &vl};
    ffi_arg vr;
    CHECK(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 7, &ffi_type_sint32, vargs2) == FFI_OK);
    ffi_call(&cif, FFI_FN(snprintf), &vr, vvals);
    CHECK(strcmp(buf, "-42 3.25 str -1125899906842624") == 0);
    CHECK((int)vr == (int)strlen(buf));
#if defined(__x86_64__)
    memset(buf, 0, sizeof buf);
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 7, &ffi_type_sint32, vargs2) == FFI_OK);
    ffi_call(&cif, FFI_FN(snprintf), &vr, vvals);
    CHECK(strcmp(buf, "-42 3.25 str -1125899906842624") == 0);
#endif
}

/* ---- each ABI ---------------------------------------------------------------------- */

#if defined(__x86_64__)
__attribute__((ms_abi)) static double win_mix(int a, double b, int c, double d, int e,
                                              double f) {
    return a * 1 + b * 10 + c * 100 + d * 1000 + e * 10000 + f * 100000;
}
__attribute__((ms_abi)) static struct big win_big(struct big b, int k) {
    b.v[0] += k; return b;
}
/* Reads its variadic doubles from the integer registers, as Win64 callees do. */
__attribute__((ms_abi)) static double win_vsum(int n, ...) {
    __builtin_ms_va_list ap;
    __builtin_ms_va_start(ap, n);
    double s = 0;
    for (int i = 0; i < n; i++)
        s += (i % 2 ? __builtin_va_arg(ap, double) : __builtin_va_arg(ap, int)) * (i + 1);
    __builtin_ms_va_end(ap);
    return s;
}
#endif

static void test_abis(void) {
#if defined(__x86_64__)
    ffi_abi abis[2] = {FFI_WIN64, FFI_GNUW64};
    for (int i = 0; i < 2; i++) {
        ffi_cif cif;
        ffi_type *args[6] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_sint32,
                             &ffi_type_double, &ffi_type_sint32, &ffi_type_double};
        int a = 1, c = 3, e = 5; double b = 2, d = 4, f = 6, r;
        void *vals[6] = {&a, &b, &c, &d, &e, &f};
        CHECK(ffi_prep_cif(&cif, abis[i], 6, &ffi_type_double, args) == FFI_OK);
        ffi_call(&cif, FFI_FN(win_mix), &r, vals);
        CHECK(r == win_mix(1, 2, 3, 4, 5, 6));
        struct big bg = {{1, 2, 3, 4, 5}}, br; int k = 10;
        ffi_type *bargs[2] = {&big_t, &ffi_type_sint32};
        void *bvals[2] = {&bg, &k};
        CHECK(ffi_prep_cif(&cif, abis[i], 2, &big_t, bargs) == FFI_OK);
        ffi_call(&cif, FFI_FN(win_big), &br, bvals);
        CHECK(br.v[0] == 11 && br.v[4] == 5);
        /* variadic: int, then int double int double int (a double in a register and one
           on the stack) */
        int n = 5, v0 = 1, v2 = 3, v4 = 5; double v1 = 0.5, v3 = 0.25;
        ffi_type *vargs[6] = {&ffi_type_sint32, &ffi_type_sint32, &ffi_type_double,
                              &ffi_type_sint32, &ffi_type_double, &ffi_type_sint32};
        void *vvals[6] = {&n, &v0, &v1, &v2, &v3, &v4};
        CHECK(ffi_prep_cif_var(&cif, abis[i], 1, 6, &ffi_type_double, vargs) == FFI_OK);
        r = 0;
        ffi_call(&cif, FFI_FN(win_vsum), &r, vvals);
        CHECK(r == win_vsum(5, 1, 0.5, 3, 0.25, 5));
    }
    ffi_cif cif;
    CHECK(ffi_prep_cif(&cif, FFI_UNIX64, 0, &ffi_type_sint32, NULL) == FFI_OK);
    ffi_arg r;
    ffi_call(&cif, FFI_FN(ret_s32), &r, NULL);
    CHECK((int)r == -70000);
#elif defined(__aarch64__)
    ffi_cif cif;
    CHECK(ffi_prep_cif(&cif, FFI_SYSV, 0, &ffi_type_sint32, NULL) == FFI_OK);
    ffi_arg r;
    ffi_call(&cif, FFI_FN(ret_s32), &r, NULL);
    CHECK((int)r == -70000);
#endif
}

/* ---- closures ---------------------------------------------------------------------- */

static void add_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    *(ffi_arg *)ret = (ffi_sarg)(*(int *)args[0] + *(int *)args[1] + *(int *)ud);
}
static void mix_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(double *)ret = mix(*(int *)args[0], *(double *)args[1], *(char *)args[2],
                         *(float *)args[3], *(long long *)args[4], *(short *)args[5],
                         *(void **)args[6]);
}
static void narrow_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(ffi_sarg *)ret = -(ffi_sarg) * (signed char *)args[0];
}
static void small_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(struct small *)ret = make_small(*(struct small *)args[0], *(int *)args[1]);
}
static void big_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(struct big *)ret = bump_big(*(struct big *)args[0]);
}
static void va_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(double *)ret = *(int *)args[0] * *(double *)args[1] + *(int *)args[2];
}
static void cmul_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(double complex *)ret = cmul(*(double complex *)args[0], *(double complex *)args[1]);
}
static void cfconj_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(float complex *)ret = cfconj(*(float complex *)args[0]);
}
static int void_calls;
static void void_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ret; (void)args; (void)ud;
    void_calls++;
}

static void *closure_for(ffi_cif *cif, void (*fn)(ffi_cif *, void *, void **, void *),
                         void *ud, ffi_closure **out) {
    void *code = NULL;
    ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
    CHECK(cl != NULL && code != NULL);
    CHECK(ffi_prep_closure_loc(cl, cif, fn, ud, code) == FFI_OK);
    CHECK(cl->cif == cif && cl->user_data == ud);
    *out = cl;
    return code;
}

static void test_closures(void) {
    ffi_closure *cl;
    int bias = 100;
    ffi_cif add_cif;
    ffi_type *ii[2] = {&ffi_type_sint32, &ffi_type_sint32};
    CHECK(ffi_prep_cif(&add_cif, FFI_DEFAULT_ABI, 2, &ffi_type_sint32, ii) == FFI_OK);
    int (*add)(int, int) = (int (*)(int, int))closure_for(&add_cif, add_fn, &bias, &cl);
    CHECK(add(1, 2) == 103);
    bias = 0; /* user_data is read at each call */
    CHECK(add(-5, 2) == -3);
    ffi_closure_free(cl);

    ffi_cif mix_cif;
    ffi_type *margs[7] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_sint8, &ffi_type_float,
                          &ffi_type_sint64, &ffi_type_sint16, &ffi_type_pointer};
    CHECK(ffi_prep_cif(&mix_cif, FFI_DEFAULT_ABI, 7, &ffi_type_double, margs) == FFI_OK);
    double (*m)(int, double, char, float, long long, short, void *) =
        (double (*)(int, double, char, float, long long, short, void *))closure_for(
            &mix_cif, mix_fn, NULL, &cl);
    CHECK(m(1, 2.5, 3, 4.5f, 1LL << 40, -6, NULL) == mix(1, 2.5, 3, 4.5f, 1LL << 40, -6, NULL));
    ffi_closure_free(cl);

    ffi_cif n_cif;
    ffi_type *n_args[1] = {&ffi_type_sint8};
    CHECK(ffi_prep_cif(&n_cif, FFI_DEFAULT_ABI, 1, &ffi_type_sint8, n_args) == FFI_OK);
    signed char (*neg)(signed char) = (signed char (*)(signed char))closure_for(
        &n_cif, narrow_fn, NULL, &cl);
    CHECK(neg(7) == -7 && neg(-100) == 100);
    ffi_closure_free(cl);

    ffi_cif s_cif;
    ffi_type *s_args[2] = {&small_t, &ffi_type_sint32};
    CHECK(ffi_prep_cif(&s_cif, FFI_DEFAULT_ABI, 2, &small_t, s_args) == FFI_OK);
    struct small (*sf)(struct small, int) =
        (struct small (*)(struct small, int))closure_for(&s_cif, small_fn, NULL, &cl);
    struct small sv = {1, 0.5f};
    struct small sr = sf(sv, 2);
    CHECK(sr.i == 3 && sr.f == 1.0f);
    ffi_closure_free(cl);

    ffi_cif b_cif;
    ffi_type *b_args[1] = {&big_t};
    CHECK(ffi_prep_cif(&b_cif, FFI_DEFAULT_ABI, 1, &big_t, b_args) == FFI_OK);
    struct big (*bf)(struct big) = (struct big (*)(struct big))closure_for(&b_cif, big_fn, NULL, &cl);
    struct big bv = {{10, 20, 30, 40, 50}};
    struct big brr = bf(bv);
    CHECK(brr.v[0] == 10 && brr.v[4] == 54);
    ffi_closure_free(cl);

    ffi_cif c_cif;
    ffi_type *c_args[2] = {&ffi_type_complex_double, &ffi_type_complex_double};
    CHECK(ffi_prep_cif(&c_cif, FFI_DEFAULT_ABI, 2, &ffi_type_complex_double, c_args) == FFI_OK);
    double complex (*cf)(double complex, double complex) =
        (double complex (*)(double complex, double complex))closure_for(&c_cif, cmul_fn, NULL, &cl);
    double complex cx = 1.5 - 2 * I, cy = -0.25 + 3 * I;
    CHECK(cf(cx, cy) == cx * cy);
    ffi_closure_free(cl);
    ffi_type *cf_args[1] = {&ffi_type_complex_float};
    CHECK(ffi_prep_cif(&c_cif, FFI_DEFAULT_ABI, 1, &ffi_type_complex_float, cf_args) == FFI_OK);
    float complex (*ff)(float complex) =
        (float complex (*)(float complex))closure_for(&c_cif, cfconj_fn, NULL, &cl);
    CHECK(ff(2.5f - 0.5f * I) == 2.5f + 0.5f * I);
    ffi_closure_free(cl);

    ffi_cif v_cif;
    CHECK(ffi_prep_cif(&v_cif, FFI_DEFAULT_ABI, 0, &ffi_type_void, NULL) == FFI_OK);
    void (*vf)(void) = (void (*)(void))closure_for(&v_cif, void_fn, NULL, &cl);
    vf(); vf();
    CHECK(void_calls == 2);
    /* a closure called through ffi_call */
    ffi_call(&v_cif, FFI_FN(vf), NULL, NULL);
    CHECK(void_calls == 3);
    ffi_closure_free(cl);

    /* a closure of a variadic cif, called with `...` */
    ffi_cif va_cif;
    ffi_type *va_args[3] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_sint32};
    CHECK(ffi_prep_cif_var(&va_cif, FFI_DEFAULT_ABI, 1, 3, &ffi_type_double, va_args) == FFI_OK);
    double (*va)(int, ...) = (double (*)(int, ...))closure_for(&va_cif, va_fn, NULL, &cl);
    CHECK(va(2, 1.5, 7) == 2 * 1.5 + 7);
    ffi_closure_free(cl);

    /* ffi_prep_closure on memory the caller mapped itself (as cffi does) */
    ffi_closure *own = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(own != MAP_FAILED);
    if (own != MAP_FAILED) {
        bias = 1000;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        CHECK(ffi_prep_closure(own, &add_cif, add_fn, &bias) == FFI_OK);
#pragma GCC diagnostic pop
        int (*own_add)(int, int) = (int (*)(int, int))(void *)own;
        CHECK(own_add(3, 4) == 1007);
        munmap(own, 4096);
    }
}


/* ---- long double and complex long double ---------------------------------------------- */

/* Whether a cif holding a long double was prepared (it must be, on every target):
   the check that uses it runs only then. */
#define LD_PREPARED(status, what) ld_prepared((status), (what), __LINE__)
static int ld_prepared(ffi_status s, const char *what, int line) {
    if (s != FFI_OK) {
        printf("FAIL %s:%d: %s: status %d\n", __FILE__, line, what, (int)s);
        failures++;
        return 0;
    }
    return 1;
}

/* Values that need more than double's 53 significand bits. */
#define LD_A (1.0L + 0x1p-60L)
#define LD_B (-3.0L - 0x1p-58L)

static long double ld_fma(long double a, int k, long double b) { return a * k + b; }
static long double ld_many(double d, long double a, float f, long double b, long double c,
                           long double e, int i) {
    return d + a * 2 + f + b * 3 + c * 4 + e * 5 + i;
}
struct cld { char c; long double x; };
static struct cld cld_bump(struct cld s, long double y) { s.c++; s.x += y; return s; }
static long double complex cld_mul(long double complex a, long double complex b) { return a * b; }
static long double complex cld_conj(long double complex a) { return conjl(a); }

static ffi_type *cld_elems[] = {&ffi_type_sint8, &ffi_type_longdouble, NULL};
static ffi_type cld_t = {0, 0, FFI_TYPE_STRUCT, cld_elems};

static void test_long_double_calls(void) {
    ffi_cif cif;
    long double a = LD_A, b = LD_B, r = 0;
    int k = 7;
    ffi_type *args[3] = {&ffi_type_longdouble, &ffi_type_sint32, &ffi_type_longdouble};
    void *vals[3] = {&a, &k, &b};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_longdouble, args),
                    "long double(long double, int, long double)")) {
        ffi_call(&cif, FFI_FN(ld_fma), &r, vals);
        CHECK(r == ld_fma(a, k, b));
        CHECK(r != (long double)(double)r); /* all of long double's bits came back */
    }

    /* more long doubles than registers of any kind take them, among doubles and ints */
    double d = 0.5; float f = 0.25f; long double c = LD_A * 3, e = LD_B / 7; int i = -9;
    ffi_type *margs[7] = {&ffi_type_double, &ffi_type_longdouble, &ffi_type_float,
                          &ffi_type_longdouble, &ffi_type_longdouble, &ffi_type_longdouble,
                          &ffi_type_sint32};
    void *mvals[7] = {&d, &a, &f, &b, &c, &e, &i};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 7, &ffi_type_longdouble, margs),
                    "long double of seven mixed arguments")) {
        r = 0;
        ffi_call(&cif, FFI_FN(ld_many), &r, mvals);
        CHECK(r == ld_many(d, a, f, b, c, e, i));
    }

    struct cld s = {'a', LD_A}, sr;
    ffi_type *sargs[2] = {&cld_t, &ffi_type_longdouble};
    void *svals[2] = {&s, &b};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &cld_t, sargs),
                    "struct {char; long double}")) {
        CHECK(cld_t.size == sizeof(struct cld) && cld_t.alignment == _Alignof(struct cld));
        memset(&sr, 0, sizeof sr);
        ffi_call(&cif, FFI_FN(cld_bump), &sr, svals);
        CHECK(sr.c == 'b' && sr.x == LD_A + LD_B);
    }

    long double complex x = LD_A + LD_B * I, y = LD_B - 2 * I, z = 0;
    ffi_type *cargs[2] = {&ffi_type_complex_longdouble, &ffi_type_complex_longdouble};
    void *cvals[2] = {&x, &y};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_complex_longdouble, cargs),
                    "complex long double(complex long double, complex long double)")) {
        ffi_call(&cif, FFI_FN(cld_mul), &z, cvals);
        CHECK(z == x * y);
    }
    ffi_type *c1[1] = {&ffi_type_complex_longdouble};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_complex_longdouble, c1),
                    "complex long double(complex long double)")) {
        z = 0;
        ffi_call(&cif, FFI_FN(cld_conj), &z, cvals);
        CHECK(creall(z) == LD_A && cimagl(z) == -LD_B);
    }

    /* a variadic long double (C promotes nothing past it) */
    char buf[64];
    char *bp = buf; size_t n = sizeof buf; const char *fmt = "%.20Lg|%d";
    long double v = LD_A;
    int vi = 5;
    ffi_type *vargs[5] = {&ffi_type_pointer, &ffi_type_uint64, &ffi_type_pointer,
                          &ffi_type_longdouble, &ffi_type_sint32};
    void *vvals[5] = {&bp, &n, &fmt, &v, &vi};
    char expect[64];
    snprintf(expect, sizeof expect, fmt, v, vi);
    if (LD_PREPARED(ffi_prep_cif_var(&cif, FFI_DEFAULT_ABI, 3, 5, &ffi_type_sint32, vargs),
                    "snprintf with a variadic long double")) {
        ffi_arg vr = 0;
        memset(buf, 0, sizeof buf);
        ffi_call(&cif, FFI_FN(snprintf), &vr, vvals);
        CHECK(strcmp(buf, expect) == 0);
        CHECK((int)vr == (int)strlen(expect));
    }
}

static void ld_fma_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(long double *)ret = ld_fma(*(long double *)args[0], *(int *)args[1],
                                 *(long double *)args[2]);
}
static void ld_many_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(long double *)ret = ld_many(*(double *)args[0], *(long double *)args[1],
                                  *(float *)args[2], *(long double *)args[3],
                                  *(long double *)args[4], *(long double *)args[5],
                                  *(int *)args[6]);
}
static void cld_bump_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(struct cld *)ret = cld_bump(*(struct cld *)args[0], *(long double *)args[1]);
}
static void cld_mul_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif; (void)ud;
    *(long double complex *)ret =
        cld_mul(*(long double complex *)args[0], *(long double complex *)args[1]);
}

static void *closure_for(ffi_cif *cif, void (*fn)(ffi_cif *, void *, void **, void *),
                         void *ud, ffi_closure **out);

static void test_long_double_closures(void) {
    ffi_closure *cl;
    ffi_cif cif;
    ffi_type *args[3] = {&ffi_type_longdouble, &ffi_type_sint32, &ffi_type_longdouble};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_longdouble, args),
                    "closure long double(long double, int, long double)")) {
        long double (*f)(long double, int, long double) =
            (long double (*)(long double, int, long double))closure_for(&cif, ld_fma_fn, NULL, &cl);
        CHECK(f(LD_A, 3, LD_B) == ld_fma(LD_A, 3, LD_B));
        /* and through ffi_call */
        long double a = LD_B, b = LD_A, r = 0;
        int k = -2;
        void *vals[3] = {&a, &k, &b};
        ffi_call(&cif, FFI_FN(f), &r, vals);
        CHECK(r == ld_fma(LD_B, -2, LD_A));
        ffi_closure_free(cl);
    }

    ffi_type *margs[7] = {&ffi_type_double, &ffi_type_longdouble, &ffi_type_float,
                          &ffi_type_longdouble, &ffi_type_longdouble, &ffi_type_longdouble,
                          &ffi_type_sint32};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 7, &ffi_type_longdouble, margs),
                    "closure long double of seven mixed arguments")) {
        long double (*m)(double, long double, float, long double, long double, long double,
                         int) =
            (long double (*)(double, long double, float, long double, long double, long double,
                             int))closure_for(&cif, ld_many_fn, NULL, &cl);
        CHECK(m(0.5, LD_A, 0.25f, LD_B, LD_A * 3, LD_B / 7, -9) ==
              ld_many(0.5, LD_A, 0.25f, LD_B, LD_A * 3, LD_B / 7, -9));
        ffi_closure_free(cl);
    }

    ffi_type *sargs[2] = {&cld_t, &ffi_type_longdouble};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &cld_t, sargs),
                    "closure struct {char; long double}")) {
        struct cld (*sf)(struct cld, long double) =
            (struct cld (*)(struct cld, long double))closure_for(&cif, cld_bump_fn, NULL, &cl);
        struct cld s = {'x', LD_B};
        struct cld sr = sf(s, LD_A);
        CHECK(sr.c == 'y' && sr.x == LD_B + LD_A);
        ffi_closure_free(cl);
    }

    ffi_type *cargs[2] = {&ffi_type_complex_longdouble, &ffi_type_complex_longdouble};
    if (LD_PREPARED(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_complex_longdouble, cargs),
                    "closure complex long double(complex long double, complex long double)")) {
        long double complex (*cf)(long double complex, long double complex) =
            (long double complex (*)(long double complex, long double complex))closure_for(
                &cif, cld_mul_fn, NULL, &cl);
        long double complex x = LD_A - LD_B * I, y = 0.5L + LD_A * I;
        CHECK(cf(x, y) == x * y);
        ffi_closure_free(cl);
    }
}

/* ---- 1,024 arguments ----------------------------------------------------------------- */

static long g_seen[1024];
static int g_k;
#define P4(x) int x##0, int x##1, int x##2, int x##3
#define P16(x) P4(x##0), P4(x##1), P4(x##2), P4(x##3)
#define P64(x) P16(x##0), P16(x##1), P16(x##2), P16(x##3)
#define P256(x) P64(x##0), P64(x##1), P64(x##2), P64(x##3)
#define P1024(x) P256(x##0), P256(x##1), P256(x##2), P256(x##3)
#define S4(x) g_seen[g_k++] = x##0; g_seen[g_k++] = x##1; g_seen[g_k++] = x##2; g_seen[g_k++] = x##3;
#define S16(x) S4(x##0) S4(x##1) S4(x##2) S4(x##3)
#define S64(x) S16(x##0) S16(x##1) S16(x##2) S16(x##3)
#define S256(x) S64(x##0) S64(x##1) S64(x##2) S64(x##3)
#define S1024(x) S256(x##0) S256(x##1) S256(x##2) S256(x##3)
static int take1024(P1024(a)) {
    g_k = 0;
    S1024(a)
    return g_k;
}

static void sum_fn(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)ud;
    double s = 0;
    for (unsigned i = 0; i < cif->nargs; i++)
        s += (i % 2 ? *(double *)args[i] : *(int *)args[i]) * (double)(i + 1);
    *(double *)ret = s;
}

static void test_1024(void) {
    static ffi_type *types[1024];
    static int ints[1024];
    static double dbls[1024];
    static void *vals[1024];
    ffi_cif cif;
    for (int i = 0; i < 1024; i++) { types[i] = &ffi_type_sint32; ints[i] = i * 7 - 500; vals[i] = &ints[i]; }
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1024, &ffi_type_sint32, types) == FFI_OK);
    ffi_arg r = 0;
    ffi_call(&cif, FFI_FN(take1024), &r, vals);
    CHECK((int)r == 1024);
    int ok = 1;
    for (int i = 0; i < 1024; i++) ok &= g_seen[i] == i * 7 - 500;
    CHECK(ok);

    /* 1,024 mixed arguments, ffi_call into a closure */
    double expect = 0;
    for (int i = 0; i < 1024; i++) {
        if (i % 2) { types[i] = &ffi_type_double; dbls[i] = i * 0.5; vals[i] = &dbls[i]; expect += dbls[i] * (i + 1); }
        else { types[i] = &ffi_type_sint32; vals[i] = &ints[i]; expect += ints[i] * (double)(i + 1); }
    }
    ffi_cif mcif;
    CHECK(ffi_prep_cif(&mcif, FFI_DEFAULT_ABI, 1024, &ffi_type_double, types) == FFI_OK);
    ffi_closure *cl;
    void *code = closure_for(&mcif, sum_fn, NULL, &cl);
    double d = 0;
    ffi_call(&mcif, FFI_FN(code), &d, vals);
    CHECK(d == expect);
    ffi_closure_free(cl);
}

/* ---- the raw and java-raw APIs ---------------------------------------------------------- */

static long raw_target(int a, double b, struct pair p, signed char c) {
    return a + (long)(b * 10) + (long)(p.a * 100) + (long)(p.b * 1000) + c;
}

static void raw_fn(ffi_cif *cif, void *ret, ffi_raw *raw, void *ud) {
    (void)cif;
    int a = *(int *)&raw[0];
    double b = *(double *)&raw[1];
    struct pair *p = raw[2].ptr;
    signed char c = (signed char)raw[3].sint;
    *(ffi_arg *)ret = (ffi_arg)(raw_target(a, b, *p, c) + *(long *)ud);
}

static void java_fn(ffi_cif *cif, void *ret, ffi_java_raw *raw, void *ud) {
    (void)cif; (void)ud;
    /* int: 1 slot; double: 2 slots; int: 1 slot */
    int a = (int)raw[0].sint;
    double b = *(double *)&raw[1];
    int c = (int)raw[3].sint;
    *(ffi_arg *)ret = (ffi_arg)(long)(a + b * 10 + c * 100);
}

static long java_target(int a, double b, int c) { return (long)(a + b * 10 + c * 100); }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void test_raw(void) {
    ffi_cif cif;
    ffi_type *args[4] = {&ffi_type_sint32, &ffi_type_double, &pair_t, &ffi_type_sint8};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 4, &ffi_type_slong, args) == FFI_OK);
    CHECK(ffi_raw_size(&cif) == 4 * sizeof(ffi_raw));
    struct pair p = {0.5, 0.25};
    int a = 3; double b = 1.5; signed char c = -2;
    void *ptrs[4] = {&a, &b, &p, &c};
    ffi_raw raw[4];
    memset(raw, 0, sizeof raw);
    ffi_ptrarray_to_raw(&cif, ptrs, raw);
    CHECK(raw[0].sint == 3 && raw[2].ptr == &p && raw[3].sint == -2);
    void *back[4];
    ffi_raw_to_ptrarray(&cif, raw, back);
    CHECK(*(int *)back[0] == 3 && *(double *)back[1] == 1.5 && back[2] == &p);
    CHECK(*(signed char *)back[3] == -2);
    ffi_arg r = 0;
    ffi_raw_call(&cif, FFI_FN(raw_target), &r, raw);
    CHECK((long)r == raw_target(a, b, p, c));

    long bias = 7;
    void *code;
    ffi_raw_closure *rc = ffi_closure_alloc(sizeof(ffi_raw_closure), &code);
    CHECK(rc != NULL);
    CHECK(ffi_prep_raw_closure_loc(rc, &cif, raw_fn, &bias, code) == FFI_OK);
    long (*rf)(int, double, struct pair, signed char) =
        (long (*)(int, double, struct pair, signed char))code;
    CHECK(rf(a, b, p, c) == raw_target(a, b, p, c) + 7);
    ffi_closure_free(rc);

    ffi_cif jcif;
    ffi_type *jargs[3] = {&ffi_type_sint32, &ffi_type_double, &ffi_type_sint32};
    CHECK(ffi_prep_cif(&jcif, FFI_DEFAULT_ABI, 3, &ffi_type_slong, jargs) == FFI_OK);
    CHECK(ffi_java_raw_size(&jcif) == 4 * sizeof(ffi_java_raw));
    int ja = 2, jc = 4; double jb = 0.5;
    void *jptrs[3] = {&ja, &jb, &jc};
    ffi_java_raw jraw[4];
    ffi_java_ptrarray_to_raw(&jcif, jptrs, jraw);
    void *jback[3];
    ffi_java_raw_to_ptrarray(&jcif, jraw, jback);
    CHECK(*(int *)jback[0] == 2 && *(double *)jback[1] == 0.5 && *(int *)jback[2] == 4);
    r = 0;
    ffi_java_raw_call(&jcif, FFI_FN(java_target), &r, jraw);
    CHECK((long)r == java_target(2, 0.5, 4));
    ffi_java_raw_closure *jc_cl = ffi_closure_alloc(sizeof(ffi_java_raw_closure), &code);
    CHECK(ffi_prep_java_raw_closure_loc(jc_cl, &jcif, java_fn, NULL, code) == FFI_OK);
    long (*jf)(int, double, int) = (long (*)(int, double, int))code;
    CHECK(jf(2, 0.5, 4) == java_target(2, 0.5, 4));
    ffi_closure_free(jc_cl);
}
#pragma GCC diagnostic pop

/* ---- Go closures ------------------------------------------------------------------------ */

/* Returns its static chain register plus its argument. */
long chain_plus(long);
#if defined(__x86_64__)
__asm__(".text\n.globl chain_plus\n.type chain_plus,@function\nchain_plus:\n"
        "  lea (%r10,%rdi), %rax\n  ret\n.size chain_plus, .-chain_plus\n");
#elif defined(__aarch64__)
__asm__(".text\n.globl chain_plus\n.type chain_plus,@function\nchain_plus:\n"
        "  add x0, x18, x0\n  ret\n.size chain_plus, .-chain_plus\n");
#endif

static void go_fn(ffi_cif *cif, void *ret, void **args, void *closure) {
    (void)cif;
    *(ffi_arg *)ret = (ffi_sarg)(*(long *)args[0] * 2 + (long)((char *)closure - (char *)0 != 0));
}

static void test_go(void) {
    ffi_cif cif;
    ffi_type *args[1] = {&ffi_type_slong};
    CHECK(ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 1, &ffi_type_slong, args) == FFI_OK);
    long x = 5;
    void *vals[1] = {&x};
    ffi_arg r = 0;
    ffi_call_go(&cif, FFI_FN(chain_plus), &r, vals, (void *)1000);
    CHECK((long)r == 1005);

    static ffi_go_closure gc;
    CHECK(ffi_prep_go_closure(&gc, &cif, go_fn) == FFI_OK);
    CHECK(gc.cif == &cif && gc.tramp != NULL);
    long (*f)(long) = (long (*)(long))gc.tramp;
    CHECK(__builtin_call_with_static_chain(f(21), &gc) == 43);
    /* and through ffi_call_go, as Go code calls it */
    x = 8;
    ffi_call_go(&cif, FFI_FN(gc.tramp), &r, vals, &gc);
    CHECK((long)r == 17);
}

/* Prints the libffi this process mapped, for the runner to check. */
static void print_loaded_libffi(void) {
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps)) {
        char *path = strchr(line, '/');
        if (path && strstr(path, "libffi")) {
            printf("loaded: %s", path);
            break;
        }
    }
    if (maps) fclose(maps);
}

int main(void) {
    print_loaded_libffi();
    test_types();
    test_status_codes();
    test_widening();
    test_calls();
    test_abis();
    test_closures();
    test_long_double_calls();
    test_long_double_closures();
    test_1024();
    test_raw();
    test_go();
    if (failures) {
        printf("%d checks failed\n", failures);
        return 1;
    }
    printf("ffi_api: all checks passed\n");
    return 0;
}

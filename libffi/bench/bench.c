/* The drop-in libffi.so.8 against the system's, in one process: both are loaded by full
   path with RTLD_LOCAL (two distinct objects, checked with dladdr), and every case runs
   interleaved on both, round after round; each case's result is checked on each library
   before it is timed. Prints one line per case:
       CASE system=NS dropin=NS ratio=R        (ns per operation, the best round; R = dropin/system)
   Usage: [BENCH_ONLY=SUBSTRING] bench [--quick] SYSTEM_LIBFFI DROPIN_LIBFFI
   Compiled against the system's ffi.h (the drop-in has libffi 3.4's ABI). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ffi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- one loaded libffi ----------------------------------------------------------- */

typedef struct {
    const char *name, *path;
    ffi_status (*prep_cif)(ffi_cif *, ffi_abi, unsigned, ffi_type *, ffi_type **);
    void (*call)(ffi_cif *, void (*)(void), void *, void **);
    void *(*closure_alloc)(size_t, void **);
    void (*closure_free)(void *);
    ffi_status (*prep_closure_loc)(ffi_closure *, ffi_cif *,
                                   void (*)(ffi_cif *, void *, void **, void *), void *, void *);
    ffi_type *t_void, *t_uint8, *t_sint8, *t_sint16, *t_sint32, *t_sint64, *t_float,
        *t_double, *t_pointer;
} Lib;

static void die(const char *what, const Lib *lib) {
    fprintf(stderr, "bench: %s (%s)\n", what, lib ? lib->name : "-");
    exit(1);
}

static void *sym(void *handle, const char *name, const Lib *lib) {
    void *p = dlsym(handle, name);
    if (!p) die(name, lib);
    return p;
}

static void load(Lib *lib, const char *name, const char *path) {
    lib->name = name;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "bench: %s\n", dlerror());
        exit(1);
    }
    lib->prep_cif = sym(h, "ffi_prep_cif", lib);
    lib->call = sym(h, "ffi_call", lib);
    lib->closure_alloc = sym(h, "ffi_closure_alloc", lib);
    lib->closure_free = sym(h, "ffi_closure_free", lib);
    lib->prep_closure_loc = sym(h, "ffi_prep_closure_loc", lib);
    lib->t_void = sym(h, "ffi_type_void", lib);
    lib->t_uint8 = sym(h, "ffi_type_uint8", lib);
    lib->t_sint8 = sym(h, "ffi_type_sint8", lib);
    lib->t_sint16 = sym(h, "ffi_type_sint16", lib);
    lib->t_sint32 = sym(h, "ffi_type_sint32", lib);
    lib->t_sint64 = sym(h, "ffi_type_sint64", lib);
    lib->t_float = sym(h, "ffi_type_float", lib);
    lib->t_double = sym(h, "ffi_type_double", lib);
    lib->t_pointer = sym(h, "ffi_type_pointer", lib);
    Dl_info info;
    if (!dladdr((void *)lib->call, &info) || !info.dli_fname) die("dladdr", lib);
    lib->path = info.dli_fname;
}

/* ---- timing ------------------------------------------------------------------------ */

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A case runs `n` operations on `lib` and gives the ns they took (setup excluded); it
   checks its results first and exits on a wrong one. */
typedef double (*Case)(const Lib *lib, long n);

#define CHECK(cond, lib)                                                  \
    do {                                                                  \
        if (!(cond)) die("wrong result: " #cond, lib);                    \
    } while (0)

static void prep(const Lib *L, ffi_cif *cif, unsigned n, ffi_type *r, ffi_type **a) {
    if (L->prep_cif(cif, FFI_DEFAULT_ABI, n, r, a) != FFI_OK) die("ffi_prep_cif", L);
}

/* ---- the callees ------------------------------------------------------------------- */

typedef struct { double x, y; } DD;
typedef struct { int64_t a, b, c, d; } Q4;

__attribute__((noinline)) static int f_int(int x) { return 3 * x + 1; }
__attribute__((noinline)) static double f_d_id(int a, double b) { return a + 2 * b; }
__attribute__((noinline)) static int64_t f_i64x6(int64_t a, int64_t b, int64_t c, int64_t d,
                                                 int64_t e, int64_t f) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f;
}
__attribute__((noinline)) static int64_t f_mixed10(int8_t a, int16_t b, int32_t c, int64_t d,
                                                   float e, double f, void *g, uint8_t h,
                                                   double i, int32_t j) {
    return a + 2 * b + 3 * c + 4 * d + (int64_t)(5 * e) + (int64_t)(6 * f) + (g ? 7 : 0) +
           8 * h + (int64_t)(9 * i) + 10 * j;
}
__attribute__((noinline)) static double f_dd3(DD a, DD b, DD c) {
    return a.x + 2 * a.y + 3 * b.x + 4 * b.y + 5 * c.x + 6 * c.y;
}
__attribute__((noinline)) static Q4 f_ret32(int64_t x) { return (Q4){x, x + 1, x + 2, x + 3}; }

/* ---- ffi_call -------------------------------------------------------------------- */

#define TIME_CALLS(L, n, cif, fn, ret, args)                                   \
    do {                                                                       \
        double t0 = now_ns();                                                  \
        for (long k = 0; k < (n); k++) L->call(&cif, (void (*)(void))fn, ret, args); \
        return now_ns() - t0;                                                  \
    } while (0)

static double call_int_int(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *at[] = {L->t_sint32};
    prep(L, &cif, 1, L->t_sint32, at);
    int x = 41;
    void *args[] = {&x};
    ffi_arg r = 0;
    L->call(&cif, (void (*)(void))f_int, &r, args);
    CHECK((int)r == f_int(41), L);
    TIME_CALLS(L, n, cif, f_int, &r, args);
}

static double call_d_id(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *at[] = {L->t_sint32, L->t_double};
    prep(L, &cif, 2, L->t_double, at);
    int a = 3;
    double b = 0.25, r = 0;
    void *args[] = {&a, &b};
    L->call(&cif, (void (*)(void))f_d_id, &r, args);
    CHECK(r == f_d_id(3, 0.25), L);
    TIME_CALLS(L, n, cif, f_d_id, &r, args);
}

static double call_i64x6(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *at[6];
    for (int i = 0; i < 6; i++) at[i] = L->t_sint64;
    prep(L, &cif, 6, L->t_sint64, at);
    int64_t v[6] = {1, -2, 3, -4, 5, 1LL << 40};
    void *args[6];
    for (int i = 0; i < 6; i++) args[i] = &v[i];
    int64_t r = 0;
    L->call(&cif, (void (*)(void))f_i64x6, &r, args);
    CHECK(r == f_i64x6(v[0], v[1], v[2], v[3], v[4], v[5]), L);
    TIME_CALLS(L, n, cif, f_i64x6, &r, args);
}

static double call_mixed10(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *at[] = {L->t_sint8, L->t_sint16, L->t_sint32, L->t_sint64, L->t_float,
                      L->t_double, L->t_pointer, L->t_uint8, L->t_double, L->t_sint32};
    prep(L, &cif, 10, L->t_sint64, at);
    int8_t a = -3;
    int16_t b = 300;
    int32_t c = -70000, j = 11;
    int64_t d = 1LL << 35, r = 0;
    float e = 1.5f;
    double f = 2.5, i = -4.0;
    void *g = &cif;
    uint8_t h = 200;
    void *args[] = {&a, &b, &c, &d, &e, &f, &g, &h, &i, &j};
    L->call(&cif, (void (*)(void))f_mixed10, &r, args);
    CHECK(r == f_mixed10(a, b, c, d, e, f, g, h, i, j), L);
    TIME_CALLS(L, n, cif, f_mixed10, &r, args);
}

static double call_struct_dd3(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *el[] = {L->t_double, L->t_double, NULL};
    ffi_type dd = {0, 0, FFI_TYPE_STRUCT, el};
    ffi_type *at[] = {&dd, &dd, &dd};
    prep(L, &cif, 3, L->t_double, at);
    DD x = {1, 2}, y = {3, 4}, z = {5, 6};
    double r = 0;
    void *args[] = {&x, &y, &z};
    L->call(&cif, (void (*)(void))f_dd3, &r, args);
    CHECK(r == f_dd3(x, y, z), L);
    TIME_CALLS(L, n, cif, f_dd3, &r, args);
}

static double call_ret32(const Lib *L, long n) {
    ffi_cif cif;
    ffi_type *el[] = {L->t_sint64, L->t_sint64, L->t_sint64, L->t_sint64, NULL};
    ffi_type q4 = {0, 0, FFI_TYPE_STRUCT, el};
    ffi_type *at[] = {L->t_sint64};
    prep(L, &cif, 1, &q4, at);
    int64_t x = 10;
    Q4 r = {0};
    void *args[] = {&x};
    L->call(&cif, (void (*)(void))f_ret32, &r, args);
    CHECK(r.a == 10 && r.b == 11 && r.c == 12 && r.d == 13, L);
    TIME_CALLS(L, n, cif, f_ret32, &r, args);
}

/* ---- ffi_prep_cif of a seen signature -------------------------------------------- */

/* As ctypes does on every call: a fresh cif and a fresh argument-type array (on the
   stack), filled with type objects that live on. */
static double prep_scalars(const Lib *L, long n) {
    ffi_cif first;
    ffi_type *at0[] = {L->t_pointer, L->t_sint32, L->t_double};
    prep(L, &first, 3, L->t_sint32, at0);
    double t0 = now_ns();
    for (long k = 0; k < n; k++) {
        ffi_cif cif;
        ffi_type *at[] = {L->t_pointer, L->t_sint32, L->t_double};
        prep(L, &cif, 3, L->t_sint32, at);
        if (cif.bytes != first.bytes || cif.flags != first.flags) die("prep differs", L);
    }
    return now_ns() - t0;
}

/* The same, with a struct type object that lives on (ctypes keeps one per Structure). */
static double prep_struct_same(const Lib *L, long n) {
    ffi_type *el[] = {L->t_double, L->t_double, NULL};
    ffi_type dd = {0, 0, FFI_TYPE_STRUCT, el};
    ffi_cif first;
    ffi_type *at0[] = {&dd, L->t_sint32};
    prep(L, &first, 2, L->t_double, at0);
    CHECK(dd.size == 16 && dd.alignment == 8, L);
    double t0 = now_ns();
    for (long k = 0; k < n; k++) {
        ffi_cif cif;
        ffi_type *at[] = {&dd, L->t_sint32};
        prep(L, &cif, 2, L->t_double, at);
        if (cif.bytes != first.bytes || cif.flags != first.flags) die("prep differs", L);
    }
    return now_ns() - t0;
}

/* A struct type object built anew (size 0: laid out by ffi_prep_cif) for every cif. */
static double prep_struct_fresh(const Lib *L, long n) {
    ffi_cif first;
    {
        ffi_type *el[] = {L->t_double, L->t_double, NULL};
        ffi_type dd = {0, 0, FFI_TYPE_STRUCT, el};
        ffi_type *at[] = {&dd, L->t_sint32};
        prep(L, &first, 2, L->t_double, at);
    }
    double t0 = now_ns();
    for (long k = 0; k < n; k++) {
        ffi_cif cif;
        ffi_type *el[] = {L->t_double, L->t_double, NULL};
        ffi_type dd = {0, 0, FFI_TYPE_STRUCT, el};
        ffi_type *at[] = {&dd, L->t_sint32};
        prep(L, &cif, 2, L->t_double, at);
        if (dd.size != 16 || cif.bytes != first.bytes || cif.flags != first.flags)
            die("prep differs", L);
    }
    return now_ns() - t0;
}

/* ---- closures ------------------------------------------------------------------------ */

static void add_handler(ffi_cif *cif, void *ret, void **args, void *data) {
    (void)cif;
    *(ffi_arg *)ret = (ffi_arg)(*(int *)args[0] + *(int *)args[1] + (int)(intptr_t)data);
}

static double closure_cycle(const Lib *L, long n) {
    static ffi_cif cif; /* outlives the closures (per library: prepared again each run) */
    static ffi_type *at[2];
    at[0] = at[1] = L->t_sint32;
    prep(L, &cif, 2, L->t_sint32, at);
    double t0 = now_ns();
    for (long k = 0; k < n; k++) {
        void *code;
        ffi_closure *c = L->closure_alloc(sizeof(ffi_closure), &code);
        if (!c) die("ffi_closure_alloc", L);
        if (L->prep_closure_loc(c, &cif, add_handler, (void *)(intptr_t)k, code) != FFI_OK)
            die("ffi_prep_closure_loc", L);
        if (k == 0 && ((int (*)(int, int))code)(2, 3) != 5) die("closure result", L);
        L->closure_free(c);
    }
    return now_ns() - t0;
}

static double closure_call(const Lib *L, long n) {
    static ffi_cif cif;
    static ffi_type *at[2];
    at[0] = at[1] = L->t_sint32;
    prep(L, &cif, 2, L->t_sint32, at);
    void *code;
    ffi_closure *c = L->closure_alloc(sizeof(ffi_closure), &code);
    if (!c || L->prep_closure_loc(c, &cif, add_handler, (void *)7, code) != FFI_OK)
        die("closure", L);
    int (*volatile fn)(int, int) = (int (*)(int, int))code;
    CHECK(fn(20, 22) == 49, L);
    int acc = 0;
    double t0 = now_ns();
    for (long k = 0; k < n; k++) acc += fn((int)k, 1);
    double t = now_ns() - t0;
    long expect = 0;
    for (long k = 0; k < n; k++) expect += (int)k + 8;
    CHECK(acc == (int)expect, L);
    L->closure_free(c);
    return t;
}

/* ffi_call of int(int) while a closure is alive (the drop-in then tracks callback errors
   per call). */
static double call_int_closure_live(const Lib *L, long n) {
    static ffi_cif cif;
    static ffi_type *at[2];
    at[0] = at[1] = L->t_sint32;
    prep(L, &cif, 2, L->t_sint32, at);
    void *code;
    ffi_closure *c = L->closure_alloc(sizeof(ffi_closure), &code);
    if (!c || L->prep_closure_loc(c, &cif, add_handler, NULL, code) != FFI_OK)
        die("closure", L);
    double t = call_int_int(L, n);
    L->closure_free(c);
    return t;
}

/* ---- main ---------------------------------------------------------------------------- */

static const struct { const char *name; Case run; } CASES[] = {
    {"call_int(int)", call_int_int},
    {"call_double(int,double)", call_d_id},
    {"call_int64x6", call_i64x6},
    {"call_mixed10", call_mixed10},
    {"call_struct_dd_x3", call_struct_dd3},
    {"call_ret_struct32", call_ret32},
    {"prep_seen_scalars", prep_scalars},
    {"prep_seen_struct_same_type", prep_struct_same},
    {"prep_seen_struct_fresh_type", prep_struct_fresh},
    {"closure_alloc_prep_free", closure_cycle},
    {"closure_call_from_c", closure_call},
    {"call_int(int)_closure_live", call_int_closure_live},
};

int main(int argc, char **argv) {
    int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc != 3 + quick) {
        fprintf(stderr, "usage: bench [--quick] SYSTEM_LIBFFI DROPIN_LIBFFI\n");
        return 2;
    }
    Lib libs[2];
    load(&libs[0], "system", argv[1 + quick]);
    load(&libs[1], "dropin", argv[2 + quick]);
    if (libs[0].call == libs[1].call || strcmp(libs[0].path, libs[1].path) == 0)
        die("the two libraries are one object", NULL);
    printf("system: %s\ndropin: %s\n", libs[0].path, libs[1].path);

    int rounds = quick ? 3 : 15;
    double round_ns = quick ? 2e6 : 10e6; /* each case, each library, each round */
    const char *only = getenv("BENCH_ONLY"); /* a substring of the case names to run */
    for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
        if (only && !strstr(CASES[c].name, only)) continue;
        double best[2] = {1e30, 1e30};
        long n[2];
        for (int l = 0; l < 2; l++) { /* calibrate: about round_ns per round */
            double t = CASES[c].run(&libs[l], 200);
            n[l] = (long)(round_ns / (t / 200 + 0.1));
            if (n[l] < 100) n[l] = 100;
        }
        for (int r = 0; r < rounds; r++)
            for (int l = 0; l < 2; l++) {
                double per = CASES[c].run(&libs[l], n[l]) / n[l];
                if (per < best[l]) best[l] = per;
            }
        printf("%-30s system=%.1f dropin=%.1f ratio=%.2f\n", CASES[c].name, best[0], best[1],
               best[1] / best[0]);
        fflush(stdout);
    }
    return 0;
}

/* 8 threads preparing and calling overlapping signatures and closures at once: fresh
   type objects each time (so the cif cache must match by structure), shared ones, and
   closures allocated, prepared, called and freed concurrently. */
#include <ffi.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define THREADS 8
#define ROUNDS 3000

struct pt { double x; int y; };
static struct pt pt_add(struct pt a, struct pt b) { struct pt r = {a.x + b.x, a.y + b.y}; return r; }
static long lsum3(long a, int b, short c) { return a + b + c; }
static double dmul(double a, float b) { return a * b; }

static void pt_closure(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    struct pt a = *(struct pt *)args[0], b = *(struct pt *)args[1];
    struct pt r = pt_add(a, b);
    r.y += *(int *)ud;
    *(struct pt *)ret = r;
}
static void l_closure(ffi_cif *cif, void *ret, void **args, void *ud) {
    (void)cif;
    *(ffi_arg *)ret = (ffi_sarg)(lsum3(*(long *)args[0], *(int *)args[1], *(short *)args[2]) + *(int *)ud);
}

static int errors[THREADS];

static void *worker(void *arg) {
    int tid = (int)(long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        /* fresh struct type objects every round */
        ffi_type *elems[3] = {&ffi_type_double, &ffi_type_sint32, NULL};
        ffi_type pt_t = {0, 0, FFI_TYPE_STRUCT, elems};
        ffi_type *pargs[2] = {&pt_t, &pt_t};
        ffi_type *largs[3] = {&ffi_type_slong, &ffi_type_sint32, &ffi_type_sint16};
        ffi_type *dargs[2] = {&ffi_type_double, &ffi_type_float};
        ffi_cif cif;
        int which = (i + tid) % 3;
        int bias = tid * 1000 + i;
        if (which == 0) {
            struct pt a = {i * 0.5, i}, b = {tid, tid}, r;
            void *vals[2] = {&a, &b};
            if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &pt_t, pargs) != FFI_OK) { errors[tid]++; continue; }
            ffi_call(&cif, FFI_FN(pt_add), &r, vals);
            if (r.x != a.x + b.x || r.y != a.y + b.y) errors[tid]++;
            if (i % 7 == 0) {
                void *code;
                ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
                if (!cl || ffi_prep_closure_loc(cl, &cif, pt_closure, &bias, code) != FFI_OK) { errors[tid]++; continue; }
                struct pt q = ((struct pt (*)(struct pt, struct pt))code)(a, b);
                if (q.x != a.x + b.x || q.y != a.y + b.y + bias) errors[tid]++;
                ffi_closure_free(cl);
            }
        } else if (which == 1) {
            long a = (long)i << 33; int b = -tid; short c = (short)i;
            void *vals[3] = {&a, &b, &c};
            ffi_arg r;
            if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 3, &ffi_type_slong, largs) != FFI_OK) { errors[tid]++; continue; }
            ffi_call(&cif, FFI_FN(lsum3), &r, vals);
            if ((long)r != lsum3(a, b, c)) errors[tid]++;
            if (i % 5 == 0) {
                void *code;
                ffi_closure *cl = ffi_closure_alloc(sizeof(ffi_closure), &code);
                if (!cl || ffi_prep_closure_loc(cl, &cif, l_closure, &bias, code) != FFI_OK) { errors[tid]++; continue; }
                /* call the closure through ffi_call too */
                ffi_call(&cif, FFI_FN(code), &r, vals);
                if ((long)r != lsum3(a, b, c) + bias) errors[tid]++;
                ffi_closure_free(cl);
            }
        } else {
            double a = i; float b = 0.5f; double r;
            void *vals[2] = {&a, &b};
            if (ffi_prep_cif(&cif, FFI_DEFAULT_ABI, 2, &ffi_type_double, dargs) != FFI_OK) { errors[tid]++; continue; }
            ffi_call(&cif, FFI_FN(dmul), &r, vals);
            if (r != a * b) errors[tid]++;
        }
    }
    return NULL;
}

int main(void) {
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)i);
    int total = 0;
    for (int i = 0; i < THREADS; i++) { pthread_join(t[i], NULL); total += errors[i]; }
    if (total) { printf("stress: %d wrong results\n", total); return 1; }
    printf("stress: %d threads x %d rounds ok\n", THREADS, ROUNDS);
    return 0;
}

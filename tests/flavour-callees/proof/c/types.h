/* No system headers: this C is compiled for Apple arm64 and Windows on ARM64 (where
   `long` is 32 bits), so the fixed-size types are spelled out. FN(name) gives each
   flavour's functions their own prefix (-D'FN(n)=apple_##n'). */
typedef signed char int8_t;
typedef unsigned char uint8_t;
typedef short int16_t;
typedef unsigned short uint16_t;
typedef int int32_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef unsigned long long uint64_t;

typedef struct { float a, b, c; } hfa3;           /* HFA: three s registers */
typedef struct { double a, b, c, d; } hfa4d;      /* HFA: four d registers */
typedef struct { int8_t a; int16_t b; } small;    /* 4 bytes, one integer slot */

uint64_t FN(mixed)(int8_t a0, int16_t a1, int32_t a2, int64_t a3, uint8_t a4, uint16_t a5,
                   uint32_t a6, uint64_t a7, int8_t s0, int16_t s1, int8_t s2, int32_t s3,
                   int16_t s4, int64_t s5, uint8_t s6, hfa3 h, double d, small sm);
uint64_t FN(hfa_stack)(double d0, double d1, double d2, double d3, double d4, double d5,
                       double d6, hfa4d h, float f, int8_t t);
uint64_t FN(vsum)(int32_t n, ...);
uint64_t FN(probe)(int64_t x0, int64_t x1, int64_t x2, int64_t x3, int64_t x4, int64_t x5,
                   int64_t x6, int64_t x7, int8_t a, int16_t b, int32_t c);

/* The C compiler's own conversions between double and the wide floating formats, the
 * oracle for jitcall's `ldouble` module (tests/ldouble.rs).
 *
 * Values cross as bit patterns (uint64_t for the double, 16 bytes for the wide image), so
 * that no NaN is quieted on the way and nothing is constant-folded: every conversion reads
 * through a volatile object, so the hardware (x87 `fldl`/`fstpt`, `fldt`/`fstpl`) or
 * libgcc's soft-fp (`__extenddftf2`, `__trunctfdf2`) does it at run time. Each conversion
 * exists twice: as compiled by the build (-O0 in the dev profile) and with -O2 forced by an
 * attribute (`_o2`).
 *
 * Formats per target:
 * - x86-64 (Linux and mingw): `long double` is x87 80-bit (10 value bytes, stored in 16);
 *   `__float128` is IEEE binary128.
 * - AArch64 Linux: `long double` is IEEE binary128.
 */
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__)
#define JC_O2 __attribute__((optimize("O2"), noinline))
#else
#define JC_O2 __attribute__((noinline))
#endif
#define JC_O0 __attribute__((noinline))

#if defined(__x86_64__)
#define JC_HAVE_X87 1
typedef long double jc_x87;
#define JC_HAVE_BINARY128 1
typedef __float128 jc_binary128;
#elif defined(__aarch64__) && __LDBL_MANT_DIG__ == 113
#define JC_HAVE_BINARY128 1
typedef long double jc_binary128;
#endif

/* The wide value and its bytes; volatile, so that the conversion reads or writes the
 * object in memory and is not folded, and the bytes are copied without passing the value
 * through a floating register (an x87 `fldt`/`fstpt` copy). */
#define JC_IMAGE(WIDE) volatile union { WIDE value; unsigned char bytes[16]; }

/* `WIDE` from a double's bits into `out` (16 bytes: `VALUE_BYTES` of value, zeros after). */
#define JC_FROM_F64(NAME, ATTR, WIDE, VALUE_BYTES)                  \
    ATTR void NAME(uint64_t bits, unsigned char out[16]) {          \
        volatile double d;                                          \
        double tmp;                                                 \
        JC_IMAGE(WIDE) image;                                       \
        memcpy(&tmp, &bits, 8);                                     \
        d = tmp;                                                    \
        image.value = (WIDE)d;                                      \
        for (int i = 0; i < 16; i++)                                \
            out[i] = i < VALUE_BYTES ? image.bytes[i] : 0;          \
    }

/* A double's bits from a `WIDE` image (16 bytes; the bytes after `VALUE_BYTES` ignored). */
#define JC_TO_F64(NAME, ATTR, WIDE, VALUE_BYTES)                    \
    ATTR uint64_t NAME(const unsigned char in[16]) {                \
        JC_IMAGE(WIDE) image;                                       \
        volatile double d;                                          \
        double copy;                                                \
        uint64_t bits;                                              \
        for (int i = 0; i < 16; i++)                                \
            image.bytes[i] = i < VALUE_BYTES ? in[i] : 0;           \
        d = (double)image.value;                                    \
        copy = d;                                                   \
        memcpy(&bits, &copy, 8);                                    \
        return bits;                                                \
    }

#ifdef JC_HAVE_X87
JC_FROM_F64(jc_x87_from_f64, JC_O0, jc_x87, 10)
JC_FROM_F64(jc_x87_from_f64_o2, JC_O2, jc_x87, 10)
JC_TO_F64(jc_x87_to_f64, JC_O0, jc_x87, 10)
JC_TO_F64(jc_x87_to_f64_o2, JC_O2, jc_x87, 10)
#endif

#ifdef JC_HAVE_BINARY128
JC_FROM_F64(jc_binary128_from_f64, JC_O0, jc_binary128, 16)
JC_FROM_F64(jc_binary128_from_f64_o2, JC_O2, jc_binary128, 16)
JC_TO_F64(jc_binary128_to_f64, JC_O0, jc_binary128, 16)
JC_TO_F64(jc_binary128_to_f64_o2, JC_O2, jc_binary128, 16)
#endif

/* chainrule's native kernels: plain C loops over contiguous arrays, one float and one
 * double version of each (native_t.h and the concept headers native_pointwise.h,
 * native_loss.h, native_norm.h, native_conv.h, native_pool.h, native_gemm.h,
 * native_reduce.h, each
 * included twice below). The NumPy kernels in numpy_kernels.py are the reference;
 * chainrule/backend/native.py calls these through cffi and falls back to the reference for
 * any case not written here.
 *
 * Built with -O3 -fopenmp-simd and no -ffast-math: nan, inf and -0 follow IEEE as in
 * torch. Vector math comes from glibc's libmvec: the `simd` attribute below tells GCC the
 * vector variants of exp/erf/log exist (glibc declares them only under -ffast-math), so a
 * `#pragma omp simd` loop calls e.g. _ZGVdN8v_expf, 8 lanes at a time. Nothing
 * machine-specific is compiled in: on x86-64 each kernel is built three times (baseline
 * SSE2, AVX2 and AVX-512F, `target_clones`) and the loader picks the widest the CPU runs
 * (the AVX-512 clone calls libmvec's 16-lane variants, _ZGVeN16v_expf). Large loops run on
 * several threads when the build has OpenMP (native_omp.h). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "native_omp.h"
#include "native_blas.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__) && \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 35))
#define CR_SIMD_MATH __attribute__((simd("notinbranch")))
extern float expf(float) CR_SIMD_MATH;
extern float erff(float) CR_SIMD_MATH;
extern float logf(float) CR_SIMD_MATH;
extern float log1pf(float) CR_SIMD_MATH;
extern double exp(double) CR_SIMD_MATH;
extern double erf(double) CR_SIMD_MATH;
extern double log(double) CR_SIMD_MATH;
extern double log1p(double) CR_SIMD_MATH;
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CR_KERNEL __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CR_KERNEL
#endif

#define CR_SQRT1_2 0.70710678118654752440
#define CR_PHI 0.39894228040143267794     /* 1 / sqrt(2 pi) */
#define CR_BETA 0.79788456080286535588    /* sqrt(2 / pi) */
#define CR_KAPPA 0.044715

#define T float
#define SFX(name) name##_f32
#define EXP expf
#define EXP_ZERO (-104.0f) /* expf(d) is +0 for every d below this (and for -inf) */
#define ABS fabsf
#define ERF erff
#define LOG logf
#define LOG1P log1pf
#include "native_t.h"
#include "native_pointwise.h"
#include "native_loss.h"
#include "native_norm.h"
#include "native_conv.h"
#include "native_pool.h"
#include "native_gemm.h"
#include "native_reduce.h"
#undef T
#undef SFX
#undef EXP
#undef EXP_ZERO
#undef ABS
#undef ERF
#undef LOG
#undef LOG1P

#define T double
#define SFX(name) name##_f64
#define EXP exp
#define EXP_ZERO (-746.0) /* exp(d) is +0 for every d below this (and for -inf) */
#define ABS fabs
#define ERF erf
#define LOG log
#define LOG1P log1p
#include "native_t.h"
#include "native_pointwise.h"
#include "native_loss.h"
#include "native_norm.h"
#include "native_conv.h"
#include "native_pool.h"
#include "native_gemm.h"
#include "native_reduce.h"

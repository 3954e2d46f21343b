/* Pointwise kernels added after native_t.h's activations (included by native.c once per
 * element type T). NumPy references: numpy_kernels.py. Large loops run in CR_BLOCK blocks
 * on several threads (native_omp.h). */

/* softplus: x where beta x > threshold, else log1p(exp(beta x)) / beta. Two loops: in one,
 * GCC sinks the division into a branch and does not vectorize (the first may overflow to
 * inf where the second keeps x). */
CR_KERNEL void SFX(cr_softplus)(const T *x, T *y, int64_t n, double beta, double threshold) {
    T b = (T)beta, th = (T)threshold;
    CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) y[i] = LOG1P(EXP(x[i] * b)) / b;
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) y[i] = x[i] * b > th ? x[i] : y[i];
    }
}

/* softplus' backward: g where beta x > threshold, else g * sigmoid(beta x) with beta x
 * taken as the threshold where it equals it (torch; a nan gives nan) */
CR_KERNEL void SFX(cr_softplus_backward)(const T *g, const T *x, T *out, int64_t n,
                                         double beta, double threshold) {
    T b = (T)beta, th = (T)threshold;
    CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T bx = x[i] * b;
            T v = bx >= th ? th : bx; /* (a nan stays: it is below) */
            T e = EXP(-ABS(v));
            T s = (v >= 0 ? (T)1 : e) / (1 + e);
            out[i] = g[i] * s;
        }
#pragma omp simd /* a second loop: in one, GCC branches around the product (not vectorized) */
        for (int64_t i = lo; i < hi; i++) out[i] = x[i] * b > th ? g[i] : out[i];
    }
}

/* dropout from raw 64-bit draws r (NumPy's PCG64 stream: its random() is (r >> 11) * 2^-53):
 * keep where that is >= p, i.e. where the integer r >> 11 is >= ceil(p * 2^53) (exact: the
 * scaling by a power of two is); y = x * (keep ? scale : 0), keep written as 0/1 */
CR_KERNEL void SFX(cr_dropout)(const T *x, const uint64_t *r, T *y, uint8_t *keep, int64_t n,
                               double p, double scale) {
    T sc = (T)scale;
    int64_t cut = (int64_t)ceil(p * 0x1p53);
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            int k = (int64_t)(r[i] >> 11) >= cut;
            keep[i] = (uint8_t)k;
            y[i] = x[i] * (k ? sc : (T)0);
        }
    }
}

/* its backward: g * (keep ? scale : 0) */
CR_KERNEL void SFX(cr_dropout_backward)(const T *g, const uint8_t *keep, T *out, int64_t n,
                                        double scale) {
    T sc = (T)scale;
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = g[i] * (keep[i] ? sc : (T)0);
    }
}

/* relu: NumPy's maximum(x, 0) written out: x where x > 0, a nan passes with its bits, else
 * +0 (so -0 gives +0, as the reference and cr.compile's fused relu) */
CR_KERNEL void SFX(cr_relu)(const T *x, T *y, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) y[i] = (x[i] > 0 || x[i] != x[i]) ? x[i] : (T)0;
    }
}

/* relu's backward from its output y (torch's threshold_backward): g unless y <= 0 (a nan y
 * passes g), else +0 (a masked inf or nan gradient too) */
CR_KERNEL void SFX(cr_relu_backward)(const T *g, const T *y, T *out, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = y[i] <= 0 ? (T)0 : g[i];
    }
}

/* masked_fill: value where the mask is set, x elsewhere (a select: no rounding, nan and -0
 * kept as they are). x is (rows, cols); the mask (cols,) repeats over the rows (a mask that
 * broadcasts over leading dims, as attention's causal mask over batch and heads). Split in
 * (row, CR_BLOCK columns) pieces. */
CR_KERNEL void SFX(cr_masked_fill)(const T *x, const uint8_t *mask, T *y, int64_t rows,
                                   int64_t cols, double value) {
    const T v = (T)value;
    const int64_t blocks = (cols + CR_BLOCK - 1) / CR_BLOCK;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_LIGHT)
    for (int64_t u = 0; u < rows * blocks; u++) {
        const int64_t r = u / blocks, lo = (u % blocks) * CR_BLOCK;
        const int64_t hi = CR_MIN(lo + CR_BLOCK, cols);
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
#pragma omp simd
        for (int64_t c = lo; c < hi; c++) yr[c] = mask[c] ? v : xr[c];
    }
}

/* NumPy's add, subtract, multiply and divide (op 0-3) of two arrays of n elements, or of an
 * array and one number (b_step 0: b[0] for every element), for a large array on several
 * threads: NumPy runs a ufunc on one thread, torch its add on all. IEEE arithmetic rounds
 * each result exactly, so these are NumPy's bits on any thread count. The reference:
 * numpy_kernels.arith (the ufunc itself). */
CR_KERNEL void SFX(cr_arith)(int op, const T *a, const T *b, T *out, int64_t n, int b_step) {
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        const int64_t hi = CR_MIN(lo + CR_BLOCK, n);
        if (b_step) {
            if (op == 0) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
            } else if (op == 1) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] - b[i];
            } else if (op == 2) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] * b[i];
            } else {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] / b[i];
            }
        } else {
            const T s = b[0];
            if (op == 0) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] + s;
            } else if (op == 1) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] - s;
            } else if (op == 2) {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] * s;
            } else {
#pragma omp simd
                for (int64_t i = lo; i < hi; i++) out[i] = a[i] / s;
            }
        }
    }
}

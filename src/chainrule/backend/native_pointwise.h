/* Pointwise kernels added after native_t.h's activations (included by native.c once per
 * element type T). NumPy references: numpy_kernels.py. */

/* softplus' backward: g where beta x > threshold, else g * sigmoid(beta x) with beta x
 * taken as the threshold where it equals it (torch; a nan gives nan) */
CR_KERNEL void SFX(cr_softplus_backward)(const T *g, const T *x, T *out, int64_t n,
                                         double beta, double threshold) {
    T b = (T)beta, th = (T)threshold;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        T bx = x[i] * b;
        T v = bx >= th ? th : bx; /* (a nan stays: it is below) */
        T e = EXP(-ABS(v));
        T s = (v >= 0 ? (T)1 : e) / (1 + e);
        out[i] = bx > th ? g[i] : g[i] * s;
    }
}

/* dropout from raw 64-bit draws r (NumPy's PCG64 stream: its random() is (r >> 11) * 2^-53):
 * keep where that is >= p; y = x * (keep ? scale : 0), keep written as 0/1 */
CR_KERNEL void SFX(cr_dropout)(const T *x, const uint64_t *r, T *y, uint8_t *keep, int64_t n,
                               double p, double scale) {
    T sc = (T)scale;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        int k = (double)(r[i] >> 11) * 0x1p-53 >= p;
        keep[i] = (uint8_t)k;
        y[i] = x[i] * (k ? sc : (T)0);
    }
}

/* its backward: g * (keep ? scale : 0) */
CR_KERNEL void SFX(cr_dropout_backward)(const T *g, const uint8_t *keep, T *out, int64_t n,
                                        double scale) {
    T sc = (T)scale;
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = g[i] * (keep[i] ? sc : (T)0);
}

/* Convolution kernels of one element type (included by native.c after native_t.h, with T
 * and SFX defined): im2col and its adjoint col2im. The GEMMs around them stay in NumPy's
 * BLAS (ops/conv/geometry.py). */

/* the outputs q in [q0, q1) whose input column q * sw + off lies in [0, w) */
static inline void SFX(valid_span)(int64_t off, int64_t sw, int64_t w, int64_t ow, int64_t *q0,
                                   int64_t *q1) {
    int64_t a = off >= 0 ? 0 : (-off + sw - 1) / sw;     /* first q with q*sw + off >= 0 */
    int64_t b = w - off <= 0 ? 0 : (w - off + sw - 1) / sw; /* first q with q*sw + off >= w */
    *q0 = a < ow ? a : ow;
    *q1 = b < ow ? b : ow;
}

/* im2col, channels first: x (N, C, H, W) -> cols (C, KH, KW, N, OH, OW); zero outside x
 * (the padding pt on top, pl on the left). */
CR_KERNEL void SFX(cr_im2col)(const T *x, T *cols, int64_t n, int64_t c, int64_t h,
                              int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh,
                              int64_t ow) {
    /* one (ci, i, j, b) slab of oh * ow columns after another, a range of them per thread */
    CR_PARALLEL_FOR(c * kh * kw * n * oh * ow, CR_PAR_LIGHT)
    for (int64_t t = 0; t < c * kh * kw * n; t++) {
        int64_t b = t % n, j = t / n % kw, i = t / (n * kw) % kh, ci = t / (n * kw * kh);
        int64_t off = j * dw - pl, q0, q1; /* the columns inside x: one span per slab */
        SFX(valid_span)(off, sw, w, ow, &q0, &q1);
        int64_t q2 = q1 > q0 ? q1 : q0;
        T *o = cols + t * oh * ow;
        const T *plane = x + (b * c + ci) * h * w;
        for (int64_t r = 0; r < oh; r++, o += ow) {
            int64_t ih = r * sh - pt + i * dh;
            if (ih < 0 || ih >= h) {
                memset(o, 0, (size_t)ow * sizeof(T));
                continue;
            }
            const T *row = plane + ih * w;
            for (int64_t q = 0; q < q0; q++) o[q] = 0;
            if (sw == 1) {
                for (int64_t q = q0; q < q1; q++) o[q] = row[q + off];
            } else {
                for (int64_t q = q0; q < q1; q++) o[q] = row[q * sw + off];
            }
            for (int64_t q = q2; q < ow; q++) o[q] = 0;
        }
    }
}

/* col2im: the adjoint, cols (C, KH, KW, N, OH, OW) added into a zeroed gx (N, C, H, W), one
 * kernel offset after another (the order of the NumPy reference: the same sums). Threads
 * take whole planes, so each element's sum keeps that order. */
CR_KERNEL void SFX(cr_col2im)(const T *cols, T *gx, int64_t n, int64_t c, int64_t h,
                              int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                              int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh,
                              int64_t ow) {
    /* a range of planes (b, ci) per thread, each zeroed and summed in the serial order
     * (i, j, r) */
    CR_PARALLEL_FOR(c * kh * kw * n * oh * ow, CR_PAR_LIGHT)
    for (int64_t t = 0; t < c * n; t++) {
        int64_t ci = t / n, b = t % n;
        T *plane = gx + (b * c + ci) * h * w;
        memset(plane, 0, (size_t)(h * w) * sizeof(T));
        for (int64_t i = 0; i < kh; i++)
            for (int64_t j = 0; j < kw; j++) {
                int64_t off = j * dw - pl, q0, q1; /* the columns inside x: one span per j */
                SFX(valid_span)(off, sw, w, ow, &q0, &q1);
                const T *o = cols + (((ci * kh + i) * kw + j) * n + b) * oh * ow;
                for (int64_t r = 0; r < oh; r++, o += ow) {
                    int64_t ih = r * sh - pt + i * dh;
                    if (ih < 0 || ih >= h) continue;
                    T *row = plane + ih * w;
                    if (sw == 1) {
#pragma omp simd
                        for (int64_t q = q0; q < q1; q++) row[q + off] += o[q];
                    } else {
                        for (int64_t q = q0; q < q1; q++) row[q * sw + off] += o[q];
                    }
                }
            }
    }
}

/* Normalization kernels (included by native.c once per element type T, as native_t.h). The
 * NumPy references are in numpy_norm.py. batch_norm's input is (N, C, S): the channel dim
 * in the middle, S the product of the trailing dims; its statistics are per channel.
 * Sums over a channel are accumulated in double. Threads (native_omp.h) take channels,
 * (batch, channel) planes or rows, and column ranges for a sum over rows: every value is
 * computed as on one thread. */

/* per channel: the mean and the biased variance (two passes, as the reference) */
CR_KERNEL void SFX(cr_batch_norm_stats)(const T *x, T *mean, T *var, int64_t n, int64_t c,
                                        int64_t s) {
    double count = (double)(n * s);
    CR_PARALLEL_FOR(n * c * s, CR_PAR_LIGHT)
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int64_t b = 0; b < n; b++) {
            const T *xr = x + (b * c + ch) * s;
#pragma omp simd reduction(+ : sum)
            for (int64_t k = 0; k < s; k++) sum += xr[k];
        }
        T mu = (T)(sum / count);
        double v = 0;
        for (int64_t b = 0; b < n; b++) {
            const T *xr = x + (b * c + ch) * s;
#pragma omp simd reduction(+ : v)
            for (int64_t k = 0; k < s; k++) {
                T d = xr[k] - mu;
                v += (double)(d * d);
            }
        }
        mean[ch] = mu;
        var[ch] = (T)(v / count);
    }
}

/* y = (x - mean) * rstd [* w] [+ b], per channel (training: the batch statistics; eval:
 * the running ones) */
CR_KERNEL void SFX(cr_batch_norm_elemt)(const T *x, const T *mean, const T *rstd, const T *w,
                                        const T *bias, T *y, int64_t n, int64_t c, int64_t s) {
    CR_PARALLEL_FOR(n * c * s, CR_PAR_LIGHT)
    for (int64_t t = 0; t < n * c; t++) { /* plane t: batch element t / c, channel t % c */
        int64_t ch = t % c;
        const T *xr = x + t * s;
        T *yr = y + t * s;
        T mu = mean[ch], rs = rstd[ch];
        T wc = w ? w[ch] : (T)1, bc = bias ? bias[ch] : (T)0;
        if (w && bias) {
#pragma omp simd
            for (int64_t k = 0; k < s; k++) yr[k] = (xr[k] - mu) * rs * wc + bc;
        } else if (w) {
#pragma omp simd
            for (int64_t k = 0; k < s; k++) yr[k] = (xr[k] - mu) * rs * wc;
        } else if (bias) {
#pragma omp simd
            for (int64_t k = 0; k < s; k++) yr[k] = (xr[k] - mu) * rs + bc;
        } else {
#pragma omp simd
            for (int64_t k = 0; k < s; k++) yr[k] = (xr[k] - mu) * rs;
        }
    }
}

/* its backward, xhat = (x - mean) * rstd: dw = sum(g * xhat), db = sum(g) per channel;
 * training: with u = g [* w], dx = (u - mean(u) - xhat * mean(u * xhat)) * rstd; eval:
 * dx = g * (w * rstd) (or g * rstd) */
CR_KERNEL void SFX(cr_batch_norm_backward)(const T *g, const T *x, const T *mean,
                                           const T *rstd, const T *w, T *dx, T *dw, T *db,
                                           int64_t n, int64_t c, int64_t s, int training) {
    double count = (double)(n * s);
    CR_PARALLEL_FOR(n * c * s, CR_PAR_LIGHT)
    for (int64_t ch = 0; ch < c; ch++) {
        T mu = mean[ch], rs = rstd[ch], wc = w ? w[ch] : (T)1;
        if (!training) { /* one pass: dx does not depend on the sums */
            T f = w ? wc * rs : rs;
            double sg = 0, sgx = 0;
            for (int64_t b = 0; b < n; b++) {
                const T *gr = g + (b * c + ch) * s, *xr = x + (b * c + ch) * s;
                T *o = dx + (b * c + ch) * s;
#pragma omp simd reduction(+ : sg, sgx)
                for (int64_t k = 0; k < s; k++) {
                    T xh = (xr[k] - mu) * rs;
                    sg += gr[k];
                    sgx += (double)(gr[k] * xh);
                    o[k] = gr[k] * f;
                }
            }
            dw[ch] = (T)sgx;
            db[ch] = (T)sg;
            continue;
        }
        double sg = 0, sgx = 0, su = 0, sux = 0;
        for (int64_t b = 0; b < n; b++) {
            const T *gr = g + (b * c + ch) * s, *xr = x + (b * c + ch) * s;
#pragma omp simd reduction(+ : sg, sgx, su, sux)
            for (int64_t k = 0; k < s; k++) {
                T xh = (xr[k] - mu) * rs;
                T u = w ? gr[k] * wc : gr[k];
                sg += gr[k];
                sgx += (double)(gr[k] * xh);
                su += u;
                sux += (double)(u * xh);
            }
        }
        dw[ch] = (T)sgx;
        db[ch] = (T)sg;
        {
            T m = (T)(su / count), cm = (T)(sux / count);
            for (int64_t b = 0; b < n; b++) {
                const T *gr = g + (b * c + ch) * s, *xr = x + (b * c + ch) * s;
                T *o = dx + (b * c + ch) * s;
#pragma omp simd
                for (int64_t k = 0; k < s; k++) {
                    T xh = (xr[k] - mu) * rs;
                    T u = w ? gr[k] * wc : gr[k];
                    o[k] = (u - m - xh * cm) * rs;
                }
            }
        }
    }
}

/* rms_norm over the last `cols` elements of each row: rstd = 1 / sqrt(mean(x * x) + eps),
 * y = x * rstd [* w] */
CR_KERNEL void SFX(cr_rms_norm)(const T *x, const T *w, T *y, T *rstd, int64_t rows,
                                int64_t cols, double eps) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T ss = 0;
#pragma omp simd reduction(+ : ss)
        for (int64_t j = 0; j < cols; j++) ss += xr[j] * xr[j];
        T rs = 1 / (T)sqrt(ss / (T)cols + (T)eps);
        rstd[r] = rs;
        if (w) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] * rs * w[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] * rs;
        }
    }
}

/* its backward, xhat = x * rstd and u = g [* w]: dx = (u - xhat * mean(u * xhat)) * rstd,
 * dw = sum over rows of g * xhat. dx row by row, then dw a column range at a time, each
 * column summed over the rows in order (a range of rows, or of columns, per thread) */
CR_KERNEL void SFX(cr_rms_norm_backward)(const T *g, const T *x, const T *rstd, const T *w,
                                         T *dx, T *dw, int64_t rows, int64_t cols) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *gr = g + r * cols, *xr = x + r * cols;
        T *o = dx + r * cols;
        T rs = rstd[r], sux = 0;
#pragma omp simd reduction(+ : sux)
        for (int64_t j = 0; j < cols; j++) {
            T xh = xr[j] * rs;
            T u = w ? gr[j] * w[j] : gr[j];
            sux += u * xh;
        }
        T cm = sux / (T)cols;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) {
            T xh = xr[j] * rs;
            T u = w ? gr[j] * w[j] : gr[j];
            o[j] = (u - xh * cm) * rs;
        }
    }
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < cols; lo += 64) {
        int64_t hi = CR_MIN(lo + 64, cols);
        for (int64_t j = lo; j < hi; j++) dw[j] = 0;
        for (int64_t r = 0; r < rows; r++) {
            const T *gr = g + r * cols, *xr = x + r * cols;
            T rs = rstd[r];
#pragma omp simd
            for (int64_t j = lo; j < hi; j++) dw[j] += gr[j] * (xr[j] * rs);
        }
    }
}

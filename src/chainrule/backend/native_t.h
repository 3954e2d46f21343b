/* One element type's kernels: included by native.c with T (float or double), SFX(name)
 * (name_f32 / name_f64) and the math functions EXP, TANH, ERF, LOG defined for it. All
 * arrays are C-contiguous; `n` counts elements, `rows x cols` is a last-dim layout. */

/* ---------------------------------------------------------------- pointwise activations */

/* gelu: exact x * Phi(x) (tanh_form 0), or 0.5 x (1 + tanh(beta (x + kappa x^3))) */
CR_KERNEL void SFX(cr_gelu)(const T *x, T *y, int64_t n, int tanh_form) {
    if (tanh_form) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            T v = x[i];
            T t = TANH((T)CR_BETA * (v + (T)CR_KAPPA * v * v * v));
            y[i] = (T)0.5 * v * (1 + t);
        }
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            T v = x[i];
            y[i] = v * ((T)0.5 * (1 + ERF(v * (T)CR_SQRT1_2)));
        }
    }
}

/* g * gelu'(x), recomputed from x */
CR_KERNEL void SFX(cr_gelu_backward)(const T *g, const T *x, T *out, int64_t n,
                                     int tanh_form) {
    if (tanh_form) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            T v = x[i];
            T t = TANH((T)CR_BETA * (v + (T)CR_KAPPA * v * v * v));
            T left = (T)0.5 * (1 + t);
            T right = (T)0.5 * v * (1 - t * t) * (T)CR_BETA * (1 + 3 * (T)CR_KAPPA * v * v);
            out[i] = g[i] * (left + right);
        }
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            T v = x[i];
            T cdf = (T)0.5 * (1 + ERF(v * (T)CR_SQRT1_2));
            out[i] = g[i] * (cdf + v * (T)CR_PHI * EXP((T)-0.5 * v * v));
        }
    }
}

/* the logistic function, exp of -|x| only (nothing overflows) */
CR_KERNEL void SFX(cr_sigmoid)(const T *x, T *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        T v = x[i];
        T e = EXP(-ABS(v));
        T d = 1 + e;
        T num = v >= 0 ? (T)1 : e; /* select the numerator: no branch */
        y[i] = num / d;
    }
}

/* g * y * (1 - y), y the sigmoid */
CR_KERNEL void SFX(cr_sigmoid_backward)(const T *g, const T *y, T *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = g[i] * y[i] * (1 - y[i]);
}

/* g * (1 - y * y), y the tanh */
CR_KERNEL void SFX(cr_tanh_backward)(const T *g, const T *y, T *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = g[i] * (1 - y[i] * y[i]);
}

/* silu: x * sigmoid(x) */
CR_KERNEL void SFX(cr_silu)(const T *x, T *y, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        T v = x[i];
        T e = EXP(-ABS(v));
        T d = 1 + e;
        T s = (v >= 0 ? (T)1 : e) / d;
        y[i] = v * s;
    }
}

/* g * s * (1 + x (1 - s)), s = sigmoid(x) */
CR_KERNEL void SFX(cr_silu_backward)(const T *g, const T *x, T *out, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        T v = x[i];
        T e = EXP(-ABS(v));
        T d = 1 + e;
        T s = (v >= 0 ? (T)1 : e) / d;
        out[i] = g[i] * s * (1 + v * (1 - s));
    }
}

/* ------------------------------------------------------------ softmax over the last dim */

static inline T SFX(row_max)(const T *x, int64_t cols) {
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < cols; j++) m = x[j] > m ? x[j] : m;
    return m; /* a nan is skipped here and propagates through x - m below */
}

CR_KERNEL void SFX(cr_softmax)(const T *x, T *y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, cols);
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) {
            T e = EXP(xr[j] - m);
            yr[j] = e;
            s += e;
        }
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = yr[j] / s;
    }
}

CR_KERNEL void SFX(cr_log_softmax)(const T *x, T *y, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, cols);
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += EXP(xr[j] - m);
        T lse = LOG(s);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) - lse;
    }
}

/* y * (g - sum(g * y)), y the softmax */
CR_KERNEL void SFX(cr_softmax_backward)(const T *g, const T *y, T *out, int64_t rows,
                                        int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const T *gr = g + r * cols, *yr = y + r * cols;
        T *o = out + r * cols;
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += gr[j] * yr[j];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) o[j] = (gr[j] - s) * yr[j];
    }
}

/* g - exp(y) * sum(g), y the log_softmax */
CR_KERNEL void SFX(cr_log_softmax_backward)(const T *g, const T *y, T *out, int64_t rows,
                                            int64_t cols) {
    for (int64_t r = 0; r < rows; r++) {
        const T *gr = g + r * cols, *yr = y + r * cols;
        T *o = out + r * cols;
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += gr[j];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) o[j] = gr[j] - EXP(yr[j]) * s;
    }
}

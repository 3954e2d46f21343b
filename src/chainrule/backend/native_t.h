/* One element type's kernels: included by native.c with T (float or double), SFX(name)
 * (name_f32 / name_f64) and the math functions EXP, ERF, LOG ... defined for it. All
 * arrays are C-contiguous; `n` counts elements, `rows x cols` is a last-dim layout. */

/* ---------------------------------------------------------------- pointwise activations */

/* gelu: exact x * Phi(x) (tanh_form 0), or 0.5 x (1 + tanh(u)), u = beta (x + kappa x^3).
 * The tanh form is computed as x * sigmoid(2u) (the same function: 0.5 (1 + tanh(u)) =
 * 1 / (1 + exp(-2u))) with exp of -2|u| only, as cr_sigmoid: libmvec's vector exp is much
 * cheaper than its tanh (W6's MLP: ~30% of the kernel), and there is no cancellation in
 * 1 + tanh(u) where tanh(u) is near -1. Within float tolerance of torch's tanh form. */
CR_KERNEL void SFX(cr_gelu)(const T *x, T *y, int64_t n, int tanh_form) {
    if (tanh_form) {
        CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
        for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
            int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
            for (int64_t i = lo; i < hi; i++) {
                T v = x[i];
                T u = (T)CR_BETA * (v + (T)CR_KAPPA * v * v * v);
                T e = EXP(-2 * ABS(u));
                T num = u >= 0 ? (T)1 : e; /* select the numerator: no branch */
                y[i] = v * (num / (1 + e));
            }
        }
    } else {
        CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
        for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
            int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
            for (int64_t i = lo; i < hi; i++) {
                T v = x[i];
                y[i] = v * ((T)0.5 * (1 + ERF(v * (T)CR_SQRT1_2)));
            }
        }
    }
}

/* g * gelu'(x), recomputed from x. The tanh form's 0.5 (1 + t) + 0.5 x (1 - t^2) u' (t =
 * tanh(u), u' = beta (1 + 3 kappa x^2)) as s + 2 x s (1 - s) u' with s = sigmoid(2u) and
 * 1 - s = sigmoid(-2u), both from exp(-2|u|) (as cr_gelu: no tanh, no cancellation). */
CR_KERNEL void SFX(cr_gelu_backward)(const T *g, const T *x, T *out, int64_t n,
                                     int tanh_form) {
    if (tanh_form) {
        CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
        for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
            int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
            for (int64_t i = lo; i < hi; i++) {
                T v = x[i];
                T u = (T)CR_BETA * (v + (T)CR_KAPPA * v * v * v);
                T e = EXP(-2 * ABS(u));
                T r = 1 / (1 + e);
                T s = (u >= 0 ? (T)1 : e) * r;  /* sigmoid(2u) */
                T sm = (u >= 0 ? e : (T)1) * r; /* 1 - s, without cancellation */
                T du = (T)CR_BETA * (1 + 3 * (T)CR_KAPPA * v * v);
                out[i] = g[i] * (s + 2 * v * s * sm * du);
            }
        }
    } else {
        CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
        for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
            int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
            for (int64_t i = lo; i < hi; i++) {
                T v = x[i];
                T cdf = (T)0.5 * (1 + ERF(v * (T)CR_SQRT1_2));
                out[i] = g[i] * (cdf + v * (T)CR_PHI * EXP((T)-0.5 * v * v));
            }
        }
    }
}

/* the logistic function, exp of -|x| only (nothing overflows) */
CR_KERNEL void SFX(cr_sigmoid)(const T *x, T *y, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T v = x[i];
            T e = EXP(-ABS(v));
            T d = 1 + e;
            T num = v >= 0 ? (T)1 : e; /* select the numerator: no branch */
            y[i] = num / d;
        }
    }
}

/* g * y * (1 - y), y the sigmoid */
CR_KERNEL void SFX(cr_sigmoid_backward)(const T *g, const T *y, T *out, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = g[i] * y[i] * (1 - y[i]);
    }
}

/* g * (1 - y * y), y the tanh */
CR_KERNEL void SFX(cr_tanh_backward)(const T *g, const T *y, T *out, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) out[i] = g[i] * (1 - y[i] * y[i]);
    }
}

/* silu: x * sigmoid(x) */
CR_KERNEL void SFX(cr_silu)(const T *x, T *y, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T v = x[i];
            T e = EXP(-ABS(v));
            T d = 1 + e;
            T s = (v >= 0 ? (T)1 : e) / d;
            y[i] = v * s;
        }
    }
}

/* g * s * (1 + x (1 - s)), s = sigmoid(x) */
CR_KERNEL void SFX(cr_silu_backward)(const T *g, const T *x, T *out, int64_t n) {
    CR_PARALLEL_FOR(n, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T v = x[i];
            T e = EXP(-ABS(v));
            T d = 1 + e;
            T s = (v >= 0 ? (T)1 : e) / d;
            out[i] = g[i] * s * (1 + v * (1 - s));
        }
    }
}

/* ------------------------------------------------------------ softmax over the last dim */

static inline T SFX(row_max)(const T *x, int64_t cols) {
    T m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < cols; j++) m = x[j] > m ? x[j] : m;
    return m; /* a nan is skipped here and propagates through x - m below */
}

/* exp(d) for d = x - max over a row, into e[]: lanes below EXP_ZERO (-inf: a masked
 * entry) get their exact +0 without exp seeing them. libmvec's vector exp sends every lane
 * below its range to a scalar fallback, which made a causal attention row (half -inf) 3-4x
 * slower. The argument is clamped in a pass of its own: in one expression the compiler
 * proves the clamp redundant under the select and calls exp on the raw lanes again. */
static inline T SFX(row_exp_shifted)(const T *x, T m, T *e, int64_t cols) {
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) {
        T d = x[j] - m;
        e[j] = d < EXP_ZERO ? (T)0 : d;
    }
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; j++) {
        T v = EXP(e[j]);
        v = x[j] - m < EXP_ZERO ? (T)0 : v;
        e[j] = v;
        s += v;
    }
    return s;
}

CR_KERNEL void SFX(cr_softmax)(const T *x, T *y, int64_t rows, int64_t cols) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, cols);
        T s = SFX(row_exp_shifted)(xr, m, yr, cols);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = yr[j] / s;
    }
}

CR_KERNEL void SFX(cr_log_softmax)(const T *x, T *y, int64_t rows, int64_t cols) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T m = SFX(row_max)(xr, cols);
        T s = SFX(row_exp_shifted)(xr, m, yr, cols); /* (yr: scratch, overwritten below) */
        T lse = LOG(s);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - m) - lse;
    }
}

/* one row of softmax's backward: y * (g - sum(g * y)) */
static inline void SFX(softmax_backward_row)(const T *gr, const T *yr, T *o, int64_t cols) {
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t j = 0; j < cols; j++) s += gr[j] * yr[j];
#pragma omp simd
    for (int64_t j = 0; j < cols; j++) o[j] = (gr[j] - s) * yr[j];
}

/* y * (g - sum(g * y)), y the softmax */
CR_KERNEL void SFX(cr_softmax_backward)(const T *g, const T *y, T *out, int64_t rows,
                                        int64_t cols) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_LIGHT)
    for (int64_t r = 0; r < rows; r++)
        SFX(softmax_backward_row)(g + r * cols, y + r * cols, out + r * cols, cols);
}

/* Attention's scores: softmax(masked_fill(x * scale, mask, value)) over the last dim in one
 * pass (cr.compile's rewrite of the three kernels, compiler/_rewrite.py). Each row is
 * scaled and filled into y (the values masked_fill would have written; the product and
 * the select in two loops over the row: in one, GCC moves the product under the condition
 * and leaves the loop scalar), then y's row goes
 * through cr_softmax's row code (the exps into a scratch row, then divided back into y):
 * the same instructions on the same values, so the three kernels' bits. The mask (mrows,
 * cols) repeats over the rows (a causal mask over batch and heads); cols <= CR_SM_COLS. */
#define CR_SM_COLS 1024

CR_KERNEL void SFX(cr_scaled_masked_softmax)(const T *x, const uint8_t *mask, T *y,
                                             int64_t rows, int64_t cols, int64_t mrows,
                                             double scale, double value) {
    const T sc = (T)scale, v = (T)value;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        const uint8_t *mr = mask + (r % mrows) * cols;
        T *yr = y + r * cols;
        T e[CR_SM_COLS];
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = xr[j] * sc;
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = mr[j] ? v : yr[j];
        T m = SFX(row_max)(yr, cols);
        T s = SFX(row_exp_shifted)(yr, m, e, cols);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) yr[j] = e[j] / s;
    }
}

/* its backward: (y * (g - sum(g * y))) with +0 where the mask is set, times scale (the
 * kernels softmax_backward, masked_fill(0) and the product, in one pass) */
CR_KERNEL void SFX(cr_scaled_masked_softmax_backward)(const T *g, const T *y,
                                                      const uint8_t *mask, T *out,
                                                      int64_t rows, int64_t cols,
                                                      int64_t mrows, double scale) {
    const T sc = (T)scale;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_LIGHT)
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *mr = mask + (r % mrows) * cols;
        T *o = out + r * cols;
        SFX(softmax_backward_row)(g + r * cols, y + r * cols, o, cols);
#pragma omp simd
        for (int64_t j = 0; j < cols; j++) o[j] = (mr[j] ? (T)0 : o[j]) * sc;
    }
}

/* g - exp(y) * sum(g), y the log_softmax */
CR_KERNEL void SFX(cr_log_softmax_backward)(const T *g, const T *y, T *out, int64_t rows,
                                            int64_t cols) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
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

/* ------------------------------------------------------------ convolution and pooling */

/* ------------------------------------------------------------------------- layer norm */

/* over the last `cols` elements of each row: mean, biased variance (two passes, as the
 * reference), rstd = 1 / sqrt(var + eps); y = (x - mean) * rstd [* w] [+ b] */
CR_KERNEL void SFX(cr_layer_norm)(const T *x, const T *w, const T *b, T *y, T *mean, T *rstd,
                                  int64_t rows, int64_t cols, double eps) {
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *xr = x + r * cols;
        T *yr = y + r * cols;
        T s = 0;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < cols; j++) s += xr[j];
        T mu = s / (T)cols;
        T v = 0;
#pragma omp simd reduction(+ : v)
        for (int64_t j = 0; j < cols; j++) {
            T d = xr[j] - mu;
            v += d * d;
        }
        v = v / (T)cols;
        T rs = 1 / (T)sqrt(v + (T)eps);
        mean[r] = mu;
        rstd[r] = rs;
        if (w && b) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs * w[j] + b[j];
        } else if (w) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs * w[j];
        } else if (b) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs + b[j];
        } else {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) yr[j] = (xr[j] - mu) * rs;
        }
    }
}

/* its backward: with xhat = (x - mean) * rstd and u = g [* w],
 * dx = (u - mean(u) - xhat * mean(u * xhat)) * rstd; dw = sum over rows of g * xhat,
 * db = sum of g, each column summed over the rows in order. On one thread dw and db are
 * summed in the rows' pass over g and x; on a team dx is computed row by row (a range of
 * rows per thread), then dw and db a column range at a time (per thread): the same sums in
 * the same order, so the same bits, either way. */
CR_KERNEL void SFX(cr_layer_norm_backward)(const T *g, const T *x, const T *mean,
                                           const T *rstd, const T *w, T *dx, T *dw, T *db,
                                           int64_t rows, int64_t cols) {
    const int team = cr_threads > 1 && rows * cols >= CR_PAR_HEAVY;
    if (!team)
        for (int64_t j = 0; j < cols; j++) dw[j] = db[j] = 0;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t r = 0; r < rows; r++) {
        const T *gr = g + r * cols, *xr = x + r * cols;
        T *o = dx + r * cols;
        T mu = mean[r], rs = rstd[r];
        T su = 0, sux = 0;
#pragma omp simd reduction(+ : su, sux)
        for (int64_t j = 0; j < cols; j++) {
            T xh = (xr[j] - mu) * rs;
            T u = w ? gr[j] * w[j] : gr[j];
            su += u;
            sux += u * xh;
        }
        T m = su / (T)cols, c = sux / (T)cols;
        if (team) {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) {
                T xh = (xr[j] - mu) * rs;
                T u = w ? gr[j] * w[j] : gr[j];
                o[j] = (u - m - xh * c) * rs;
            }
        } else {
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) {
                T xh = (xr[j] - mu) * rs;
                T u = w ? gr[j] * w[j] : gr[j];
                o[j] = (u - m - xh * c) * rs;
                dw[j] += gr[j] * xh;
                db[j] += gr[j];
            }
        }
    }
    if (!team) return;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_HEAVY)
    for (int64_t lo = 0; lo < cols; lo += 64) {
        int64_t hi = CR_MIN(lo + 64, cols);
        for (int64_t j = lo; j < hi; j++) dw[j] = db[j] = 0;
        for (int64_t r = 0; r < rows; r++) {
            const T *gr = g + r * cols, *xr = x + r * cols;
            T mu = mean[r], rs = rstd[r];
#pragma omp simd
            for (int64_t j = lo; j < hi; j++) {
                T xh = (xr[j] - mu) * rs;
                dw[j] += gr[j] * xh;
                db[j] += gr[j];
            }
        }
    }
}

/* ----------------------------------------------------------------- embedding backward */

/* gw (num, cols) = 0, then each row of g (n, cols) added at its index, except padding_idx
 * (-1: none); indices outside [0, num) are skipped (checked by the caller) */
CR_KERNEL void SFX(cr_embedding_backward)(const T *g, const int64_t *index, T *gw, int64_t n,
                                          int64_t cols, int64_t num, int64_t padding_idx) {
    /* in parallel: a range [k0, k1) of gw's rows per thread (zeroed there), each thread
     * reading every index in order (each row's sum in the serial order) */
    int64_t parts = cr_threads > 1 && n * cols >= CR_PAR_LIGHT ? CR_MIN(cr_threads, num) : 1;
    CR_PARALLEL_FOR(parts, 2)
    for (int64_t t = 0; t < parts; t++) {
        int64_t k0 = num * t / parts, k1 = num * (t + 1) / parts;
        memset(gw + k0 * cols, 0, (size_t)((k1 - k0) * cols) * sizeof(T));
        for (int64_t i = 0; i < n; i++) {
            int64_t k = index[i];
            if (k == padding_idx || k < k0 || k >= k1) continue;
            T *row = gw + k * cols;
            const T *gi = g + i * cols;
#pragma omp simd
            for (int64_t j = 0; j < cols; j++) row[j] += gi[j];
        }
    }
}

/* ------------------------------------------------------------------ optimizer updates */
/* In place, one pass, in the reference's (torch's) order of roundings; scalars are
 * rounded to T first, as NumPy (and torch) use a Python float with a T array. */

/* SGD: buf = buf * momentum + (1 - dampening) * g (momentum != 0; buf may be NULL when
 * it is 0); d = nesterov ? g + momentum * buf : buf (or g); param -= lr * d */
CR_KERNEL void SFX(cr_sgd_step)(T *param, const T *g, T *buf, int64_t n, double lr,
                                double momentum, double dampening, int nesterov) {
    T lr_ = (T)lr, m = (T)momentum, keep = (T)(1 - dampening);
    if (!buf) {
        CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
        for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
            int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
            for (int64_t i = lo; i < hi; i++) param[i] = param[i] - lr_ * g[i];
        }
        return;
    }
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T b = buf[i] * m + keep * g[i];
            buf[i] = b;
            T d = nesterov ? g[i] + m * b : b;
            param[i] = param[i] - lr_ * d;
        }
    }
}

/* Adam (no amsgrad; weight decay applied by the caller): exp_avg.lerp_(g, 1 - beta1),
 * exp_avg_sq = exp_avg_sq * beta2 + (g * (1 - beta2)) * g,
 * param += (exp_avg * -step_size) / (sqrt(exp_avg_sq) / bc2_sqrt + eps) */
CR_KERNEL void SFX(cr_adam_step)(T *param, const T *g, T *exp_avg, T *exp_avg_sq, int64_t n,
                                 double beta1, double beta2, double step_size, double bc2_sqrt,
                                 double eps, double decay) {
    double w = 1 - beta1;
    T w_ = (T)w, w1 = (T)(1 - w), b2 = (T)beta2, c2 = (T)(1 - beta2), s = (T)(-step_size);
    T bc = (T)bc2_sqrt, e = (T)eps, d = (T)decay;
    int small = fabs(w) < 0.5, decayed = decay != 1;
    CR_PARALLEL_FOR(n, CR_PAR_LIGHT)
    for (int64_t lo = 0; lo < n; lo += CR_BLOCK) {
        int64_t hi = CR_MIN(lo + CR_BLOCK, n);
#pragma omp simd
        for (int64_t i = lo; i < hi; i++) {
            T gi = g[i], m = exp_avg[i];
            T diff = gi - m;
            m = small ? m + diff * w_ : gi - diff * w1;
            exp_avg[i] = m;
            T v = exp_avg_sq[i] * b2 + (gi * c2) * gi;
            exp_avg_sq[i] = v;
            T denom = (T)sqrt(v) / bc + e;
            T p = decayed ? param[i] * d : param[i]; /* AdamW's p.mul_(1 - lr wd) first */
            param[i] = p + (m * s) / denom;
        }
    }
}

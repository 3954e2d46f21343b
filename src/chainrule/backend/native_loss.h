/* Loss kernels (included by native.c once per element type T, as native_t.h). The NumPy
 * references are in numpy_loss.py. Logits are (N, C, S): the class dim in the middle, S the
 * product of the trailing dims (1 for an (N, C) input); targets and per-element results
 * are (N, S). */

/* cross_entropy with class-index targets: logp = log_softmax over C; each element's loss
 * (1 - ls) * -(w[t] * logp[t]) + (ls / C) * -(sum_c w[c] * logp[c]) (the nll alone when
 * ls == 0; 0 where t == ignore_index), and its weight w[t] (1 without weights, 0 where
 * ignored: the mean's denominator). Returns the flat position of the first target out of
 * [0, C) that is not ignored (its loss and weight left 0), or -1. A range of batch
 * elements per thread (native_omp.h). */
CR_KERNEL int64_t SFX(cr_cross_entropy)(const T *x, const int64_t *t, const T *w, T *logp,
                                        T *loss, T *wt, int64_t n, int64_t c, int64_t s,
                                        int64_t ignore_index, double smoothing) {
    T keep = (T)(1 - smoothing), share = (T)(smoothing / (double)c);
    int64_t first = INT64_MAX;
    CR_PARALLEL_FOR_MIN(n * c * s, CR_PAR_HEAVY, first)
    for (int64_t b = 0; b < n; b++) {
        const T *xb = x + b * c * s;
        T *lb = logp + b * c * s;
        /* the running max and sum per position, in this element's loss and weight (written
         * after) */
        T *m = loss + b * s, *lse = wt + b * s;
        if (s == 1) {
            T mx = SFX(row_max)(xb, c), sum = 0;
#pragma omp simd reduction(+ : sum)
            for (int64_t j = 0; j < c; j++) sum += EXP(xb[j] - mx);
            T ls_ = LOG(sum);
#pragma omp simd
            for (int64_t j = 0; j < c; j++) lb[j] = (xb[j] - mx) - ls_;
        } else { /* vectorized along S: running max and sum per position */
            for (int64_t k = 0; k < s; k++) m[k] = -INFINITY, lse[k] = 0;
            for (int64_t j = 0; j < c; j++) {
                const T *xr = xb + j * s;
#pragma omp simd
                for (int64_t k = 0; k < s; k++) m[k] = xr[k] > m[k] ? xr[k] : m[k];
            }
            for (int64_t j = 0; j < c; j++) {
                const T *xr = xb + j * s;
#pragma omp simd
                for (int64_t k = 0; k < s; k++) lse[k] += EXP(xr[k] - m[k]);
            }
#pragma omp simd
            for (int64_t k = 0; k < s; k++) lse[k] = LOG(lse[k]);
            for (int64_t j = 0; j < c; j++) {
                const T *xr = xb + j * s;
                T *lr = lb + j * s;
#pragma omp simd
                for (int64_t k = 0; k < s; k++) lr[k] = (xr[k] - m[k]) - lse[k];
            }
        }
        for (int64_t k = 0; k < s; k++) {
            int64_t i = b * s + k, tk = t[i];
            if (tk == ignore_index) {
                loss[i] = 0, wt[i] = 0;
                continue;
            }
            if (tk < 0 || tk >= c) {
                loss[i] = 0, wt[i] = 0;
                first = i < first ? i : first;
                continue;
            }
            T wk = w ? w[tk] : (T)1;
            T nll = -(lb[tk * s + k] * wk);
            wt[i] = wk;
            if (smoothing > 0) {
                T sm = 0;
                if (w)
                    for (int64_t j = 0; j < c; j++) sm += w[j] * lb[j * s + k];
                else
                    for (int64_t j = 0; j < c; j++) sm += lb[j * s + k];
                loss[i] = keep * nll + (-sm) * share;
            } else {
                loss[i] = nll;
            }
        }
    }
    return first == INT64_MAX ? -1 : first;
}

/* its backward, g the gradient of each element's loss: with ga = -(g * (1 - ls) w[t]) and
 * gb = -(g * ls / C) (both 0 where ignored), the gradient of logp is G[c] = gb * w[c]
 * (+ ga at the target), and dx = G - exp(logp) * sum(G), sum(G) = ga + gb * sum(w) */
CR_KERNEL void SFX(cr_cross_entropy_backward)(const T *g, const T *logp, const int64_t *t,
                                              const T *w, T *dx, int64_t n, int64_t c,
                                              int64_t s, int64_t ignore_index,
                                              double smoothing) {
    T keep = (T)(1 - smoothing), share = (T)(smoothing / (double)c);
    T wsum = 0;
    if (w)
        for (int64_t j = 0; j < c; j++) wsum += w[j];
    else
        wsum = (T)c;
    CR_PARALLEL_FOR(n * c * s, CR_PAR_HEAVY) /* a range of batch elements per thread */
    for (int64_t b = 0; b < n; b++)
        for (int64_t k = 0; k < s; k++) {
            int64_t i = b * s + k, tk = t[i];
            const T *lb = logp + b * c * s + k;
            T *ob = dx + b * c * s + k;
            T ga = 0, gb = 0;
            if (tk != ignore_index) {
                T wk = w ? w[tk] : (T)1;
                ga = -(g[i] * (keep * wk));
                gb = -(g[i] * share);
            }
            T sg = ga + gb * wsum;
            if (s == 1 && w) { /* (one loop per case: vectorized) */
#pragma omp simd
                for (int64_t j = 0; j < c; j++) ob[j] = gb * w[j] - EXP(lb[j]) * sg;
            } else if (s == 1) {
#pragma omp simd
                for (int64_t j = 0; j < c; j++) ob[j] = gb - EXP(lb[j]) * sg;
            } else {
                for (int64_t j = 0; j < c; j++)
                    ob[j * s] = gb * (w ? w[j] : (T)1) - EXP(lb[j * s]) * sg;
            }
            if (tk >= 0 && tk < c) /* the target's entry (an ignored one is outside) */
                ob[tk * s] = (gb * (w ? w[tk] : (T)1) + ga) - EXP(lb[tk * s]) * sg;
        }
}

/* Pooling kernels of one element type (included by native.c after native_conv.h, with T
 * and SFX defined): max pooling (values and torch's index), average pooling, and their
 * backwards. Threads take whole planes (native_omp.h), so every value is computed as on
 * one thread. */

/* max pooling over (planes, H, W): the position (within its plane) of each window's
 * maximum, as torch picks it: only positions inside x are scanned, in order, and a later
 * value wins if greater or nan; a window of -inf only keeps its first position. The
 * values are written too.
 *
 * The outputs whose window columns all lie inside x (the interior of each output row) are
 * computed CR_POOL_CHUNK at a time with the window offset outermost, so the inner loop over
 * outputs vectorizes (a strided load, a compare, two blends); each output still sees its
 * window's positions in the same order, so values and indices are the scalar loop's. The
 * edge outputs (padding, ceil_mode) take the scalar loop. */
#ifndef CR_POOL_CHUNK
#define CR_POOL_CHUNK 256
#endif

/* The case of every window inside x (no padding, no ceil_mode overhang), short rows or
 * not: the outputs of a whole plane are taken CR_POOL_CHUNK at a time through a table of
 * their windows' first positions (a gather per window offset), window offset outermost as
 * above. Returns 0 if the case does not apply. */
static int SFX(max_pool2d_inside)(const T *x, T *y, int64_t *index, int64_t planes, int64_t h,
                                  int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                  int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh,
                                  int64_t ow) {
    int64_t m_all = oh * ow;
    if (pt || pl || (oh - 1) * sh + (kh - 1) * dh >= h || (ow - 1) * sw + (kw - 1) * dw >= w ||
        h * w > INT32_MAX || m_all > 4096 || ow >= CR_POOL_CHUNK / 4)
        return 0; /* (long rows vectorize row by row) */
    int32_t tab[4096];
    for (int64_t r = 0; r < oh; r++)
        for (int64_t q = 0; q < ow; q++) tab[r * ow + q] = (int32_t)(r * sh * w + q * sw);
    CR_PARALLEL_FOR(planes * m_all * kh * kw, CR_PAR_LIGHT)
    for (int64_t p = 0; p < planes; p++) { /* a range of planes per thread */
        const T *plane = x + p * h * w;
        T best[CR_POOL_CHUNK];
        int32_t rel[CR_POOL_CHUNK];
        for (int64_t c0 = 0; c0 < m_all; c0 += CR_POOL_CHUNK) {
            int64_t m = m_all - c0 < CR_POOL_CHUNK ? m_all - c0 : CR_POOL_CHUNK;
            const int32_t *t = tab + c0;
            for (int64_t k = 0; k < m; k++) {
                best[k] = -INFINITY;
                rel[k] = 0;
            }
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++) {
                    int32_t at = (int32_t)(i * dh * w + j * dw);
                    const T *src = plane + at;
#pragma omp simd
                    for (int64_t k = 0; k < m; k++) {
                        T v = src[t[k]];
                        int take = (v > best[k]) | (v != v);
                        best[k] = take ? v : best[k];
                        rel[k] = take ? at : rel[k];
                    }
                }
            T *yp = y + p * m_all + c0;
            int64_t *ip = index + p * m_all + c0;
            for (int64_t k = 0; k < m; k++) {
                yp[k] = best[k];
                ip[k] = (int64_t)t[k] + rel[k];
            }
        }
    }
    return 1;
}

CR_KERNEL void SFX(cr_max_pool2d)(const T *x, T *y, int64_t *index, int64_t planes, int64_t h,
                                  int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                                  int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh,
                                  int64_t ow) {
    /* the interior outputs [qa, qb): w0 = q * sw - pl >= 0 and w0 + (kw - 1) * dw < w */
    int64_t qa = (pl + sw - 1) / sw, qb = 0;
    if (w - 1 - (kw - 1) * dw + pl >= 0) qb = (w - 1 - (kw - 1) * dw + pl) / sw + 1;
    if (qb > ow) qb = ow;
    if (qa > qb || h * w > INT32_MAX) qa = qb = 0; /* int32 offsets within a plane */
    if (SFX(max_pool2d_inside)(x, y, index, planes, h, w, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow))
        return;
    CR_PARALLEL_FOR(planes * oh * ow * kh * kw, CR_PAR_LIGHT)
    for (int64_t p = 0; p < planes; p++) { /* a range of planes per thread */
        const T *plane = x + p * h * w;
        T best[CR_POOL_CHUNK];
        int32_t rel[CR_POOL_CHUNK];
        for (int64_t r = 0; r < oh; r++) {
            int64_t h0 = r * sh - pt;
            int64_t i0 = 0, i1 = kh; /* the kernel rows inside x */
            while (i0 < kh && h0 + i0 * dh < 0) i0++;
            while (i1 > i0 && h0 + (i1 - 1) * dh >= h) i1--;
            T *yr = y + (p * oh + r) * ow;
            int64_t *ir = index + (p * oh + r) * ow;
            for (int64_t q = 0; q < ow; q++) {
                if (q == qa && qb > qa && i1 > i0) { /* the interior, vectorized */
                    for (int64_t c0 = qa; c0 < qb; c0 += CR_POOL_CHUNK) {
                        int64_t m = qb - c0 < CR_POOL_CHUNK ? qb - c0 : CR_POOL_CHUNK;
                        int32_t first = (int32_t)(i0 * dh * w);
                        for (int64_t k = 0; k < m; k++) {
                            best[k] = -INFINITY;
                            rel[k] = first;
                        }
                        for (int64_t i = i0; i < i1; i++) {
                            const T *row = plane + (h0 + i * dh) * w + c0 * sw - pl;
                            for (int64_t j = 0; j < kw; j++) {
                                const T *src = row + j * dw;
                                int32_t at = (int32_t)(i * dh * w + j * dw);
#pragma omp simd
                                for (int64_t k = 0; k < m; k++) {
                                    T v = src[k * sw];
                                    int take = (v > best[k]) | (v != v);
                                    best[k] = take ? v : best[k];
                                    rel[k] = take ? at : rel[k];
                                }
                            }
                        }
                        int64_t base = h0 * w + c0 * sw - pl;
                        for (int64_t k = 0; k < m; k++) {
                            yr[c0 + k] = best[k];
                            ir[c0 + k] = base + k * sw + rel[k];
                        }
                    }
                    q = qb - 1;
                    continue;
                }
                int64_t w0 = q * sw - pl;
                int64_t j0 = 0, j1 = kw;
                while (j0 < kw && w0 + j0 * dw < 0) j0++;
                while (j1 > j0 && w0 + (j1 - 1) * dw >= w) j1--;
                int64_t best_at = (h0 + i0 * dh) * w + (w0 + j0 * dw);
                T b = -INFINITY;
                for (int64_t i = i0; i < i1; i++) {
                    const T *row = plane + (h0 + i * dh) * w;
                    for (int64_t j = j0; j < j1; j++) {
                        int64_t at = w0 + j * dw;
                        T v = row[at];
                        int take = (v > b) | (v != v); /* greater, or nan: no branch */
                        b = take ? v : b;
                        best_at = take ? (row - plane) + at : best_at;
                    }
                }
                yr[q] = b;
                ir[q] = best_at;
            }
        }
    }
}

/* its backward: each output gradient added at its window's maximum (gx zeroed first) */
CR_KERNEL void SFX(cr_max_pool2d_backward)(const T *g, const int64_t *index, T *gx,
                                           int64_t planes, int64_t hw, int64_t ohw) {
    CR_PARALLEL_FOR(planes * (hw + ohw), CR_PAR_LIGHT)
    for (int64_t p = 0; p < planes; p++) { /* a range of planes per thread */
        T *plane = gx + p * hw;
        const T *gp = g + p * ohw;
        const int64_t *ip = index + p * ohw;
        memset(plane, 0, (size_t)hw * sizeof(T));
        for (int64_t k = 0; k < ohw; k++) /* an index outside the plane is skipped */
            if ((uint64_t)ip[k] < (uint64_t)hw) plane[ip[k]] += gp[k];
    }
}

/* average pooling over (planes, H, W), torch's cpu_avg_pool: each window clipped to the
 * padded input [-ph, H + ph) gives the count with padding, then to x itself; the sum of the
 * values inside x, from 0 in window order, divided by `divisor` if nonzero, else by the
 * count with padding (count_include_pad) or without. */
static inline int64_t SFX(avg_divisor)(int64_t h0, int64_t w0, int64_t kh, int64_t kw,
                                       int64_t h, int64_t w, int64_t ph, int64_t pw,
                                       int include_pad, int64_t divisor, int64_t *i0,
                                       int64_t *i1, int64_t *j0, int64_t *j1) {
    int64_t he = h0 + kh < h + ph ? h0 + kh : h + ph;
    int64_t we = w0 + kw < w + pw ? w0 + kw : w + pw;
    int64_t pool_size = (he - h0) * (we - w0);
    *i0 = h0 > 0 ? h0 : 0;
    *j0 = w0 > 0 ? w0 : 0;
    *i1 = he < h ? he : h;
    *j1 = we < w ? we : w;
    if (divisor) return divisor;
    return include_pad ? pool_size : (*i1 - *i0) * (*j1 - *j0);
}

CR_KERNEL void SFX(cr_avg_pool2d)(const T *x, T *y, int64_t planes, int64_t h, int64_t w,
                                  int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                                  int64_t pw, int64_t oh, int64_t ow, int include_pad,
                                  int64_t divisor) {
    CR_PARALLEL_FOR(planes * oh * ow * kh * kw, CR_PAR_LIGHT)
    for (int64_t p = 0; p < planes; p++) { /* a range of planes per thread */
        const T *plane = x + p * h * w;
        T *yp = y + p * oh * ow;
        for (int64_t r = 0; r < oh; r++)
            for (int64_t q = 0; q < ow; q++) {
                int64_t i0, i1, j0, j1;
                int64_t d = SFX(avg_divisor)(r * sh - ph, q * sw - pw, kh, kw, h, w, ph, pw,
                                             include_pad, divisor, &i0, &i1, &j0, &j1);
                if (i0 >= i1 || j0 >= j1) {
                    yp[r * ow + q] = 0;
                    continue;
                }
                T sum = 0;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) sum += plane[i * w + j];
                yp[r * ow + q] = sum / (T)d;
            }
    }
}

/* its backward, torch's cpu_avg_pool_backward: each output gradient divided as in the
 * forward, added over its window's positions inside x (gx zeroed first), output by output */
CR_KERNEL void SFX(cr_avg_pool2d_backward)(const T *g, T *gx, int64_t planes, int64_t h,
                                           int64_t w, int64_t kh, int64_t kw, int64_t sh,
                                           int64_t sw, int64_t ph, int64_t pw, int64_t oh,
                                           int64_t ow, int include_pad, int64_t divisor) {
    CR_PARALLEL_FOR(planes * (h * w + oh * ow * kh * kw), CR_PAR_LIGHT)
    for (int64_t p = 0; p < planes; p++) { /* a range of planes per thread, zeroed there */
        T *plane = gx + p * h * w;
        const T *gp = g + p * oh * ow;
        memset(plane, 0, (size_t)(h * w) * sizeof(T));
        for (int64_t r = 0; r < oh; r++)
            for (int64_t q = 0; q < ow; q++) {
                int64_t i0, i1, j0, j1;
                int64_t d = SFX(avg_divisor)(r * sh - ph, q * sw - pw, kh, kw, h, w, ph, pw,
                                             include_pad, divisor, &i0, &i1, &j0, &j1);
                T delta = gp[r * ow + q] / (T)d;
                for (int64_t i = i0; i < i1; i++)
                    for (int64_t j = j0; j < j1; j++) plane[i * w + j] += delta;
            }
    }
}

/* Batched matrix products (included once per element type T, SFX as in native.c).
 *
 * The product of each matrix pair of a stack is one call of the BLAS NumPy itself calls
 * (its cblas ?gemm, passed in as a function pointer: chainrule links no BLAS of its own),
 * with the arguments NumPy's matmul loop passes for that pair. NumPy makes these calls one
 * after the other, and OpenBLAS runs a call this small on one thread, so a stack of small
 * products (attention's per-head products, a convolution's per-sample GEMMs) ran on one
 * core. Here the pairs are split over the kernels' team, each pair one single-threaded call:
 * every product is computed by the same call whatever the thread count (bit-identical on
 * any number of threads, and to NumPy's matmul on one BLAS thread). While the team runs,
 * the BLAS is set to one thread (it would otherwise thread a large pair's call, and
 * OpenBLAS serializes threaded calls made from several threads at once) and then set back.
 */

/* row-major cblas ?gemm with 64-bit (ILP64, NumPy's scipy-openblas64) or 32-bit integers */
typedef void (*SFX(cr_gemm64_fn))(int, int, int, int64_t, int64_t, int64_t, T, const T *,
                                   int64_t, const T *, int64_t, T, T *, int64_t);
typedef void (*SFX(cr_gemm32_fn))(int, int, int, int32_t, int32_t, int32_t, T, const T *,
                                   int32_t, const T *, int32_t, T, T *, int32_t);

/* c (batch, m, p), C-contiguous, = a @ b for each of the `batch` pairs. The batch index
 * runs over `nd` dims of sizes `shape` (row-major); pair i's a starts `sa`·index elements
 * after `a` (b likewise, `sb`; a broadcast dim has stride 0). Each a is (m, n): row-major
 * with rows `lda` apart (ta = 111, CblasNoTrans) or the transpose of a row-major (n, m)
 * (ta = 112, CblasTrans); b (n, p) likewise. `blas_threads` / `set_blas_threads`: the
 * BLAS's thread count getter and setter (NULL: none, the BLAS is left as it is). */
void SFX(cr_bmm)(uintptr_t gemm, int ilp64, uintptr_t get_blas_threads,
                 uintptr_t set_blas_threads, const T *a, const T *b, T *c, int64_t batch,
                 int nd, const int64_t *shape, const int64_t *sa, const int64_t *sb, int64_t m,
                 int64_t n, int64_t p, int ta, int64_t lda, int tb, int64_t ldb) {
    const int64_t work = batch > 1 ? batch * m * n * p : 0; /* multiply-adds */
    const int team = cr_threads > 1 && work >= CR_PAR_GEMM;
    int (*get)(void) = (int (*)(void))get_blas_threads;
    void (*set)(int) = (void (*)(int))set_blas_threads;
    int before = 1;
    if (team && get && set) {
        before = get();
        if (before != 1) set(1);
    }
    CR_PARALLEL_FOR(work, CR_PAR_GEMM)
    for (int64_t i = 0; i < batch; i++) {
        int64_t rest = i, oa = 0, ob = 0;
        for (int d = nd - 1; d >= 0; d--) {
            const int64_t j = rest % shape[d];
            rest /= shape[d];
            oa += j * sa[d];
            ob += j * sb[d];
        }
        T *out = c + i * m * p;
        if (ilp64)
            ((SFX(cr_gemm64_fn))gemm)(101, ta, tb, m, p, n, (T)1, a + oa, lda, b + ob, ldb,
                                      (T)0, out, p);
        else
            ((SFX(cr_gemm32_fn))gemm)(101, ta, tb, (int32_t)m, (int32_t)p, (int32_t)n, (T)1,
                                      a + oa, (int32_t)lda, b + ob, (int32_t)ldb, (T)0, out,
                                      (int32_t)p);
    }
    if (team && get && set && before != 1) set(before);
}

/* out (m, p) = bias + a @ b, bias (p,) broadcast over the rows: torch's addmm, as its CPU
 * kernel computes it. Each row of out is set to the bias, then one GEMM with beta = 1 adds
 * the product into it, so the bias costs no pass of its own over the result (the GEMM
 * with beta = 0 would zero out first). The bias joins the sum where the BLAS stores its
 * first block of the product: with one block over the inner dim (n up to the BLAS's
 * blocking, 256 or more in OpenBLAS) these are the bits of (a @ b) + bias; with more,
 * they differ within rounding (as torch's addmm from its mm + bias). a and b are laid
 * out as in cr_bmm (ta, lda, tb, ldb); the GEMM threads as NumPy's matmul would. */
void SFX(cr_addmm)(uintptr_t gemm, int ilp64, const T *bias, const T *a, const T *b, T *out,
                   int64_t m, int64_t n, int64_t p, int ta, int64_t lda, int tb, int64_t ldb) {
    CR_PARALLEL_FOR(m * p, CR_PAR_LIGHT)
    for (int64_t i = 0; i < m; i++) memcpy(out + i * p, bias, (size_t)p * sizeof(T));
    if (ilp64)
        ((SFX(cr_gemm64_fn))gemm)(101, ta, tb, m, p, n, (T)1, a, lda, b, ldb, (T)1, out, p);
    else
        ((SFX(cr_gemm32_fn))gemm)(101, ta, tb, (int32_t)m, (int32_t)p, (int32_t)n, (T)1, a,
                                  (int32_t)lda, b, (int32_t)ldb, (T)1, out, (int32_t)p);
}

/* out (m, p) = a @ b, or bias + a @ b (bias (p,) broadcast over the rows, as cr_addmm;
 * NULL: none), with the rows of out split into one range per team thread and each range
 * one single-threaded GEMM call: no thread waits on another's share of a packed operand
 * inside the BLAS, as OpenBLAS's own threaded GEMM does at each block. a and b are laid
 * out as in cr_bmm; the BLAS is set to one thread while the team runs, as there. */
void SFX(cr_mm_rows)(uintptr_t gemm, int ilp64, uintptr_t get_blas_threads,
                     uintptr_t set_blas_threads, const T *bias, const T *a, const T *b, T *out,
                     int64_t m, int64_t n, int64_t p, int ta, int64_t lda, int tb,
                     int64_t ldb) {
    int (*get)(void) = (int (*)(void))get_blas_threads;
    void (*set)(int) = (void (*)(int))set_blas_threads;
    int before = 1;
    if (get && set) {
        before = get();
        if (before != 1) set(1);
    }
    const T beta = bias ? (T)1 : (T)0;
#ifdef _OPENMP
#pragma omp parallel num_threads(cr_threads) if (cr_threads > 1)
#endif
    {
        int t = 0, nt = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        nt = omp_get_num_threads();
#endif
        const int64_t lo = m * t / nt, hi = m * (t + 1) / nt;
        if (hi > lo) {
            const T *ar = ta == 111 ? a + lo * lda : a + lo; /* rows lo.. of a */
            T *o = out + lo * p;
            if (bias)
                for (int64_t i = lo; i < hi; i++) memcpy(out + i * p, bias, (size_t)p * sizeof(T));
            if (ilp64)
                ((SFX(cr_gemm64_fn))gemm)(101, ta, tb, hi - lo, p, n, (T)1, ar, lda, b, ldb,
                                          beta, o, p);
            else
                ((SFX(cr_gemm32_fn))gemm)(101, ta, tb, (int32_t)(hi - lo), (int32_t)p,
                                          (int32_t)n, (T)1, ar, (int32_t)lda, b,
                                          (int32_t)ldb, beta, o, (int32_t)p);
        }
    }
    if (get && set && before != 1) set(before);
}

/* Single-threaded float32 GEMM, AVX-512, GotoBLAS/BLIS structure (time-boxed experiment:
 * can a hand-written kernel beat MKL by >= 8% on chainrule's W1/W6 products? See
 * RESULTS.md; measured: no, about even).
 *
 * C (m x n, row-major, ldc) = A (m x k) @ B (k x n) [+ C if beta == 1]
 *   A(i,p) = ta ? a[p*lda + i] : a[i*lda + p]
 *   B(p,j) = tb ? b[j*ldb + p] : b[p*ldb + j]
 * beta 0 stores C directly on the first k block (no zeroing pass); beta 1 accumulates.
 *
 * Microkernel: MR = 14 rows x NR = 32 columns (2 zmm) of C in 28 accumulators; per k
 * step 2 loads of a B row and 14 broadcasts of A (vbroadcastss + 2 vfmadd231ps), no
 * spills. Alone in L1 it runs at ~200 GFLOP/s (~98% of the measured FMA peak).
 * Blocking: k in blocks of <= KCMAX (256), balanced; a single block when k <= 512 and
 * the whole packed B fits in 512 KiB; rows in blocks of <= MCMAX (504); columns <= NCMAX.
 * Packing: B into NR-wide zero-padded panels (row copies, or 16x16 in-register
 * transposes for a transposed B), except when m <= 2 MR (B read in place). Row-major A
 * is read in place (6 base pointers); a transposed A is packed into MR-wide panels.
 * Loop order inside a block: each A micro-panel against every B panel (C written row
 * block by row block). Prefetch: the C tile at kernel entry; the next A micro-panel
 * (row-major A) over the current one's calls; the next block's sources in the
 * packed-A kernels (one or two lines a k step, to L2).
 * Edges: mr < MR by kernels instantiated for every row count, the last column panel
 * by masked loads and stores.
 * Compile-time options (-D) kept for the record, each measured in bench.py --variant:
 * ADIRECT, TADIRECT, BDIRECT, LAZYB, BATCH_PF, BPFD, APF, KPF, PF_ON, KCFULL_*.
 *
 * Compiled without -march: kernels carry target attributes; sgemm_available() checks
 * the CPU at runtime.
 */
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t i64;

#ifndef MR
#define MR 14
#endif
#define NR 32
#ifndef KCMAX
#define KCMAX 256
#endif
#ifndef MCMAX
#define MCMAX 504
#endif
#ifndef NCMAX
#define NCMAX 1024
#endif

#ifndef ADIRECT
#define ADIRECT 1
#endif
#ifndef KCFULL_MAX
#define KCFULL_MAX 512
#endif
#ifndef KCFULL_BYTES
#define KCFULL_BYTES (512 * 1024)
#endif
#ifndef BPFD
#define BPFD 0 /* B rows ahead prefetched to L1 in the kernel (0: none) */
#endif
#ifndef APF
#define APF 1 /* 1: next A micro-panel to L1, 2: to L2 */
#endif
#ifndef BATCH_PF
#define BATCH_PF 0
#endif
#ifndef KPF
#define KPF 1
#endif
#ifndef BDIRECT_M
#define BDIRECT_M (2 * MR) /* B read in place when it serves few rows */
#endif
#ifndef BDIRECT
#define BDIRECT 0
#endif
#ifndef TADIRECT
#define TADIRECT 0
#endif
#ifndef LAZYB
#define LAZYB 0
#endif
#ifndef PF_ON
#define PF_ON 1
#endif
#ifndef PF_SLACK
#define PF_SLACK 2
#endif
#ifndef CPF_MINK
#define CPF_MINK 0
#endif
#ifndef CPF_HINT
#define CPF_HINT _MM_HINT_T0
#endif
#define TGT __attribute__((target("avx512f,avx512vl,fma")))
#define INL __attribute__((always_inline)) inline

int sgemm_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
}

/* ---------------------------------------------------------------- microkernel */

/* In-kernel prefetch (KPF): n lines to L2, one per k iteration, from row `row` at byte
 * `off`, rows `bytes` long (whole lines) and `stride` apart. */
typedef struct { const char *row; i64 off, bytes, stride, n; } pfjob;


/* APACK: a[k*MR + r] (packed); else a[r*lda + k] (row-major in place). */
static INL TGT void kern_body(const int M, const int NV, const int APACK, const int PFK, i64 kc,
                              const float *restrict a, i64 lda, const float *restrict bp,
                              i64 ldb, float *restrict c, i64 ldc, int accum, __mmask16 mlast,
                              const pfjob *pj) {
    const char *pfrow = 0;
    i64 pfoff = 0, pfbytes = 0, pfstride = 0, pfn = 0;
    if (PFK && pj) {
        pfrow = pj->row; pfoff = pj->off; pfbytes = pj->bytes; pfstride = pj->stride; pfn = pj->n;
    }
    /* B rows ldb apart: NR for a packed panel (zero-padded), or B in place; loads masked
     * by the panel's width. APACK: A(r, p) = a[p*lda + r] (lda = MR packed, or transposed
     * A in place); else A(r, p) = a[r*lda + p]. */
    const __mmask16 mb0 = NV > 1 ? (__mmask16)0xffff : mlast;
    __m512 acc[MR][2];
#ifndef NO_CPREFETCH
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        if (r < M && kc >= CPF_MINK) {
            _mm_prefetch((const char *)(c + r * ldc), CPF_HINT);
            if (NV > 1) _mm_prefetch((const char *)(c + r * ldc + 16), CPF_HINT);
        }
    }
#endif
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        if (r < M) {
            acc[r][0] = _mm512_setzero_ps();
            if (NV > 1) acc[r][1] = _mm512_setzero_ps();
        }
    }
#define KLOOP(LOAD0, LOAD1, BPF)                                                           \
    if (APACK) {                                                                        \
        _Pragma("GCC unroll 2") for (i64 p = 0; p < kc; p++) {                          \
            if (BPF) {                                                                  \
                _mm_prefetch((const char *)(bp + BPFD * ldb), _MM_HINT_T0);             \
                _mm_prefetch((const char *)(bp + BPFD * ldb + 16), _MM_HINT_T0);        \
            }                                                                           \
            __m512 b0 = LOAD0;                                                          \
            __m512 b1 = NV > 1 ? LOAD1 : b0;                                            \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                     \
                if (r < M) {                                                            \
                    __m512 ar = _mm512_set1_ps(a[r]);                                   \
                    acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);                     \
                    if (NV > 1) acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);         \
                }                                                                       \
            }                                                                           \
            a += lda;                                                                   \
            bp += ldb;                                                                  \
            if (PFK && pfn > 0) {                                                       \
                _mm_prefetch(pfrow + pfoff, _MM_HINT_T1);                               \
                _mm_prefetch(pfrow + pfoff + 64, _MM_HINT_T1);                          \
                pfoff += 128;                                                           \
                if (pfoff >= pfbytes) { pfoff = 0; pfrow += pfstride; }                 \
                pfn--;                                                                  \
            }                                                                           \
        }                                                                               \
    } else {                                                                            \
        /* rows r = 3q + s read as aq[s*lda]: 6 base pointers, [aq + lda*4], [aq + lda*8] */ \
        const float *aq[6];                                                             \
        _Pragma("GCC unroll 6") for (int q = 0; q < 6; q++) aq[q] = a + 3 * q * lda;    \
        _Pragma("GCC unroll 2") for (i64 p = 0; p < kc; p++) {                          \
            if (BPF) {                                                                  \
                _mm_prefetch((const char *)(bp + BPFD * ldb), _MM_HINT_T0);             \
                _mm_prefetch((const char *)(bp + BPFD * ldb + 16), _MM_HINT_T0);        \
            }                                                                           \
            __m512 b0 = LOAD0;                                                          \
            __m512 b1 = NV > 1 ? LOAD1 : b0;                                            \
            _Pragma("GCC unroll 16") for (int r = 0; r < MR; r++) {                     \
                if (r < M) {                                                            \
                    __m512 ar = _mm512_set1_ps(aq[r / 3][(r % 3) * lda + p]);           \
                    acc[r][0] = _mm512_fmadd_ps(ar, b0, acc[r][0]);                     \
                    if (NV > 1) acc[r][1] = _mm512_fmadd_ps(ar, b1, acc[r][1]);         \
                }                                                                       \
            }                                                                           \
            bp += ldb;                                                                  \
            if (PFK && pfn > 0) {                                                       \
                _mm_prefetch(pfrow + pfoff, _MM_HINT_T1);                               \
                _mm_prefetch(pfrow + pfoff + 64, _MM_HINT_T1);                          \
                pfoff += 128;                                                           \
                if (pfoff >= pfbytes) { pfoff = 0; pfrow += pfstride; }                 \
                pfn--;                                                                  \
            }                                                                           \
        }                                                                               \
    }
    if (NV > 1 && mlast == 0xffff) {
        KLOOP(_mm512_loadu_ps(bp), _mm512_loadu_ps(bp + 16), BPFD > 0)
    } else {
        KLOOP(_mm512_maskz_loadu_ps(mb0, bp), _mm512_maskz_loadu_ps(mlast, bp + 16), 0)
    }
#undef KLOOP
    const __mmask16 m0 = NV > 1 ? (__mmask16)0xffff : mlast;
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        if (r < M) {
            float *cr = c + r * ldc;
            if (NV > 1) {
                __m512 x0 = acc[r][0], x1 = acc[r][1];
                if (accum) {
                    x0 = _mm512_add_ps(x0, _mm512_loadu_ps(cr));
                    x1 = _mm512_add_ps(x1, _mm512_maskz_loadu_ps(mlast, cr + 16));
                }
                _mm512_storeu_ps(cr, x0);
                _mm512_mask_storeu_ps(cr + 16, mlast, x1);
            } else {
                __m512 x0 = acc[r][0];
                if (accum) x0 = _mm512_add_ps(x0, _mm512_maskz_loadu_ps(m0, cr));
                _mm512_mask_storeu_ps(cr, m0, x0);
            }
        }
    }
}

typedef void (*kern_t)(i64, const float *, i64, const float *, i64, float *, i64, int, __mmask16,
                       const pfjob *);

#define DEF(M, NV, AP)                                                                       \
    static TGT void k_##M##_##NV##_##AP(i64 kc, const float *a, i64 lda, const float *bp, \
                                        i64 ldb, float *c, i64 ldc, int accum,            \
                                        __mmask16 ml, const pfjob *pj) {                  \
        kern_body(M, NV, AP, AP ? KPF : 0, kc, a, lda, bp, ldb, c, ldc, accum, ml, pj);   \
    }
#define DEFPF(M, NV)                                                                   \
    static TGT void kp_##M##_##NV(i64 kc, const float *a, i64 lda, const float *bp, i64 ldb, \
                                  float *c, i64 ldc, int accum, __mmask16 ml,             \
                                  const pfjob *pj) {                                      \
        kern_body(M, NV, 0, 1, kc, a, lda, bp, ldb, c, ldc, accum, ml, pj);               \
    }
#define DEF4(M) DEF(M, 1, 0) DEF(M, 2, 0) DEF(M, 1, 1) DEF(M, 2, 1) DEFPF(M, 1) DEFPF(M, 2)
DEF4(1) DEF4(2) DEF4(3) DEF4(4) DEF4(5) DEF4(6) DEF4(7) DEF4(8)
#if MR > 8
DEF4(9) DEF4(10) DEF4(11) DEF4(12)
#endif
#if MR > 12
DEF4(13) DEF4(14)
#endif
#if MR > 14
DEF4(15) DEF4(16)
#endif

#define ROW(M) {{k_##M##_1_0, k_##M##_1_1, kp_##M##_1}, {k_##M##_2_0, k_##M##_2_1, kp_##M##_2}}
/* kerns[M-1][NV-1][APACK] */
/* [2]: row-major A kernels that prefetch (pfjob) */
static const kern_t kerns[MR][2][3] = {
    ROW(1), ROW(2), ROW(3), ROW(4), ROW(5), ROW(6), ROW(7), ROW(8),
#if MR > 8
    ROW(9), ROW(10), ROW(11), ROW(12),
#endif
#if MR > 12
    ROW(13), ROW(14),
#endif
#if MR > 14
    ROW(15), ROW(16),
#endif
};

/* ---------------------------------------------------------------- packing */

static INL TGT void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* t0: a0 b0 a1 b1 | a4 b4 a5 b5 ... ; t1: a2 b2 a3 b3 | ... */
    for (int i = 0; i < 4; i++) {
        __m512d x0 = _mm512_castps_pd(t[4 * i]), x1 = _mm512_castps_pd(t[4 * i + 1]);
        __m512d y0 = _mm512_castps_pd(t[4 * i + 2]), y1 = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(x0, y0)); /* a0 b0 c0 d0 per lane */
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(x0, y0)); /* a1 b1 c1 d1 */
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(x1, y1)); /* a2 .. */
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(x1, y1)); /* a3 .. */
    }
    /* r[4i+j] holds, in 128-bit lane L, column (4L + j) of rows 4i..4i+3 */
    for (int j = 0; j < 4; j++) {
        __m512 u0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x88);      /* lanes 0,2 of each */
        __m512 u1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xdd);      /* lanes 1,3 */
        __m512 u2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x88);
        __m512 u3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xdd);
        t[j] = _mm512_shuffle_f32x4(u0, u2, 0x88);      /* lane 0 -> column j */
        t[8 + j] = _mm512_shuffle_f32x4(u0, u2, 0xdd);  /* lane 2 -> column 8+j */
        t[4 + j] = _mm512_shuffle_f32x4(u1, u3, 0x88);  /* lane 1 -> column 4+j */
        t[12 + j] = _mm512_shuffle_f32x4(u1, u3, 0xdd); /* lane 3 -> column 12+j */
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

static TGT void pack_b_rows(i64 kc, i64 nc, const float *b, i64 ldb, float *out) {
    for (i64 p = 0; p < kc; p++) {
        const float *src = b + p * ldb;
        i64 j = 0;
        for (; j + NR <= nc; j += NR) {
            _mm512_store_ps(out + j * kc + p * NR, _mm512_loadu_ps(src + j));
            _mm512_store_ps(out + j * kc + p * NR + 16, _mm512_loadu_ps(src + j + 16));
        }
        if (j < nc) {
            i64 nr = nc - j;
            __mmask16 m0 = nr >= 16 ? 0xffff : (__mmask16)((1u << nr) - 1);
            __mmask16 m1 = nr > 16 ? (__mmask16)((1u << (nr - 16)) - 1) : 0;
            _mm512_store_ps(out + j * kc + p * NR, _mm512_maskz_loadu_ps(m0, src + j));
            _mm512_store_ps(out + j * kc + p * NR + 16, _mm512_maskz_loadu_ps(m1, src + j + 16));
        }
    }
}

/* Pack B(p0:p0+kc, j0:j0+nc) into panels of NR columns: out[panel][p*NR + jj].
 * Columns beyond nc in the last panel are zero. */
static TGT void pack_b(int tb, i64 kc, i64 nc, const float *b, i64 ldb, float *out) {
    if (!tb) {
        pack_b_rows(kc, nc, b, ldb, out);
        return;
    }
    for (i64 j = 0; j < nc; j += NR) {
        i64 nr = nc - j < NR ? nc - j : NR;
        float *o = out + j * kc;
        if (!tb) {
            continue; /* packed row by row below */
        } else {
            /* B(p, j+jj) = b[(j+jj)*ldb + p]: 16 columns x 16 k at a time */
            for (int h = 0; h < 2; h++) {
                i64 jj0 = 16 * h;
                i64 cnt = nr - jj0; /* columns in this half */
                if (cnt <= 0) {
                    for (i64 p = 0; p < kc; p++)
                        _mm512_store_ps(o + p * NR + jj0, _mm512_setzero_ps());
                    continue;
                }
                if (cnt > 16) cnt = 16;
                const float *src = b + (j + jj0) * ldb;
                for (i64 p = 0; p < kc; p += 16) {
                    i64 pk = kc - p < 16 ? kc - p : 16;
                    __mmask16 km = pk == 16 ? 0xffff : (__mmask16)((1u << pk) - 1);
                    __m512 r[16];
#pragma GCC unroll 16
                    for (int q = 0; q < 16; q++)
                        r[q] = q < cnt ? _mm512_maskz_loadu_ps(km, src + q * ldb + p)
                                       : _mm512_setzero_ps();
                    transpose16(r);
                    for (int q = 0; q < pk; q++) _mm512_store_ps(o + (p + q) * NR + jj0, r[q]);
                }
            }
        }
    }
}

/* Pack A(i0:i0+mc, p0:p0+kc) into MR panels out[panel][p*MR + r] (MR <= 16).
 * ta: A(i, p) = a[p*lda + i]: read row p of the stored array once, left to right.
 * else: A(i, p) = a[i*lda + p]: 16x16 in-register transposes of MR rows x 16 k.
 * Each k writes 16 floats at p*MR (the next k or panel overwrites the slack). */
static TGT void pack_a(int ta, i64 mc, i64 kc, const float *a, i64 lda, float *out) {
    if (ta) {
        for (i64 p = 0; p < kc; p++) {
            const float *src = a + p * lda;
            for (i64 i = 0; i < mc; i += MR) {
                i64 mr = mc - i < MR ? mc - i : MR;
                __mmask16 lo = (__mmask16)((1u << mr) - 1);
                _mm512_mask_storeu_ps(out + i * kc + p * MR, lo, _mm512_maskz_loadu_ps(lo, src + i));
            }
        }
        return;
    }
    for (i64 i = 0; i < mc; i += MR) {
        i64 mr = mc - i < MR ? mc - i : MR;
        float *o = out + i * kc;
        const float *src = a + i * lda;
        for (i64 p = 0; p < kc; p += 16) {
            i64 pk = kc - p < 16 ? kc - p : 16;
            __mmask16 km = pk == 16 ? 0xffff : (__mmask16)((1u << pk) - 1);
            __m512 r[16];
#pragma GCC unroll 16
            for (int q = 0; q < 16; q++)
                r[q] = q < mr ? _mm512_maskz_loadu_ps(km, src + q * lda + p) : _mm512_setzero_ps();
            transpose16(r);
            if (pk == 16) {
#pragma GCC unroll 16
                for (int q = 0; q < 16; q++) _mm512_storeu_ps(o + (p + q) * MR, r[q]);
            } else {
                for (int q = 0; q < pk; q++) _mm512_storeu_ps(o + (p + q) * MR, r[q]);
            }
        }
    }
}

/* ---------------------------------------------------------------- driver */

int sgemm_mode; /* profiling: 1 skips the kernels, 2 skips the packing */
static float *bbuf, *abuf;
static i64 bcap, acap;

static float *grow(float **buf, i64 *cap, i64 need) {
    if (need > *cap) {
        free(*buf);
        *buf = aligned_alloc(64, (size_t)((need * 4 + 63) / 64 * 64));
        *cap = need;
    }
    return *buf;
}

static TGT void scale_c(i64 m, i64 n, float beta, float *c, i64 ldc) {
    for (i64 i = 0; i < m; i++)
        for (i64 j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

/* Software prefetch (to L2) of the source of the next block to pack, spread over the
 * microkernel calls of the current block: the packing then reads from L2, and the
 * memory traffic overlaps the FMAs. A region: `rows` rows of `bytes` bytes, `stride` apart. */
typedef struct { const char *base; i64 rows, bytes, stride; } region;
typedef struct { region r[4]; int nr, cur; i64 row, off; } pf_cursor;

static void pf_add(pf_cursor *q, const float *base, i64 rows, i64 bytes, i64 stride) {
    region g = {(const char *)base, rows, bytes, stride};
    q->r[q->nr++] = g;
}

static inline void pf_step(pf_cursor *q, i64 lines) {
    while (lines > 0 && q->cur < q->nr) {
        region *g = &q->r[q->cur];
        const char *p = g->base + q->row * g->stride + q->off;
        _mm_prefetch(p, _MM_HINT_T1);
        lines--;
        q->off += 64;
        if (q->off >= g->bytes + ((uintptr_t)(g->base + q->row * g->stride) & 63)) {
            q->off = 0;
            if (++q->row >= g->rows) {
                q->row = 0;
                q->cur++;
            }
        }
    }
}

static inline void pf_step_hint(pf_cursor *q, i64 lines, int hint) {
    while (lines > 0 && q->cur < q->nr) {
        region *g = &q->r[q->cur];
        const char *p = g->base + q->row * g->stride + q->off;
        if (hint == 1) _mm_prefetch(p, _MM_HINT_T0);
        else _mm_prefetch(p, _MM_HINT_T1);
        lines--;
        q->off += 64;
        if (q->off >= g->bytes + ((uintptr_t)(g->base + q->row * g->stride) & 63)) {
            q->off = 0;
            if (++q->row >= g->rows) {
                q->row = 0;
                q->cur++;
            }
        }
    }
}

/* The next `lines` lines of the cursor (within one region) as a job for the kernel. */
static inline void pf_job(pf_cursor *q, i64 lines, pfjob *j) {
    j->n = 0;
    if (q->cur >= q->nr) return;
    region *g = &q->r[q->cur];
    i64 mis = (i64)((uintptr_t)g->base & 63); /* rows share the misalignment iff stride % 64 == 0 */
    i64 rowb = ((g->bytes + mis + 127 + (g->stride % 64 != 0) * 64) / 128) * 128;
    i64 nl = rowb / 128; /* units of two lines */
    i64 idx = q->row * nl + q->off / 128;
    lines = (lines + 1) / 2;
    i64 left = g->rows * nl - idx;
    i64 n = lines < left ? lines : left;
    j->row = g->base - mis + q->row * g->stride;
    j->off = q->off;
    j->bytes = rowb;
    j->stride = g->stride;
    j->n = n;
    idx += n;
    q->row = idx / nl;
    q->off = (idx % nl) * 128;
    if (q->row >= g->rows) { q->row = 0; q->off = 0; q->cur++; }
}

static inline i64 pf_lines(const pf_cursor *q) {
    i64 t = 0;
    for (int i = 0; i < q->nr; i++) t += q->r[i].rows * ((q->r[i].bytes + 63) / 64 + 1);
    return t;
}

/* na, nb: the next product's operands (batched calls; NULL if none), prefetched during
 * this product's last block; apack: pack A even when it could be read in place (so that
 * the kernels, which prefetch, are the packed-A ones). */
static TGT void sgemm_avx512(int ta, int tb, i64 m, i64 n, i64 k, const float *a, i64 lda,
                             const float *b, i64 ldb, float beta, float *c, i64 ldc,
                             const float *na, const float *nb, int apack_force) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0 || (beta != 0.0f && beta != 1.0f)) {
        scale_c(m, n, beta, c, ldc);
        if (k <= 0) return;
        beta = 1.0f;
    }
    i64 nkb = (k + KCMAX - 1) / KCMAX;
    /* one k block when the whole packed B is small enough to stay in L2: no C re-reads */
    if (k <= KCFULL_MAX && k * ((n + NR - 1) / NR * NR) * 4 <= KCFULL_BYTES) nkb = 1;
    i64 kcb = (k + nkb - 1) / nkb; /* balanced k blocks */
    i64 nmb = (m + MCMAX - 1) / MCMAX;
    i64 mcb = (m + nmb - 1) / nmb;
    mcb = (mcb + MR - 1) / MR * MR;
    i64 ncb = n < NCMAX ? n : NCMAX;
    float *bp = grow(&bbuf, &bcap, kcb * ((ncb + NR - 1) / NR * NR));
    float *ap = grow(&abuf, &acap, kcb * ((mcb + MR - 1) / MR * MR) + 16);

    const int bdirect = !tb && (BDIRECT || m <= BDIRECT_M), adirect = apack_force ? 0 : ta ? TADIRECT : ADIRECT;
    for (i64 jc = 0; jc < n; jc += ncb) {
        i64 nc = n - jc < ncb ? n - jc : ncb;
        for (i64 pc = 0; pc < k; pc += kcb) {
            i64 kc = k - pc < kcb ? k - pc : kcb;
            const float *bsrc = tb ? b + jc * ldb + pc : b + pc * ldb + jc;
            const int lazy = LAZYB && KPF && !bdirect && sgemm_mode == 0;
            if (sgemm_mode != 2 && !bdirect && !lazy) pack_b(tb, kc, nc, bsrc, ldb, bp);
            const float *bbase = bdirect ? bsrc : bp;
            const i64 bstride = bdirect ? ldb : NR;
            int accum = pc > 0 || beta != 0.0f;
            for (i64 ic = 0; ic < m; ic += mcb) {
                i64 mc = m - ic < mcb ? m - ic : mcb;
                if (sgemm_mode != 2 && !adirect)
                    pack_a(ta, mc, kc, ta ? a + pc * lda + ic : a + ic * lda + pc, lda, ap);
                /* the next block's sources (PF_ON): A(ic+mc..), or B and A(0..) of the
                 * next k block, prefetched to L2 over this block's calls */
                pf_cursor q = {0};
                i64 per_call = 0;
                if (PF_ON) {
                    i64 ic2 = ic + mc, pc2 = pc, jc2 = jc;
                    const float *a2 = a, *b2 = b;
                    if (ic2 >= m) {
                        ic2 = 0;
                        pc2 = pc + kcb;
                        if (pc2 >= k) { pc2 = 0; jc2 = jc + ncb; }
                    }
                    if (jc2 >= n && na) { jc2 = 0; a2 = na; b2 = nb; }
                    if (jc2 < n && !(ic2 == ic && pc2 == pc && a2 == a)) {
                        i64 mc2 = m - ic2 < mcb ? m - ic2 : mcb, kc2 = k - pc2 < kcb ? k - pc2 : kcb;
                        i64 nc2 = n - jc2 < ncb ? n - jc2 : ncb;
                        if (ic2 == 0) {
                            if (tb) pf_add(&q, b2 + jc2 * ldb + pc2, nc2, kc2 * 4, ldb * 4);
                            else pf_add(&q, b2 + pc2 * ldb + jc2, kc2, nc2 * 4, ldb * 4);
                        }
                        if (ta) pf_add(&q, a2 + pc2 * lda + ic2, kc2, mc2 * 4, lda * 4);
                        else pf_add(&q, a2 + ic2 * lda + pc2, mc2, kc2 * 4, lda * 4);
                    }
                    i64 calls = ((mc + MR - 1) / MR) * ((nc + NR - 1) / NR);
                    per_call = (pf_lines(&q) + calls - 1) / calls + PF_SLACK;
                }
                if (sgemm_mode == 1) continue;
                /* each A micro-panel against every B panel: C written row block by row block */
                for (i64 ir = 0; ir < mc; ir += MR) {
                    i64 mr = mc - ir < MR ? mc - ir : MR;
                    const float *apan;
                    i64 astride;
                    int apack = 1;
                    if (!adirect) {
                        apan = ap + ir * kc;
                        astride = MR;
                    } else if (ta) {
                        apan = a + pc * lda + ic + ir;
                        astride = lda;
                    } else {
                        apan = a + (ic + ir) * lda + pc;
                        astride = lda;
                        apack = 0;
                    }
                    float *crow = c + (ic + ir) * ldc + jc;
                    pf_cursor qa = {0};
                    i64 per_call_a = 0;
                    if (APF && adirect && !ta && ir + MR < mc) {
                        i64 mr2 = mc - ir - MR < MR ? mc - ir - MR : MR;
                        pf_add(&qa, apan + MR * lda, mr2, kc * 4, lda * 4);
                        i64 ncalls = (nc + NR - 1) / NR;
                        per_call_a = (pf_lines(&qa) + ncalls - 1) / ncalls;
                    }
                    for (i64 jr = 0; jr < nc; jr += NR) {
                        i64 nr = nc - jr < NR ? nc - jr : NR;
                        int nv = nr > 16 ? 2 : 1;
                        i64 rem = nr - 16 * (nv - 1);
                        __mmask16 ml = rem == 16 ? 0xffff : (__mmask16)((1u << rem) - 1);
                        if (per_call_a) pf_step_hint(&qa, per_call_a, APF);
                        pfjob job;
                        job.n = 0;
                        if (lazy && ic == 0 && ir == 0) {
                            /* first micro-panel: pack B panel jr now, prefetching the next
                             * panel's source over this call (2 lines a k step) */
                            pack_b(tb, kc, nr, tb ? bsrc + jr * ldb : bsrc + jr, ldb, bp + jr * kc);
                            i64 j2 = jr + NR;
                            if (j2 < nc) {
                                i64 nr2 = nc - j2 < NR ? nc - j2 : NR;
                                if (!tb) {
                                    job.row = (const char *)(bsrc + j2);
                                    job.off = 0;
                                    job.bytes = 128;
                                    job.stride = ldb * 4;
                                    job.n = kc;
                                } else {
                                    job.row = (const char *)(bsrc + j2 * ldb);
                                    job.off = 0;
                                    job.bytes = (kc * 4 + 127) / 128 * 128;
                                    job.stride = ldb * 4;
                                    job.n = nr2 * (job.bytes / 128);
                                }
                            }
                        } else if (PF_ON) {
                            if (KPF) {
                                if (apack) pf_job(&q, per_call, &job);
                            } else {
                                pf_step(&q, per_call);
                            }
                        }
                        kerns[mr - 1][nv - 1][apack ? 1 : job.n ? 2 : 0](kc, apan, astride,
                                                     bbase + (bdirect ? jr : jr * kc), bstride,
                                                     crow + jr, ldc, accum, ml, &job);
                    }
                }
            }
        }
    }
}

void sgemm(int ta, int tb, i64 m, i64 n, i64 k, const float *a, i64 lda, const float *b,
           i64 ldb, float beta, float *c, i64 ldc) {
    sgemm_avx512(ta, tb, m, n, k, a, lda, b, ldb, beta, c, ldc, 0, 0, 0);
}

void sgemm_batched(i64 batch, int ta, int tb, i64 m, i64 n, i64 k, const float *a, i64 lda,
                   i64 sa, const float *b, i64 ldb, i64 sb, float beta, float *c, i64 ldc,
                   i64 sc) {
    for (i64 i = 0; i < batch; i++) {
        int more = BATCH_PF && i + 1 < batch;
        sgemm_avx512(ta, tb, m, n, k, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc,
                     more ? a + (i + 1) * sa : 0, more ? b + (i + 1) * sb : 0, BATCH_PF);
    }
}

/* Microkernel ceiling: `reps` calls of the full MR x NR kernel on L1-resident packed panels
 * (kc x MR of A, kc x NR of B) accumulating into one C tile. */
void kernel_ceiling(i64 reps, i64 kc, float *scratch /* >= kc*(MR+NR) + MR*NR floats, 64B aligned */) {
    float *ap = scratch, *bp = scratch + kc * MR, *c = bp + kc * NR;
    for (i64 i = 0; i < reps; i++) kerns[MR - 1][1][1](kc, ap, MR, bp, NR, c, NR, 1, 0xffff, 0);
}

/* Reductions. sum_rows: the sum over every dim but the last of a C-contiguous (rows, cols)
 * array, as NumPy's np.sum over those axes computes it: each column's accumulator starts at
 * +0 and the rows are added in order (NumPy's reduction over a non-innermost axis is that
 * sequence of row additions, FLOAT_add into the result), so the bits are NumPy's. Linear's
 * bias gradient. A column strip's accumulators stay in registers (NumPy's loop goes back to
 * memory every row, one inner-loop call per row); threads split the column strips, each
 * column's order unchanged. */
#define CR_SUM_STRIP 64

CR_KERNEL void SFX(cr_sum_rows)(const T *x, T *out, int64_t rows, int64_t cols) {
    const int64_t strips = (cols + CR_SUM_STRIP - 1) / CR_SUM_STRIP;
    CR_PARALLEL_FOR(rows * cols, CR_PAR_LIGHT)
    for (int64_t s = 0; s < strips; s++) {
        const int64_t lo = s * CR_SUM_STRIP, w = CR_MIN(CR_SUM_STRIP, cols - lo);
        T acc[CR_SUM_STRIP];
        for (int64_t j = 0; j < w; j++) acc[j] = 0;
        if (w == CR_SUM_STRIP) {
            for (int64_t r = 0; r < rows; r++) {
                const T *xr = x + r * cols + lo;
#pragma omp simd
                for (int64_t j = 0; j < CR_SUM_STRIP; j++) acc[j] += xr[j];
            }
        } else {
            for (int64_t r = 0; r < rows; r++) {
                const T *xr = x + r * cols + lo;
#pragma omp simd
                for (int64_t j = 0; j < w; j++) acc[j] += xr[j];
            }
        }
        for (int64_t j = 0; j < w; j++) out[lo + j] = acc[j];
    }
}

/* Threads for the native kernels (OpenMP when the build found it: setup.py adds -fopenmp
 * then, else these pragmas are ignored and every kernel runs serially).
 *
 * One setting, cr_threads, for every kernel (not OpenMP's per-thread ICV, so a kernel
 * called from any Python thread sees cr.set_num_threads). A kernel's outer loop runs in
 * parallel only above a size threshold: forking a team costs microseconds, more than a
 * small tensor's whole loop. Each parallel loop splits work so that every result is
 * computed by the same instructions, in the same order, as on one thread: rows of a
 * row-wise kernel, planes of an image, column ranges of a sum over rows, and fixed
 * CR_BLOCK-element blocks of a pointwise loop whose vector math (libmvec) might round a
 * vector lane and a scalar remainder differently. The results are bit-identical whatever
 * the thread count (tests/backend/test_threads.py). */
#ifdef _OPENMP
#include <omp.h>
#endif

static int cr_threads = 1;
static int cr_forked = 0; /* in a forked child: no OpenMP team (GNU OpenMP would hang) */

/* pointwise loops with vector math (exp, tanh, erf) are worth a team from this many
 * elements; plain arithmetic and copies (memory-bound) from CR_PAR_LIGHT */
#define CR_PAR_HEAVY ((int64_t)1 << 14)
#define CR_PAR_LIGHT ((int64_t)1 << 16)
#define CR_BLOCK ((int64_t)2048) /* a multiple of every vector width */
/* a stack of matrix products (native_gemm.h) from this many multiply-adds */
#define CR_PAR_GEMM ((int64_t)1 << 20)

#define CR_PRAGMA(x) _Pragma(#x)
/* the next `for` split statically over cr_threads threads when `work` is large enough */
#define CR_PARALLEL_FOR(work, min)                                                     \
    CR_PRAGMA(omp parallel for schedule(static) num_threads(cr_threads)                \
                  if (cr_threads > 1 && (work) >= (min)))

/* the same, with a min-reduction of the int64_t `var` (each thread's own copy starts at
 * INT64_MAX; the smallest is stored back) */
#define CR_PARALLEL_FOR_MIN(work, least, var)                                          \
    CR_PRAGMA(omp parallel for schedule(static) num_threads(cr_threads)                \
                  if (cr_threads > 1 && (work) >= (least)) reduction(min : var))

#define CR_MIN(a, b) ((a) < (b) ? (a) : (b))

int cr_has_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

void cr_set_num_threads(int n) { cr_threads = n > 0 ? n : 1; }

int cr_get_num_threads(void) { return cr_threads; }


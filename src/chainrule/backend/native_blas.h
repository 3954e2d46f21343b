/* One thread pool for the kernels and NumPy's BLAS (included once by native.c).
 *
 * OpenBLAS (NumPy's wheels bundle it, built with its own pthread pool) keeps its worker
 * threads busy-waiting (sched_yield in a loop) for about 2^28 cycles after each threaded
 * call, so in a training step, where a GEMM comes every few milliseconds, they never sleep;
 * the kernels' OpenMP team then shares the cores with them. On 2 cores a GPT step
 * measured 4x slower with both pools (OpenBLAS 2 threads, kernels 2) than with either one
 * alone. OpenBLAS (0.3.27 and later) lets its caller run its threaded work instead
 * (openblas_set_threads_callback_function): cr_blas_threads, registered by threads.py,
 * runs the jobs of each call on the kernels' OpenMP team (whose threads spin briefly, then
 * sleep between loops: threads.py), and OpenBLAS's own workers are never woken again. The
 * work and its split are OpenBLAS's own (the same jobs, the same results).
 *
 * A threaded OpenBLAS call's jobs wait for one another (each packs a share of an operand
 * the others read), so they must all run at once: one team thread per job. Where the team
 * cannot be that large (inside a parallel region, a forked child where GNU OpenMP cannot
 * start a team, a thread limit), the jobs it lacks run on threads made for the call. */
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <stdlib.h>
#define CR_BLAS_CALLBACK 1

typedef void (*cr_blas_job_fn)(int thread_num, void *job, int job_arg);

typedef struct {
    cr_blas_job_fn fn;
    void *job;
    int thread_num, job_arg;
    pthread_t thread;
    int started;
} cr_blas_extra;

static void *cr_blas_extra_main(void *p) {
    cr_blas_extra *e = (cr_blas_extra *)p;
    e->fn(e->thread_num, e->job, e->job_arg);
    return NULL;
}

/* jobs [lo, n) on threads of their own (joined by cr_blas_join); one that cannot be
 * started runs here, at once (OpenBLAS itself exits when it cannot make a thread) */
static cr_blas_extra *cr_blas_spawn(cr_blas_job_fn fn, int lo, int n, char *jobs,
                                    size_t size, int job_arg) {
    if (lo >= n) return NULL;
    cr_blas_extra *extra = (cr_blas_extra *)calloc((size_t)(n - lo), sizeof(cr_blas_extra));
    for (int i = lo; i < n; i++) {
        cr_blas_extra *e = extra ? &extra[i - lo] : NULL;
        if (e) {
            e->fn = fn, e->job = jobs + (size_t)i * size, e->thread_num = i;
            e->job_arg = job_arg;
            e->started = pthread_create(&e->thread, NULL, cr_blas_extra_main, e) == 0;
            if (e->started) continue;
        }
        fn(i, jobs + (size_t)i * size, job_arg);
    }
    return extra;
}

static void cr_blas_join(cr_blas_extra *extra, int lo, int n) {
    if (!extra) return;
    for (int i = lo; i < n; i++)
        if (extra[i - lo].started) pthread_join(extra[i - lo].thread, NULL);
    free(extra);
}

/* OpenBLAS's callback: run job i (thread number i) of `numjobs`, each `size` bytes at
 * `jobs`, all at once; return when all are done (`sync` is always set by OpenBLAS) */
static int64_t cr_blas_calls = 0; /* calls run by the callback (read by the tests) */

/* One call at a time: OpenBLAS gives job i of every call the packing buffer of thread i,
 * so two calls' jobs running at once (calls from two Python threads) would overwrite each
 * other's packed operands (measured: wrong products). OpenBLAS's own threads serve one
 * call at a time too. Made anew in a forked child (cr_set_forked). */
static pthread_mutex_t cr_blas_lock = PTHREAD_MUTEX_INITIALIZER;

static void cr_blas_run(cr_blas_job_fn fn, int numjobs, size_t size, char *base, int job_arg) {
#ifdef _OPENMP
    if (!cr_forked && !omp_in_parallel()) {
#pragma omp parallel num_threads(numjobs)
        {
            const int tid = omp_get_thread_num(), team = omp_get_num_threads();
            cr_blas_extra *extra = NULL;
            if (tid == 0) extra = cr_blas_spawn(fn, team, numjobs, base, size, job_arg);
            fn(tid, base + (size_t)tid * size, job_arg);
            if (tid == 0) cr_blas_join(extra, team, numjobs);
        }
        return;
    }
#endif
    cr_blas_extra *extra = cr_blas_spawn(fn, 1, numjobs, base, size, job_arg);
    fn(0, base, job_arg);
    cr_blas_join(extra, 1, numjobs);
}

void cr_blas_threads(int sync, cr_blas_job_fn fn, int numjobs, size_t size, void *jobs,
                     int job_arg) {
    (void)sync;
    __atomic_fetch_add(&cr_blas_calls, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&cr_blas_lock);
    if (numjobs == 1)
        fn(0, jobs, job_arg);
    else if (numjobs > 1)
        cr_blas_run(fn, numjobs, size, (char *)jobs, job_arg);
    pthread_mutex_unlock(&cr_blas_lock);
}

static void cr_blas_after_fork(void) { pthread_mutex_init(&cr_blas_lock, NULL); }
#else
#define CR_BLAS_CALLBACK 0
static void cr_blas_after_fork(void) {}
#endif

int cr_blas_callback_available(void) { return CR_BLAS_CALLBACK; }

int64_t cr_blas_callback_calls(void) {
#if CR_BLAS_CALLBACK
    return __atomic_load_n(&cr_blas_calls, __ATOMIC_RELAXED);
#else
    return 0;
#endif
}

/* the callback's address, for OpenBLAS's setter (called from Python through ctypes) */
uintptr_t cr_blas_callback(void) {
#if CR_BLAS_CALLBACK
    return (uintptr_t)&cr_blas_threads;
#else
    return 0;
#endif
}

/* called in a forked child: the kernels run on one thread there (native_omp.h), and the
 * callback's lock is new (a thread of the parent may have held it at the fork) */
void cr_set_forked(void) {
    cr_forked = 1;
    cr_threads = 1;
    cr_blas_after_fork();
}

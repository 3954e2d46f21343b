"""The cffi builder of chainrule's native kernels (API mode, compiled by setuptools during
``pip install`` through ``cffi_modules`` in setup.py; in a checkout,
``python setup.py build_ext --inplace``). The kernels' C prototypes are generated here from
one list, for float (``_f32``) and double (``_f64``).

OpenMP: the kernels' large loops run on several threads (native_omp.h) when the compiler
takes ``-fopenmp`` (checked here by compiling and linking a test program); otherwise, or
with ``CHAINRULE_OPENMP=0`` in the environment, the build is serial and never fails over it."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sysconfig
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

_GEOMETRY = (
    "int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, "
    "int64_t sw, int64_t pt, int64_t pl, int64_t dh, int64_t dw, int64_t oh, int64_t ow"
)

# name -> the parameter list, with T for the element type
PROTOTYPES = {
    "cr_gelu": "const T *x, T *y, int64_t n, int tanh_form",
    "cr_gelu_backward": "const T *g, const T *x, T *out, int64_t n, int tanh_form",
    "cr_sigmoid": "const T *x, T *y, int64_t n",
    "cr_sigmoid_backward": "const T *g, const T *y, T *out, int64_t n",
    "cr_tanh_backward": "const T *g, const T *y, T *out, int64_t n",
    "cr_silu": "const T *x, T *y, int64_t n",
    "cr_silu_backward": "const T *g, const T *x, T *out, int64_t n",
    "cr_softmax": "const T *x, T *y, int64_t rows, int64_t cols",
    "cr_log_softmax": "const T *x, T *y, int64_t rows, int64_t cols",
    "cr_softmax_backward": "const T *g, const T *y, T *out, int64_t rows, int64_t cols",
    "cr_log_softmax_backward": "const T *g, const T *y, T *out, int64_t rows, int64_t cols",
    "cr_scaled_masked_softmax": "const T *x, const uint8_t *mask, T *y, int64_t rows, "
    "int64_t cols, int64_t mrows, double scale, double value",
    "cr_scaled_masked_softmax_backward": "const T *g, const T *y, const uint8_t *mask, T *out, "
    "int64_t rows, int64_t cols, int64_t mrows, double scale",
    "cr_im2col": "const T *x, T *cols, " + _GEOMETRY,
    "cr_col2im": "const T *cols, T *gx, " + _GEOMETRY,
    "cr_max_pool2d": "const T *x, T *y, int64_t *index, int64_t planes, int64_t h, int64_t w, "
    "int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t pt, int64_t pl, int64_t dh, "
    "int64_t dw, int64_t oh, int64_t ow",
    "cr_max_pool2d_backward": "const T *g, const int64_t *index, T *gx, int64_t planes, "
    "int64_t hw, int64_t ohw",
    "cr_avg_pool2d": "const T *x, T *y, int64_t planes, int64_t h, int64_t w, int64_t kh, "
    "int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh, int64_t ow, "
    "int include_pad, int64_t divisor",
    "cr_avg_pool2d_backward": "const T *g, T *gx, int64_t planes, int64_t h, int64_t w, "
    "int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oh, "
    "int64_t ow, int include_pad, int64_t divisor",
    "cr_layer_norm": "const T *x, const T *w, const T *b, T *y, T *mean, T *rstd, "
    "int64_t rows, int64_t cols, double eps",
    "cr_layer_norm_backward": "const T *g, const T *x, const T *mean, const T *rstd, "
    "const T *w, T *dx, T *dw, T *db, int64_t rows, int64_t cols",
    "cr_embedding_backward": "const T *g, const int64_t *index, T *gw, int64_t n, "
    "int64_t cols, int64_t num, int64_t padding_idx",
    "cr_sgd_step": "T *param, const T *g, T *buf, int64_t n, double lr, double momentum, "
    "double dampening, int nesterov",
    "cr_adam_step": "T *param, const T *g, T *exp_avg, T *exp_avg_sq, int64_t n, double beta1, "
    "double beta2, double step_size, double bc2_sqrt, double eps, double decay",
    # native_pointwise.h
    "cr_softplus": "const T *x, T *y, int64_t n, double beta, double threshold",
    "cr_softplus_backward": "const T *g, const T *x, T *out, int64_t n, double beta, "
    "double threshold",
    "cr_dropout": "const T *x, const uint64_t *r, T *y, uint8_t *keep, int64_t n, double p, "
    "double scale",
    "cr_dropout_backward": "const T *g, const uint8_t *keep, T *out, int64_t n, double scale",
    "cr_arith": "int op, const T *a, const T *b, T *out, int64_t n, int b_step",
    "cr_relu": "const T *x, T *y, int64_t n",
    "cr_relu_backward": "const T *g, const T *y, T *out, int64_t n",
    "cr_masked_fill": "const T *x, const uint8_t *mask, T *y, int64_t rows, int64_t cols, "
    "double value",
    # native_loss.h
    "cr_cross_entropy": "const T *x, const int64_t *t, const T *w, T *logp, T *loss, T *wt, "
    "int64_t n, int64_t c, int64_t s, int64_t ignore_index, double smoothing",
    "cr_cross_entropy_backward": "const T *g, const T *logp, const int64_t *t, const T *w, "
    "T *dx, int64_t n, int64_t c, int64_t s, int64_t ignore_index, double smoothing",
    # native_norm.h
    "cr_batch_norm_stats": "const T *x, T *mean, T *var, int64_t n, int64_t c, int64_t s",
    "cr_batch_norm_elemt": "const T *x, const T *mean, const T *rstd, const T *w, "
    "const T *bias, T *y, int64_t n, int64_t c, int64_t s",
    "cr_batch_norm_backward": "const T *g, const T *x, const T *mean, const T *rstd, "
    "const T *w, T *dx, T *dw, T *db, int64_t n, int64_t c, int64_t s, int training",
    "cr_rms_norm": "const T *x, const T *w, T *y, T *rstd, int64_t rows, int64_t cols, double eps",
    "cr_rms_norm_backward": "const T *g, const T *x, const T *rstd, const T *w, T *dx, T *dw, "
    "int64_t rows, int64_t cols",
    # native_reduce.h
    "cr_sum_rows": "const T *x, T *out, int64_t rows, int64_t cols",
    # native_gemm.h
    "cr_bmm": "uintptr_t gemm, int ilp64, uintptr_t get_blas_threads, "
    "uintptr_t set_blas_threads, const T *a, const T *b, T *c, int64_t batch, int nd, "
    "const int64_t *shape, const int64_t *sa, const int64_t *sb, int64_t m, int64_t n, "
    "int64_t p, int ta, int64_t lda, int tb, int64_t ldb",
    "cr_addmm": "uintptr_t gemm, int ilp64, const T *bias, const T *a, const T *b, T *out, "
    "int64_t m, int64_t n, int64_t p, int ta, int64_t lda, int tb, int64_t ldb",
    "cr_mm_rows": "uintptr_t gemm, int ilp64, uintptr_t get_blas_threads, "
    "uintptr_t set_blas_threads, const T *bias, const T *a, const T *b, T *out, int64_t m, "
    "int64_t n, int64_t p, int ta, int64_t lda, int tb, int64_t ldb",
}
RETURNS = {"cr_cross_entropy": "int64_t"}  # the rest return void


# the thread setting shared by every kernel (native_omp.h)
THREADS_CDEF = """
int cr_has_openmp(void);
void cr_set_num_threads(int n);
int cr_get_num_threads(void);
void cr_set_forked(void);
int cr_blas_callback_available(void);
uintptr_t cr_blas_callback(void);
int64_t cr_blas_callback_calls(void);
"""

_OMP_TEST = """
#include <omp.h>
int main(void) {
    int s = 0;
#pragma omp parallel for reduction(+ : s)
    for (int i = 0; i < 100; i++) s += i;
    return s == 4950 && omp_get_max_threads() > 0 ? 0 : 1;
}
"""


def openmp_flags() -> list[str]:
    """``["-fopenmp"]`` when this Python's C compiler compiles, links and runs an OpenMP
    program with it (and ``CHAINRULE_OPENMP`` is not "0"); else ``[]``, a serial build."""
    if os.environ.get("CHAINRULE_OPENMP", "1") == "0":
        return []
    cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "omp.c"), os.path.join(tmp, "omp")
        with open(src, "w") as f:
            f.write(_OMP_TEST)
        try:
            subprocess.run([*cc, "-fopenmp", src, "-o", exe], check=True, capture_output=True,
                           timeout=120)  # fmt: skip
            subprocess.run([exe], check=True, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return []
    return ["-fopenmp"]


def cdef() -> str:
    lines = [THREADS_CDEF]
    for ctype, sfx in (("float", "f32"), ("double", "f64")):
        for name, params in PROTOTYPES.items():
            typed = re.sub(r"\bT\b", ctype, params)
            lines.append(f"{RETURNS.get(name, 'void')} {name}_{sfx}({typed});")
    return "\n".join(lines)


OPENMP = openmp_flags()
ffibuilder = FFI()
ffibuilder.cdef(cdef())
ffibuilder.set_source(
    "chainrule.backend._native",
    '#include "native.c"',
    include_dirs=[HERE],
    depends=sorted(glob.glob(os.path.join(HERE, "native*.[ch]"))),  # native.c and its headers
    # -O3 and OpenMP's simd pragmas; no -ffast-math (IEEE nan/inf/-0), no fused multiply-add
    # contraction (the reference's roundings), no -march; -fopenmp (threads) when it works
    extra_compile_args=[
        "-O3",
        "-fopenmp-simd",
        "-fno-math-errno",
        "-ffp-contract=off",
        "-std=gnu11",
        *OPENMP,
    ],
    extra_link_args=OPENMP,
    libraries=["m"] if os.name == "nt" else ["m", "pthread"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.join(HERE, "..", "..", ".."), verbose=True)

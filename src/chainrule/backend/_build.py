"""The cffi builder of chainrule's native kernels (API mode, compiled by setuptools during
``pip install`` through ``cffi_modules`` in setup.py; in a checkout,
``python setup.py build_ext --inplace``). The kernels' C prototypes are generated here from
one list, for float (``_f32``) and double (``_f64``)."""

from __future__ import annotations

import glob
import os
import re

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
    "double beta2, double step_size, double bc2_sqrt, double eps",
    # native_pointwise.h
    "cr_softplus": "const T *x, T *y, int64_t n, double beta, double threshold",
    "cr_softplus_backward": "const T *g, const T *x, T *out, int64_t n, double beta, "
    "double threshold",
    "cr_dropout": "const T *x, const uint64_t *r, T *y, uint8_t *keep, int64_t n, double p, "
    "double scale",
    "cr_dropout_backward": "const T *g, const uint8_t *keep, T *out, int64_t n, double scale",
    "cr_relu": "const T *x, T *y, int64_t n",
    "cr_relu_backward": "const T *g, const T *y, T *out, int64_t n",
    # native_loss.h
    "cr_cross_entropy": "const T *x, const int64_t *t, const T *w, T *logp, T *loss, T *wt, "
    "T *scratch, int64_t n, int64_t c, int64_t s, int64_t ignore_index, double smoothing",
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
}
RETURNS = {"cr_cross_entropy": "int64_t"}  # the rest return void


def cdef() -> str:
    lines = []
    for ctype, sfx in (("float", "f32"), ("double", "f64")):
        for name, params in PROTOTYPES.items():
            typed = re.sub(r"\bT\b", ctype, params)
            lines.append(f"{RETURNS.get(name, 'void')} {name}_{sfx}({typed});")
    return "\n".join(lines)


ffibuilder = FFI()
ffibuilder.cdef(cdef())
ffibuilder.set_source(
    "chainrule.backend._native",
    '#include "native.c"',
    include_dirs=[HERE],
    depends=sorted(glob.glob(os.path.join(HERE, "native*.[ch]"))),  # native.c and its headers
    # -O3 and OpenMP's simd pragmas; no -ffast-math (IEEE nan/inf/-0), no fused multiply-add
    # contraction (the reference's roundings), no -march
    extra_compile_args=[
        "-O3",
        "-fopenmp-simd",
        "-fno-math-errno",
        "-ffp-contract=off",
        "-std=gnu11",
    ],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=os.path.join(HERE, "..", "..", ".."), verbose=True)

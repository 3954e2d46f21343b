"""The native kernels (native.c, compiled by cffi at install time) behind the same
signatures as numpy_kernels.py. Each wrapper takes the C loop when its arrays are float32
or float64, C-contiguous and of one shape, and otherwise calls the NumPy reference, so
every call gives an answer. Importing this module fails (ImportError) when the extension
was not built; the dispatch table then holds the NumPy kernels only."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.backend import numpy_kernels as ref
from chainrule.backend import numpy_loss as ref_loss
from chainrule.backend import numpy_norm as ref_norm

# threads.py loads the extension first (it chooses GNU OpenMP's wait policy before)
from chainrule.backend import threads  # noqa: I001
from chainrule.backend._native import ffi, lib  # type: ignore[import-not-found]

_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_CTYPE = {_F32: "float[]", _F64: "double[]"}
_buf = ffi.from_buffer


def _fns(name: str) -> dict[np.dtype, Callable]:
    """The C function ``name`` for each dtype (``name_f32``, ``name_f64``)."""
    return {_F32: getattr(lib, name + "_f32"), _F64: getattr(lib, name + "_f64")}


def _is(a: Any, dtype: Any, shape: tuple) -> bool:
    """Whether ``a`` is a C-contiguous ndarray of ``dtype`` and ``shape`` (a kernel's
    companion array: indices, masks, per-channel vectors)."""
    return type(a) is np.ndarray and a.dtype == dtype and a.shape == shape and a.flags.c_contiguous


def _native(*arrays: np.ndarray) -> bool:
    """Whether the C loop applies: one float dtype, one shape, C-contiguous."""
    a = arrays[0]
    if type(a) is not np.ndarray or a.dtype not in _CTYPE or not a.flags.c_contiguous:
        return False
    for b in arrays[1:]:
        if type(b) is not np.ndarray or b.dtype != a.dtype or b.shape != a.shape:
            return False
        if not b.flags.c_contiguous:
            return False
    return True


def _unary(name: str, reference: Callable) -> Callable:
    fns = _fns("cr_" + name)

    def kernel(x: np.ndarray) -> np.ndarray:
        if not _native(x):
            return reference(x)
        ct = _CTYPE[x.dtype]
        y = np.empty_like(x)
        fns[x.dtype](_buf(ct, x), _buf(ct, y), x.size)
        return y

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    return kernel


def _binary(name: str, reference: Callable, small: int = 0) -> Callable:
    """A backward kernel of (g, saved) -> g * f'(saved); below ``small`` elements the
    reference (two or three NumPy calls cost less than one call through cffi)."""
    fns = _fns("cr_" + name)

    def kernel(g: np.ndarray, s: np.ndarray) -> np.ndarray:
        if s.size < small or not _native(s, g):
            return reference(g, s)
        ct = _CTYPE[s.dtype]
        out = np.empty_like(s)
        fns[s.dtype](_buf(ct, g), _buf(ct, s), _buf(ct, out), s.size)
        return out

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    return kernel


_gelu, _gelu_backward = _fns("cr_gelu"), _fns("cr_gelu_backward")


def gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    if not _native(x):
        return ref.gelu(x, approximate)
    ct = _CTYPE[x.dtype]
    y = np.empty_like(x)
    _gelu[x.dtype](_buf(ct, x), _buf(ct, y), x.size, approximate == "tanh")
    return y


def gelu_backward(g: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray:
    if not _native(x, g):
        return ref.gelu_backward(g, x, approximate)
    ct = _CTYPE[x.dtype]
    out = np.empty_like(x)
    _gelu_backward[x.dtype](_buf(ct, g), _buf(ct, x), _buf(ct, out), x.size, approximate == "tanh")
    return out


def _rows(name: str, reference: Callable) -> Callable:
    """A kernel along the last dim (rows x cols), ``dim`` any other: the reference."""
    fns = _fns("cr_" + name)

    def kernel(x: np.ndarray, dim: int) -> np.ndarray:
        if not x.ndim or dim != x.ndim - 1 or not x.size or not _native(x):
            return reference(x, dim)
        ct = _CTYPE[x.dtype]
        y = np.empty_like(x)
        cols = x.shape[-1]
        fns[x.dtype](_buf(ct, x), _buf(ct, y), x.size // cols, cols)
        return y

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    return kernel


def _rows_backward(name: str, reference: Callable) -> Callable:
    fns = _fns("cr_" + name)

    def kernel(g: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
        if not y.ndim or dim != y.ndim - 1 or not y.size or not _native(y, g):
            return reference(g, y, dim)
        ct = _CTYPE[y.dtype]
        out = np.empty_like(y)
        cols = y.shape[-1]
        fns[y.dtype](_buf(ct, g), _buf(ct, y), _buf(ct, out), y.size // cols, cols)
        return out

    kernel.__name__ = kernel.__qualname__ = name
    kernel.__doc__ = reference.__doc__
    return kernel


_bmm = _fns("cr_bmm")
_PTR = {_F32: "float *", _F64: "double *"}
_PAR_GEMM = 1 << 20  # native_omp.h's CR_PAR_GEMM


def _ptr(a: np.ndarray) -> Any:
    """A pointer to a's first element (a may be any strided view)."""
    return ffi.cast(_PTR[a.dtype], a.__array_interface__["data"][0])


_gemm = threads.numpy_gemm()
_GEMM_FN = {} if _gemm is None else {_F32: _gemm.sgemm, _F64: _gemm.dgemm}
_INT32_MAX = 2**31 - 1


def _blas_layout(s_rows: int, s_cols: int, rows: int, cols: int, size: int) -> tuple | None:
    """NumPy's matmul's BLAS layout of one (rows, cols) matrix with byte strides (s_rows,
    s_cols): (CblasNoTrans, lda) when row-major, (CblasTrans, lda) when column-major, None
    when neither (NumPy copies it first: left to NumPy)."""
    if s_cols == size and s_rows % size == 0 and s_rows // size >= cols:
        return 111, s_rows // size
    if s_rows == size and s_cols % size == 0 and s_cols // size >= rows:
        return 112, s_cols // size
    return None


def _batch_strides(x: np.ndarray, batch: tuple, size: int) -> list | None:
    """x's strides (elements) over the broadcast batch dims: 0 where it is broadcast."""
    lead = len(batch) - (x.ndim - 2)
    out = [0] * lead
    for d in range(x.ndim - 2):
        if x.shape[d] == 1 and batch[lead + d] != 1:
            out.append(0)
        elif x.strides[d] % size:
            return None
        else:
            out.append(x.strides[d] // size)
    return out


def matmul(a, b):
    """A stack of products worth splitting (two or more pairs, CR_PAR_GEMM multiply-adds,
    more than one thread) with the GEMM NumPy calls, each pair one single-threaded call on
    one of the kernels' threads; a 2-d product with few rows or a short inner dim split by
    rows the same way (``_mm_rows``); anything else is NumPy's matmul (native_gemm.h)."""
    if (
        not _GEMM_FN
        or type(a) is not np.ndarray
        or type(b) is not np.ndarray
        or a.dtype not in _GEMM_FN
        or b.dtype != a.dtype
        or a.ndim < 2
        or b.ndim < 2
        or lib.cr_get_num_threads() == 1
    ):
        return np.matmul(a, b)
    if a.ndim == 2 and b.ndim == 2:
        out = _mm_rows(None, a, b)
        return np.matmul(a, b) if out is None else out
    (m, n), (n2, p) = a.shape[-2:], b.shape[-2:]
    # NumPy's special cases (a dim of 1: gemv, dot or its own loop; 0: nothing to do) and
    # its errors stay NumPy's
    if n != n2 or m < 2 or n < 2 or p < 2:
        return np.matmul(a, b)
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        return np.matmul(a, b)
    count = math.prod(batch)
    if count < 2 or count * m * n * p < _PAR_GEMM:
        return np.matmul(a, b)
    size = a.itemsize
    la = _blas_layout(a.strides[-2], a.strides[-1], m, n, size)
    lb = _blas_layout(b.strides[-2], b.strides[-1], n, p, size)
    sa, sb = _batch_strides(a, batch, size), _batch_strides(b, batch, size)
    if la is None or lb is None or sa is None or sb is None:
        return np.matmul(a, b)
    if m == p and la[0] != lb[0] and a.strides[-2:] == b.strides[-1:-3:-1]:
        # NumPy calls syrk for a pair that is one matrix and its transpose (same address)
        pa, pb = a.__array_interface__["data"][0], b.__array_interface__["data"][0]
        if pa == pb or (sa != sb and np.may_share_memory(a, b)):
            return np.matmul(a, b)
    if not _gemm.ilp64 and max(m, n, p, la[1], lb[1]) > _INT32_MAX:
        return np.matmul(a, b)
    c = np.empty((*batch, m, p), dtype=a.dtype)
    ct = _CTYPE[a.dtype]
    _bmm[a.dtype](
        _GEMM_FN[a.dtype], _gemm.ilp64, _gemm.get_threads, _gemm.set_threads,
        _ptr(a), _ptr(b), _buf(ct, c),
        count, len(batch), list(batch), sa, sb, m, n, p, la[0], la[1], lb[0], lb[1],
    )  # fmt: skip
    return c


_mm_rows_fns = _fns("cr_mm_rows")
_SMALL_DIM = 32  # a product with fewer rows or a shorter inner dim: split by rows


def _mm_rows(bias, a, b):
    """A 2-d product (``bias + a @ b`` with a bias) with few rows or a short inner dim, on
    more than one thread: out's rows split over the kernels' team, each range one
    single-threaded GEMM call (cr_mm_rows). OpenBLAS's own threading of such a product
    spends most of its time in its threads waiting for one another: (256, 10) @ (10, 512)
    took 70 µs on 2 threads, 19 µs split by rows (Xeon, 2 cores). None for any other
    product (the caller's NumPy matmul or addmm computes it)."""
    (m, n), (n2, p) = a.shape, b.shape
    if (
        n != n2
        or m < 2
        or n < 2
        or p < 2
        or min(m, n) > _SMALL_DIM
        or m * n * p < _PAR_GEMM // 16
        or b.dtype != a.dtype
        or not (a.flags.aligned and b.flags.aligned)
    ):
        return None
    size = a.itemsize
    la = _blas_layout(a.strides[0], a.strides[1], m, n, size)
    lb = _blas_layout(b.strides[0], b.strides[1], n, p, size)
    if la is None or lb is None or (not _gemm.ilp64 and max(m, n, p, la[1], lb[1]) > _INT32_MAX):
        return None
    if m == p and la[0] != lb[0] and a.strides == b.strides[::-1]:  # NumPy's syrk case
        if a.__array_interface__["data"][0] == b.__array_interface__["data"][0]:
            return None
    out = np.empty((m, p), dtype=a.dtype)
    _mm_rows_fns[a.dtype](
        _GEMM_FN[a.dtype], _gemm.ilp64, _gemm.get_threads, _gemm.set_threads,
        ffi.NULL if bias is None else _ptr(bias), _ptr(a), _ptr(b), _buf(_CTYPE[a.dtype], out),
        m, n, p, la[0], la[1], lb[0], lb[1],
    )  # fmt: skip
    return out


_addmm = _fns("cr_addmm")


def addmm(bias, a, b):
    """Two matrices of one float dtype that BLAS reads as they are (NumPy's test: rows or
    columns contiguous), no dim of 0, a C-contiguous (p,) bias: the bias set into the
    result, then one GEMM (NumPy's BLAS) adding the product into it (native_gemm.h);
    anything else is the reference."""
    if (
        not _GEMM_FN
        or type(a) is not np.ndarray
        or type(b) is not np.ndarray
        or type(bias) is not np.ndarray
        or a.dtype not in _GEMM_FN
        or b.dtype != a.dtype
        or bias.dtype != a.dtype
        or a.ndim != 2
        or b.ndim != 2
        or not (a.flags.aligned and b.flags.aligned)
    ):
        return ref.addmm(bias, a, b)
    (m, n), (n2, p) = a.shape, b.shape
    if n != n2 or not (m and n and p) or bias.shape != (p,) or not bias.flags.c_contiguous:
        return ref.addmm(bias, a, b)
    size = a.itemsize
    la = _blas_layout(a.strides[0], a.strides[1], m, n, size)
    lb = _blas_layout(b.strides[0], b.strides[1], n, p, size)
    if la is None or lb is None or (not _gemm.ilp64 and max(m, n, p, la[1], lb[1]) > _INT32_MAX):
        return ref.addmm(bias, a, b)
    if lib.cr_get_num_threads() > 1:
        out = _mm_rows(bias, a, b)
        if out is not None:
            return out
    out = np.empty((m, p), dtype=a.dtype)
    _addmm[a.dtype](
        _GEMM_FN[a.dtype], _gemm.ilp64, _ptr(bias), _ptr(a), _ptr(b),
        _buf(_CTYPE[a.dtype], out), m, n, p, la[0], la[1], lb[0], lb[1],
    )  # fmt: skip
    return out


_im2col, _col2im = _fns("cr_im2col"), _fns("cr_col2im")


def _geometry(x_shape, kernel, stride, padding, dilation, out_hw) -> tuple:
    return (*x_shape, *kernel, *stride, padding[0][0], padding[1][0], *dilation, *out_hw)


def im2col(x, kernel, stride, padding, dilation, out_hw):
    if x.ndim != 4 or not _native(x):
        return ref.im2col(x, kernel, stride, padding, dilation, out_hw)
    n, c = x.shape[:2]
    cols = np.empty((c * kernel[0] * kernel[1], n * out_hw[0] * out_hw[1]), dtype=x.dtype)
    ct = _CTYPE[x.dtype]
    geo = _geometry(x.shape, kernel, stride, padding, dilation, out_hw)
    _im2col[x.dtype](_buf(ct, x), _buf(ct, cols), *geo)
    return cols


def col2im(gcols, x_shape, kernel, stride, padding, dilation, out_hw):
    if not _native(gcols) or len(x_shape) != 4:
        return ref.col2im(gcols, x_shape, kernel, stride, padding, dilation, out_hw)
    gx = np.empty(x_shape, dtype=gcols.dtype)
    ct = _CTYPE[gcols.dtype]
    geo = _geometry(x_shape, kernel, stride, padding, dilation, out_hw)
    _col2im[gcols.dtype](_buf(ct, gcols), _buf(ct, gx), *geo)
    return gx


_max_pool2d, _max_pool2d_backward = _fns("cr_max_pool2d"), _fns("cr_max_pool2d_backward")


def max_pool2d(x, kernel, stride, padding, dilation, out_hw):
    if x.ndim != 4 or not _native(x):
        return ref.max_pool2d(x, kernel, stride, padding, dilation, out_hw)
    n, c, h, w = x.shape
    y = np.empty((n, c, *out_hw), dtype=x.dtype)
    index = np.empty((n, c, *out_hw), dtype=np.int64)
    ct = _CTYPE[x.dtype]
    geo = _geometry(x.shape, kernel, stride, padding, dilation, out_hw)[2:]
    _max_pool2d[x.dtype](_buf(ct, x), _buf(ct, y), _buf("int64_t[]", index), n * c, *geo)
    return y, index


def max_pool2d_backward(g, index, x_shape):
    if not _native(g) or not _is(index, np.int64, g.shape) or g.ndim != 4:
        return ref.max_pool2d_backward(g, index, x_shape)
    n, c, h, w = x_shape
    gx = np.empty(x_shape, dtype=g.dtype)
    ct = _CTYPE[g.dtype]
    _max_pool2d_backward[g.dtype](
        _buf(ct, g), _buf("int64_t[]", index), _buf(ct, gx), n * c, h * w,
        g.shape[2] * g.shape[3],
    )  # fmt: skip
    return gx


_avg_pool2d, _avg_pool2d_backward = _fns("cr_avg_pool2d"), _fns("cr_avg_pool2d_backward")


def avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor):
    if x.ndim != 4 or not _native(x):
        return ref.avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor)
    n, c, h, w = x.shape
    y = np.empty((n, c, *out_hw), dtype=x.dtype)
    ct = _CTYPE[x.dtype]
    _avg_pool2d[x.dtype](
        _buf(ct, x), _buf(ct, y), n * c, h, w, *kernel, *stride, *padding, *out_hw,
        bool(count_include_pad), int(divisor or 0),
    )  # fmt: skip
    return y


def avg_pool2d_backward(g, x_shape, kernel, stride, padding, out_hw, count_include_pad, divisor):
    if g.ndim != 4 or len(x_shape) != 4 or not _native(g):
        return ref.avg_pool2d_backward(g, x_shape, kernel, stride, padding, out_hw,
                                       count_include_pad, divisor)  # fmt: skip
    n, c, h, w = x_shape
    gx = np.empty(x_shape, dtype=g.dtype)
    ct = _CTYPE[g.dtype]
    _avg_pool2d_backward[g.dtype](
        _buf(ct, g), _buf(ct, gx), n * c, h, w, *kernel, *stride, *padding, *out_hw,
        bool(count_include_pad), int(divisor or 0),
    )  # fmt: skip
    return gx


_layer_norm, _layer_norm_backward = _fns("cr_layer_norm"), _fns("cr_layer_norm_backward")


def _affine_ok(x: np.ndarray, k: int, *params) -> bool:
    """x float, contiguous, normalized over its last k dims; each param None or of those
    dims' shape, same dtype, contiguous."""
    if not _native(x) or not 0 < k <= x.ndim or not x.size:
        return False
    tail = x.shape[x.ndim - k :]
    for p in params:
        if p is not None and not _is(p, x.dtype, tail):
            return False
    return True


def _opt(ct: str, a):
    return ffi.NULL if a is None else _buf(ct, a)


def layer_norm(x, w, b, eps, k):
    if not _affine_ok(x, k, w, b):
        return ref.layer_norm(x, w, b, eps, k)
    ct = _CTYPE[x.dtype]
    stats = x.shape[: x.ndim - k] + (1,) * k
    y, mu, rstd = np.empty_like(x), np.empty(stats, x.dtype), np.empty(stats, x.dtype)
    cols = 1
    for s in x.shape[x.ndim - k :]:
        cols *= s
    _layer_norm[x.dtype](
        _buf(ct, x), _opt(ct, w), _opt(ct, b), _buf(ct, y), _buf(ct, mu), _buf(ct, rstd),
        x.size // cols, cols, float(eps),
    )  # fmt: skip
    return y, mu, rstd


def layer_norm_backward(g, x, mu, rstd, w, k):
    stats = x.shape[: x.ndim - k] + (1,) * k
    if (
        not _affine_ok(x, k, w)
        or not _native(x, g)
        or not _native(mu, rstd)
        or mu.dtype != x.dtype
        or mu.shape != stats
    ):
        return ref.layer_norm_backward(g, x, mu, rstd, w, k)
    ct = _CTYPE[x.dtype]
    tail = x.shape[x.ndim - k :]
    dx, dw, db = np.empty_like(x), np.empty(tail, x.dtype), np.empty(tail, x.dtype)
    cols = dw.size
    _layer_norm_backward[x.dtype](
        _buf(ct, g), _buf(ct, x), _buf(ct, mu), _buf(ct, rstd), _opt(ct, w), _buf(ct, dx),
        _buf(ct, dw), _buf(ct, db), x.size // cols, cols,
    )  # fmt: skip
    return dx, dw, db


_sum_rows = _fns("cr_sum_rows")


def sum_rows(x):
    # 2+ columns: NumPy's reduction of one column is a pairwise sum (other bits); a 0-size
    # or 1-d array is the reference's
    if x.ndim < 2 or x.shape[-1] < 2 or not x.size or not _native(x):
        return ref.sum_rows(x)
    ct = _CTYPE[x.dtype]
    cols = x.shape[-1]
    out = np.empty(cols, x.dtype)
    _sum_rows[x.dtype](_buf(ct, x), _buf(ct, out), x.size // cols, cols)
    return out


_embedding_backward = _fns("cr_embedding_backward")


def embedding_backward(g, index, num, padding_idx):
    if g.ndim != 2 or not _native(g) or not _is(index, np.int64, g.shape[:1]):
        return ref.embedding_backward(g, index, num, padding_idx)
    ct = _CTYPE[g.dtype]
    gw = np.empty((num, g.shape[1]), dtype=g.dtype)
    pad = -1 if padding_idx is None else int(padding_idx)
    _embedding_backward[g.dtype](
        _buf(ct, g), _buf("int64_t[]", index), _buf(ct, gw), g.shape[0], g.shape[1], num, pad
    )
    return gw


_sgd_step, _adam_step = _fns("cr_sgd_step"), _fns("cr_adam_step")


def _writable(*arrays) -> bool:
    return _native(*arrays) and all(a.flags.writeable for a in arrays)


def sgd_step(param, grad, buf, lr, momentum, dampening, nesterov):
    if not (_writable(param) and _native(param, grad) and (buf is None or _writable(param, buf))):
        return ref.sgd_step(param, grad, buf, lr, momentum, dampening, nesterov)
    ct = _CTYPE[param.dtype]
    _sgd_step[param.dtype](
        _buf(ct, param), _buf(ct, grad), ffi.NULL if buf is None else _buf(ct, buf),
        param.size, lr, momentum, dampening, bool(nesterov),
    )  # fmt: skip


def adam_step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, bc2_sqrt, eps,
              decay=1.0):  # fmt: skip
    if not (_writable(param, exp_avg, exp_avg_sq) and _native(param, grad)):
        return ref.adam_step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size,
                             bc2_sqrt, eps, decay)  # fmt: skip
    ct = _CTYPE[param.dtype]
    _adam_step[param.dtype](
        _buf(ct, param), _buf(ct, grad), _buf(ct, exp_avg), _buf(ct, exp_avg_sq), param.size,
        beta1, beta2, step_size, bc2_sqrt, eps, decay,
    )  # fmt: skip


# ------------------------------------------------------------ native_pointwise.h kernels

_softplus, _softplus_backward = _fns("cr_softplus"), _fns("cr_softplus_backward")


def softplus(x, beta, threshold):
    if not _native(x):
        return ref.softplus(x, beta, threshold)
    ct = _CTYPE[x.dtype]
    y = np.empty_like(x)
    _softplus[x.dtype](_buf(ct, x), _buf(ct, y), x.size, float(beta), float(threshold))
    return y


def softplus_backward(g, x, beta, threshold):
    if not _native(x, g):
        return ref.softplus_backward(g, x, beta, threshold)
    ct = _CTYPE[x.dtype]
    out = np.empty_like(x)
    _softplus_backward[x.dtype](
        _buf(ct, g), _buf(ct, x), _buf(ct, out), x.size, float(beta), float(threshold)
    )
    return out


_dropout, _dropout_backward = _fns("cr_dropout"), _fns("cr_dropout_backward")


def dropout(x, p, rng):
    # the same stream as the reference: NumPy's random() on PCG64 is one 64-bit draw per
    # element, (r >> 11) * 2**-53; another bit generator: the reference
    if not _native(x) or type(rng.bit_generator) is not np.random.PCG64:
        return ref.dropout(x, p, rng)
    r = rng.bit_generator.random_raw(x.size)
    ct = _CTYPE[x.dtype]
    y, keep = np.empty_like(x), np.empty(x.shape, np.bool_)
    _dropout[x.dtype](
        _buf(ct, x), _buf("uint64_t[]", r), _buf(ct, y), _buf("uint8_t[]", keep.view(np.uint8)),
        x.size, float(p), 1.0 / (1.0 - p),
    )  # fmt: skip
    return y, keep


def dropout_backward(g, keep, p):
    if not _native(g) or not _is(keep, np.bool_, g.shape):
        return ref.dropout_backward(g, keep, p)
    ct = _CTYPE[g.dtype]
    out = np.empty_like(g)
    _dropout_backward[g.dtype](
        _buf(ct, g), _buf("uint8_t[]", keep.view(np.uint8)), _buf(ct, out), g.size,
        1.0 / (1.0 - p),
    )  # fmt: skip
    return out


_masked_fill = _fns("cr_masked_fill")
_F32_EXACT = 2**24  # integers up to this are floats of float32 exactly
_F32_MAX = float(np.finfo(np.float32).max)


def _fill_value(value: Any, dtype: np.dtype) -> float | None:
    """``value`` as the double the C loop casts to ``dtype`` when that cast is NumPy's (no
    rounding of a finite number: NumPy's casts differ from C's in how they warn and round
    through double), else None."""
    if type(value) is float or (
        isinstance(value, np.floating | np.ndarray) and value.dtype == dtype and not value.ndim
    ):
        v = float(value)
        if dtype == _F32 and math.isfinite(v) and (abs(v) > _F32_MAX or float(np.float32(v)) != v):
            return None
        return v
    if type(value) is int and abs(value) <= _F32_EXACT:
        return float(value)
    return None


def masked_fill(x, mask, value):
    v = _fill_value(value, x.dtype) if type(x) is np.ndarray else None
    if (
        v is None
        or not _native(x)
        or type(mask) is not np.ndarray
        or mask.dtype != np.bool_
        or not mask.flags.c_contiguous
        or mask.ndim > x.ndim
        or x.size < 4096
    ):
        return ref.masked_fill(x, mask, value)
    # the mask, over x's dims: leading 1s, then x's own trailing dims (it repeats over rows)
    lead = x.ndim - mask.ndim
    k = lead
    while k < x.ndim and mask.shape[k - lead] == 1 and x.shape[k] != 1:
        k += 1
    if mask.shape[k - lead :] != x.shape[k:]:
        return ref.masked_fill(x, mask, value)
    cols = mask.size
    ct = _CTYPE[x.dtype]
    y = np.empty_like(x)
    _masked_fill[x.dtype](
        _buf(ct, x), _buf("uint8_t[]", mask.view(np.uint8)), _buf(ct, y), x.size // cols, cols, v
    )
    return y


_sm, _sm_backward = _fns("cr_scaled_masked_softmax"), _fns("cr_scaled_masked_softmax_backward")
_SM_COLS = 1024  # native_t.h's CR_SM_COLS


def _mask_rows(x, mask, dim) -> int | None:
    """How many rows of x's last dim the bool mask spans when it repeats over x's leading
    dims (the causal mask over batch and heads) or covers x, else None."""
    if (
        dim != x.ndim - 1
        or not 0 < x.shape[-1] <= _SM_COLS
        or type(mask) is not np.ndarray
        or mask.dtype != np.bool_
        or not mask.flags.c_contiguous
        or not 0 < mask.ndim <= x.ndim
    ):
        return None
    lead = x.ndim - mask.ndim
    k = lead
    while k < x.ndim and mask.shape[k - lead] == 1 and x.shape[k] != 1:
        k += 1
    if k == x.ndim or mask.shape[k - lead :] != x.shape[k:]:
        return None
    return mask.size // x.shape[-1]


def _scale_ok(scale, dtype) -> bool:
    """A Python float NumPy's product casts to ``dtype`` as the C cast does."""
    return type(scale) is float and (dtype == _F64 or not abs(scale) > _F32_MAX)


def scaled_masked_softmax(x, scale, mask, value, dim):
    v = _fill_value(value, x.dtype) if type(x) is np.ndarray else None
    rows = None if v is None or not _native(x) else _mask_rows(x, mask, dim)
    if rows is None or not _scale_ok(scale, x.dtype):  # the native kernels in turn
        return KERNELS["softmax"](masked_fill(np.multiply(x, scale), mask, value), dim)
    ct = _CTYPE[x.dtype]
    y = np.empty_like(x)
    cols = x.shape[-1]
    _sm[x.dtype](
        _buf(ct, x), _buf("uint8_t[]", mask.view(np.uint8)), _buf(ct, y), x.size // cols, cols,
        rows, scale, v,
    )  # fmt: skip
    return y


def scaled_masked_softmax_backward(g, y, mask, scale, dim):
    rows = _mask_rows(y, mask, dim) if _native(y, g) else None
    if rows is None or not _scale_ok(scale, y.dtype):
        d = KERNELS["softmax_backward"](g, y, dim)
        return np.multiply(masked_fill(d, mask, y.dtype.type(0)), scale)
    ct = _CTYPE[y.dtype]
    out = np.empty_like(y)
    cols = y.shape[-1]
    _sm_backward[y.dtype](
        _buf(ct, g), _buf(ct, y), _buf("uint8_t[]", mask.view(np.uint8)), _buf(ct, out),
        y.size // cols, cols, rows, scale,
    )  # fmt: skip
    return out


# ---------------------------------------------------------------- native_loss.h kernels

_cross_entropy, _cross_entropy_backward = (
    _fns("cr_cross_entropy"),
    _fns("cr_cross_entropy_backward"),
)


def _targets_ok(x, t, w) -> bool:
    """(N, C, ...) logits for the C loop, int64 targets (N, ...), weights None or (C,)."""
    if x.ndim < 2 or not x.size or not _native(x):
        return False
    if not _is(t, np.int64, x.shape[:1] + x.shape[2:]):
        return False
    return w is None or _is(w, x.dtype, x.shape[1:2])


def cross_entropy(x, t, w, ignore_index, label_smoothing):
    if not _targets_ok(x, t, w):
        return ref_loss.cross_entropy(x, t, w, ignore_index, label_smoothing)
    ct = _CTYPE[x.dtype]
    n, c = x.shape[:2]
    s = x.size // (n * c)
    logp, loss, wt = np.empty_like(x), np.empty(t.shape, x.dtype), np.empty(t.shape, x.dtype)
    bad = _cross_entropy[x.dtype](
        _buf(ct, x), _buf("int64_t[]", t), _opt(ct, w), _buf(ct, logp), _buf(ct, loss),
        _buf(ct, wt), n, c, s, int(ignore_index), float(label_smoothing),
    )  # fmt: skip
    if bad >= 0:
        raise IndexError(f"Target {t.flat[bad]} is out of bounds.")
    return logp, loss, wt


def cross_entropy_backward(g, logp, t, w, ignore_index, label_smoothing):
    if not _targets_ok(logp, t, w) or not _native(g) or g.shape != t.shape or g.dtype != logp.dtype:
        return ref_loss.cross_entropy_backward(g, logp, t, w, ignore_index, label_smoothing)
    ct = _CTYPE[logp.dtype]
    n, c = logp.shape[:2]
    dx = np.empty_like(logp)
    _cross_entropy_backward[logp.dtype](
        _buf(ct, g), _buf(ct, logp), _buf("int64_t[]", t), _opt(ct, w), _buf(ct, dx), n, c,
        logp.size // (n * c), int(ignore_index), float(label_smoothing),
    )  # fmt: skip
    return dx


# ---------------------------------------------------------------- native_norm.h kernels

_bn_stats, _bn_elemt = _fns("cr_batch_norm_stats"), _fns("cr_batch_norm_elemt")
_bn_backward = _fns("cr_batch_norm_backward")


def _channels(x, *vectors) -> bool:
    """x (N, C, ...) for the C loop; each vector None or (C,) of x's dtype, contiguous."""
    if x.ndim < 2 or not x.size or not _native(x):
        return False
    for v in vectors:
        if v is not None and not _is(v, x.dtype, x.shape[1:2]):
            return False
    return True


def _ncs(x) -> tuple[int, int, int]:
    n, c = x.shape[:2]
    return n, c, x.size // (n * c)


def batch_norm_stats(x):
    if not _channels(x):
        return ref_norm.batch_norm_stats(x)
    ct = _CTYPE[x.dtype]
    mean, var = np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    _bn_stats[x.dtype](_buf(ct, x), _buf(ct, mean), _buf(ct, var), *_ncs(x))
    return mean, var


def batch_norm_elemt(x, mean, rstd, w, b):
    if not _channels(x, mean, rstd, w, b):
        return ref_norm.batch_norm_elemt(x, mean, rstd, w, b)
    ct = _CTYPE[x.dtype]
    y = np.empty_like(x)
    _bn_elemt[x.dtype](
        _buf(ct, x), _buf(ct, mean), _buf(ct, rstd), _opt(ct, w), _opt(ct, b), _buf(ct, y),
        *_ncs(x),
    )  # fmt: skip
    return y


def batch_norm_backward(g, x, mean, rstd, w, training):
    if not _channels(x, mean, rstd, w) or not _native(x, g):
        return ref_norm.batch_norm_backward(g, x, mean, rstd, w, training)
    ct = _CTYPE[x.dtype]
    dx, dw, db = np.empty_like(x), np.empty(x.shape[1], x.dtype), np.empty(x.shape[1], x.dtype)
    _bn_backward[x.dtype](
        _buf(ct, g), _buf(ct, x), _buf(ct, mean), _buf(ct, rstd), _opt(ct, w), _buf(ct, dx),
        _buf(ct, dw), _buf(ct, db), *_ncs(x), bool(training),
    )  # fmt: skip
    return dx, dw, db


_rms_norm, _rms_norm_backward = _fns("cr_rms_norm"), _fns("cr_rms_norm_backward")


def rms_norm(x, w, eps, k):
    if not _affine_ok(x, k, w):
        return ref_norm.rms_norm(x, w, eps, k)
    ct = _CTYPE[x.dtype]
    y, rstd = np.empty_like(x), np.empty(x.shape[: x.ndim - k] + (1,) * k, x.dtype)
    cols = x.size // rstd.size
    _rms_norm[x.dtype](
        _buf(ct, x), _opt(ct, w), _buf(ct, y), _buf(ct, rstd), rstd.size, cols, float(eps)
    )
    return y, rstd


def rms_norm_backward(g, x, rstd, w, k):
    stats = x.shape[: x.ndim - k] + (1,) * k
    if (
        not _affine_ok(x, k, w)
        or not _native(x, g)
        or not _native(rstd)
        or rstd.dtype != x.dtype
        or rstd.shape != stats
    ):
        return ref_norm.rms_norm_backward(g, x, rstd, w, k)
    ct = _CTYPE[x.dtype]
    dx, dw = np.empty_like(x), np.empty(x.shape[x.ndim - k :], x.dtype)
    _rms_norm_backward[x.dtype](
        _buf(ct, g), _buf(ct, x), _buf(ct, rstd), _opt(ct, w), _buf(ct, dx), _buf(ct, dw),
        rstd.size, dw.size,
    )  # fmt: skip
    return dx, dw


_arith = _fns("cr_arith")
_ARITH = {np.add: 0, np.subtract: 1, np.multiply: 2, np.divide: 3}
_EXACT_INT = 1 << 24  # an int scalar NumPy would cast to float32 without rounding


def arith(ufunc: np.ufunc, *arrays: Any) -> np.ndarray:
    """NumPy's ``ufunc(a, b)`` on the kernels' threads (cr_arith) for add, subtract,
    multiply and divide of a float32/float64 C-contiguous array and an array of its dtype
    and shape, a 0-d array of its dtype or a Python number (``b``; ``a`` for add and
    multiply, which commute); any other call: the ufunc itself."""
    op = _ARITH.get(ufunc)
    if op is None or len(arrays) != 2:
        return ufunc(*arrays)
    a, b = arrays
    if type(a) is not np.ndarray and op % 2 == 0:  # 2 + x, 2 * x: x + 2, x * 2
        a, b = b, a
    if type(a) is not np.ndarray or a.dtype not in _CTYPE or not a.flags.c_contiguous:
        return ufunc(*arrays)
    tb = type(b)
    if tb is np.ndarray:
        if b.dtype != a.dtype or not b.flags.c_contiguous:
            return ufunc(*arrays)
        if b.shape == a.shape:
            step = 1
        elif not b.ndim:
            step = 0
        else:
            return ufunc(*arrays)
    elif tb is float or (tb is int and -_EXACT_INT <= b <= _EXACT_INT):
        b, step = np.array(b, a.dtype), 0  # (NumPy's cast of a Python number)
    else:
        return ufunc(*arrays)
    ct = _CTYPE[a.dtype]
    out = np.empty_like(a)
    _arith[a.dtype](op, _buf(ct, a), _buf(ct, b), _buf(ct, out), a.size, step)
    return out


KERNELS = dict(ref.KERNELS)  # anything not written natively: the reference
KERNELS.update(
    arith=arith,
    gelu=gelu,
    gelu_backward=gelu_backward,
    sigmoid=_unary("sigmoid", ref.sigmoid),
    silu=_unary("silu", ref.silu),
    sigmoid_backward=_binary("sigmoid_backward", ref.sigmoid_backward, small=256),
    tanh_backward=_binary("tanh_backward", ref.tanh_backward, small=256),
    silu_backward=_binary("silu_backward", ref.silu_backward),
    softmax=_rows("softmax", ref.softmax),
    log_softmax=_rows("log_softmax", ref.log_softmax),
    softmax_backward=_rows_backward("softmax_backward", ref.softmax_backward),
    log_softmax_backward=_rows_backward("log_softmax_backward", ref.log_softmax_backward),
    im2col=im2col,
    col2im=col2im,
    matmul=matmul,
    addmm=addmm,
    max_pool2d=max_pool2d,
    max_pool2d_backward=max_pool2d_backward,
    avg_pool2d=avg_pool2d,
    avg_pool2d_backward=avg_pool2d_backward,
    layer_norm=layer_norm,
    layer_norm_backward=layer_norm_backward,
    embedding_backward=embedding_backward,
    sgd_step=sgd_step,
    adam_step=adam_step,
    softplus=softplus,
    softplus_backward=softplus_backward,
    relu=_unary("relu", ref.relu),
    relu_backward=_binary("relu_backward", ref.relu_backward, small=256),
    masked_fill=masked_fill,
    dropout=dropout,
    dropout_backward=dropout_backward,
    cross_entropy=cross_entropy,
    cross_entropy_backward=cross_entropy_backward,
    batch_norm_stats=batch_norm_stats,
    batch_norm_elemt=batch_norm_elemt,
    batch_norm_backward=batch_norm_backward,
    rms_norm=rms_norm,
    rms_norm_backward=rms_norm_backward,
    sum_rows=sum_rows,
    scaled_masked_softmax=scaled_masked_softmax,
    scaled_masked_softmax_backward=scaled_masked_softmax_backward,
)
for _name, _fn in KERNELS.items():  # the reference's documentation is the kernel's
    _fn.__doc__ = ref.KERNELS[_name].__doc__

"""ctypes loader for sgemm.c (built on first import into this directory)."""

from __future__ import annotations

import ctypes
import os
import subprocess

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "sgemm.c")
FLAGS = ["-O3", "-fPIC", "-shared", "-fno-strict-aliasing"]


def build(out=None, defines=()):
    out = out or os.path.join(HERE, "libsgemm.so")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(SRC) or defines:
        subprocess.check_call(["gcc", *FLAGS, *[f"-D{d}" for d in defines], SRC, "-o", out])
    return out


def load(path=None, defines=()):
    lib = ctypes.CDLL(build(path, defines))
    i64, ptr, i = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
    lib.sgemm.argtypes = [i, i, i64, i64, i64, ptr, i64, ptr, i64, ctypes.c_float, ptr, i64]
    lib.sgemm.restype = None
    lib.sgemm_batched.argtypes = [
        i64,
        i,
        i,
        i64,
        i64,
        i64,
        ptr,
        i64,
        i64,
        ptr,
        i64,
        i64,
        ctypes.c_float,
        ptr,
        i64,
        i64,
    ]
    lib.sgemm_batched.restype = None
    lib.sgemm_available.restype = ctypes.c_int
    assert lib.sgemm_available()
    return lib


def _layout(x):
    """(transposed flag, leading dimension) of a 2-D float32 array."""
    s0, s1 = x.strides
    if s1 == 4:
        return 0, s0 // 4
    assert s0 == 4, x.strides
    return 1, s1 // 4


def matmul_fn(lib, a, b, out=None, beta=0.0):
    """A callable computing a @ b into out with lib.sgemm (2-D) or sgemm_batched (3-D)."""
    if a.ndim == 3:
        bt, m, k = a.shape
        n = b.shape[2]
        assert a.flags.c_contiguous and b.flags.c_contiguous
        c = np.empty((bt, m, n), np.float32) if out is None else out
        args = (
            bt,
            0,
            0,
            m,
            n,
            k,
            a.ctypes.data,
            k,
            m * k,
            b.ctypes.data,
            n,
            k * n,
            beta,
            c.ctypes.data,
            n,
            m * n,
        )
        f = lib.sgemm_batched
        return (lambda keep=(a, b, c): f(*args)), c
    m, k = a.shape
    n = b.shape[1]
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    c = np.empty((m, n), np.float32) if out is None else out
    args = (ta, tb, m, n, k, a.ctypes.data, lda, b.ctypes.data, ldb, beta, c.ctypes.data, n)
    f = lib.sgemm
    return (lambda keep=(a, b, c): f(*args)), c


def matmul_alloc_fn(lib, a, b):
    """Like matmul_fn, but a new output array each call (as np.matmul and torch.matmul)."""
    if a.ndim == 3:
        bt, m, k = a.shape
        n = b.shape[2]
        f = lib.sgemm_batched
        pa, pb = a.ctypes.data, b.ctypes.data

        def run(keep=(a, b)):
            c = np.empty((bt, m, n), np.float32)
            f(bt, 0, 0, m, n, k, pa, k, m * k, pb, n, k * n, 0.0, c.ctypes.data, n, m * n)
            return c

        return run
    m, k = a.shape
    n = b.shape[1]
    ta, lda = _layout(a)
    tb, ldb = _layout(b)
    f = lib.sgemm
    pa, pb = a.ctypes.data, b.ctypes.data

    def run(keep=(a, b)):
        c = np.empty((m, n), np.float32)
        f(ta, tb, m, n, k, pa, lda, pb, ldb, 0.0, c.ctypes.data, n)
        return c

    return run

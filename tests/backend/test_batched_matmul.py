"""The native batched product (native_gemm.h): a stack of matrix products split over the
kernels' threads, each pair one call of the GEMM NumPy's matmul calls. Its results are
NumPy's matmul's bits on one BLAS thread, whatever the layout of the operands (row- or
column-major matrices, broadcast and reversed batch dims) and the thread count; what it does
not take (NumPy's special cases and errors, a matrix times its own transpose, strides BLAS
cannot read, other dtypes, small stacks, one thread) is NumPy's matmul itself; the BLAS's
thread count is left as it was; the ops that use it (matmul, conv) match torch. A 2-d
product with few rows or a short inner dim is split by rows the same way (a Linear's
gradients with 10 outputs), and matches a float64 product."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.backend import TABLES, native, threads

NATIVE = TABLES["native"]["matmul"]


@pytest.fixture
def restore_threads():
    before = cr.get_num_threads()
    yield
    cr.set_num_threads(before)


def _spy(monkeypatch, table: str) -> list:
    """The calls (dtype names) of the C kernels in native's ``table`` (dtype -> function),
    counted while they still run."""
    seen = []
    kernels = dict(getattr(native, table))

    def spy(dtype):
        def call(*args):
            seen.append(dtype.name)
            return kernels[dtype](*args)

        return call

    monkeypatch.setattr(native, table, {d: spy(d) for d in kernels})
    return seen


@pytest.fixture
def calls(monkeypatch):
    """The batched product's C calls."""
    return _spy(monkeypatch, "_bmm")


def _x(shape, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) / 4).astype(dtype)


def _layouts(dtype):
    """(name, a, b): stacks worth the threads, in the layouts NumPy hands BLAS directly."""
    qkv = _x((8, 64, 3, 4, 32), dtype)
    q, k, v = (qkv[:, :, i].transpose(0, 2, 1, 3) for i in range(3))  # (B, H, T, hs) views
    att = _x((8, 4, 64, 64), dtype, 1)
    cols = _x((9, 64, 784), dtype, 2)
    return [
        ("q @ kT", q, k.swapaxes(-1, -2)),
        ("att @ v", att, v),
        ("column-major a", _x((8, 4, 32, 64), dtype, 3).swapaxes(-1, -2), v.swapaxes(-1, -2)),
        ("2-d a broadcast", _x((16, 9), dtype, 4), cols.transpose(1, 0, 2)),
        ("2-d b broadcast", cols.transpose(1, 2, 0), _x((9, 16), dtype, 5)),
        ("size-1 batch dims", _x((8, 1, 64, 48), dtype, 6), _x((1, 5, 48, 40), dtype, 7)),
        ("reversed batch", att[::-1, :, :, :], v[:, ::-1]),
        ("padded rows", _x((16, 40, 80), dtype, 8)[:, :, :64], _x((16, 64, 70), dtype, 9)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_native_stack_is_numpys_bits_on_any_thread_count(restore_threads, calls, dtype):
    for name, a, b in _layouts(dtype):
        cr.set_num_threads(1)  # NumPy's loop, one BLAS thread: the same calls in turn
        want = np.matmul(a, b)
        for n in (2, 3):
            cr.set_num_threads(n)
            before = len(calls)
            got = NATIVE(a, b)
            assert len(calls) == before + 1, f"{name}: the C kernel did not run"
            assert got.shape == want.shape and got.dtype == want.dtype, name
            assert got.flags.c_contiguous, name
            assert got.tobytes() == want.tobytes(), f"{name} on {n} threads"


def test_the_blas_thread_count_is_left_as_it_was(restore_threads):
    gemm = threads.numpy_gemm()
    if gemm is None or not gemm.get_threads:
        pytest.skip("NumPy's BLAS exports no thread count")  # not NumPy's wheels
    import ctypes

    get = ctypes.CFUNCTYPE(ctypes.c_int)(gemm.get_threads)
    cr.set_num_threads(3)
    NATIVE(*_layouts(np.float32)[0][1:])
    assert get() == 3


def test_numpys_own_cases_stay_numpys(restore_threads, calls):
    """Cases the C kernel does not take give NumPy's matmul's results and errors."""
    cr.set_num_threads(2)
    h = _x((16, 64, 64))
    bad = np.repeat(_x((16, 64, 64))[..., None], 2, -1)[..., 0]  # strides BLAS cannot read
    cases = [
        (h, h.swapaxes(-1, -2)),  # a matrix times its own transpose: NumPy's syrk
        (h, bad),
        (_x((64, 1, 64)), _x((64, 64, 64))),  # a dim of 1: NumPy's gemv
        (_x((64, 64, 1)), _x((64, 1, 64))),  # column times row: NumPy's own loop
        (_x((2, 8, 8)), _x((2, 8, 8))),  # too small to split
        (_x((300, 300)), _x((300, 300))),  # one pair: BLAS's own threads
        (_x((64, 64, 64)).astype(np.int64), _x((64, 64, 64)).astype(np.int64)),
        (h, h.astype(np.float64)),
        (h[0], _x(64)),
    ]
    for a, b in cases:
        assert np.array_equal(NATIVE(a, b), np.matmul(a, b))
    assert calls == []
    for a, b in [(_x((4, 64, 32)), _x((4, 16, 64))), (_x((3, 64, 64)), _x((4, 64, 64)))]:
        with pytest.raises(ValueError) as ours:
            NATIVE(a, b)
        with pytest.raises(ValueError) as theirs:
            np.matmul(a, b)
        assert str(ours.value) == str(theirs.value)
    cr.set_num_threads(1)
    NATIVE(*_layouts(np.float32)[0][1:])
    assert calls == [], "one thread: NumPy's loop"


@pytest.mark.parametrize("threads_n", [1, 2])
def test_attention_and_conv_through_the_kernel_match_torch(restore_threads, threads_n):
    """matmul's forward and backward on per-head stacks and a convolution's per-sample
    products and weight gradient, against torch on the same values."""
    cr.set_num_threads(threads_n)
    q, k = _x((8, 4, 64, 32), seed=1), _x((8, 4, 64, 32), seed=2)
    x, w = _x((64, 1, 28, 28), seed=3), _x((16, 1, 3, 3), seed=4)
    ours = [cr.tensor(a, requires_grad=True) for a in (q, k, x, w)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (q, k, x, w)]
    for lib, (tq, tk, tx, tw) in ((cr, ours), (torch, theirs)):
        att = (tq @ tk.transpose(-2, -1)).softmax(-1) @ tk
        y = lib.nn.functional.conv2d(tx, tw, padding=1)
        (att.square().sum() + y.square().sum()).backward()
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.fixture
def row_calls(monkeypatch):
    """The row-split 2-d product's C calls."""
    return _spy(monkeypatch, "_mm_rows_fns")


def _small_dim_products(dtype):
    """(name, a, b): 2-d products with few rows or a short inner dim, in the layouts a
    Linear's forward and backward hand the BLAS (a transposed operand a view)."""
    g, x = _x((256, 10), dtype, 1), _x((256, 512), dtype, 2)
    w = _x((10, 512), dtype, 3)
    return [
        ("g @ W (inner dim 10)", g, w),
        ("gᵀ @ x (10 rows)", g.T, x),
        ("x @ Wᵀ (inner dim 16)", _x((4096, 16), dtype, 4), _x((512, 16), dtype, 5).T),
        ("odd rows (7 over the threads)", _x((7, 3000), dtype, 6), _x((3000, 64), dtype, 7)),
        ("column-major b", _x((300, 24), dtype, 8), _x((200, 24), dtype, 9).T),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_threads", [2, 3])
def test_small_dim_products_split_by_rows_on_the_threads(restore_threads, row_calls, dtype,
                                                         n_threads):  # fmt: skip
    """A 2-d product with few rows or a short inner dim runs as one single-threaded GEMM
    per thread over a range of rows; matmul and addmm (with its bias) give the product."""
    cr.set_num_threads(n_threads)
    tol = dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for name, a, b in _small_dim_products(dtype):
        want = a.astype(np.float64) @ b.astype(np.float64)
        before = len(row_calls)
        got = NATIVE(a, b)
        assert len(row_calls) == before + 1, f"{name}: the row split did not run"
        assert got.shape == want.shape and got.dtype == dtype and got.flags.c_contiguous
        np.testing.assert_allclose(got, want, **tol, err_msg=name)
        bias = _x((b.shape[1],), dtype, 10)
        got = TABLES["native"]["addmm"](bias, a, b)
        assert len(row_calls) == before + 2, f"{name}: addmm's row split did not run"
        np.testing.assert_allclose(got, want + bias, **tol, err_msg=name)


def test_other_2d_products_are_numpys(restore_threads, row_calls):
    """Large products (OpenBLAS threads them itself), one thread, a matrix times its own
    transpose (NumPy's syrk) and NumPy's special cases stay NumPy's matmul."""
    cr.set_num_threads(2)
    h = _x((300, 20))
    cases = [(_x((300, 300)), _x((300, 300))), (h, h.T), (_x((1, 20)), _x((20, 300))),
             (_x((300, 20)), _x((20, 1))), (_x((30, 10)), _x((10, 20)))]  # fmt: skip
    for a, b in cases:
        assert np.array_equal(NATIVE(a, b), np.matmul(a, b))
    cr.set_num_threads(1)
    NATIVE(*_small_dim_products(np.float32)[0][1:])
    assert row_calls == []


@pytest.mark.parametrize("n_threads", [1, 2])
def test_a_linear_with_ten_outputs_matches_torch(restore_threads, n_threads):
    """W1's last layer (512 -> 10 on a batch of 256): forward, and the weight, bias and
    input gradients through the row-split products, against torch."""
    cr.set_num_threads(n_threads)
    x, w, b = _x((256, 512), seed=1), _x((10, 512), seed=2), _x((10,), seed=3)
    ours = [cr.tensor(v, requires_grad=True) for v in (x, w, b)]
    theirs = [torch.tensor(v, requires_grad=True) for v in (x, w, b)]
    for lib, (tx, tw, tb) in ((cr, ours), (torch, theirs)):
        lib.nn.functional.linear(tx, tw, tb).square().sum().backward()
    for a, c in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-4, atol=1e-5)

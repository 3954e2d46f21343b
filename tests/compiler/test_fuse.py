"""Fused elementwise loops: bit-identical where the ops are exact (+ - * / neg relu), within
float tolerance with the C library's tanh; compiled once and cached on disk; with no
compiler the program replays its kernels (bit-identical)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

import chainrule as cr
from chainrule import compiler
from chainrule.compiler import _fuse
from chainrule.compiler._program import FUSED

pytestmark = pytest.mark.skipif(not _fuse.compiler_available(), reason="no C compiler/cffi")


def same(a, b) -> bool:
    a, b = a.detach().numpy(), b.detach().numpy()
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def fused(cf) -> int:
    return sum(1 for ins in cf.entries[0].program.code if ins[0] == FUSED)


def exact_step(x, a, m, s):
    y = x
    for i in range(40):
        k = i % 6
        if k == 0:
            y = y + a
        elif k == 1:
            y = y * m
        elif k == 2:
            y = 0.75 - y  # rsub with a Python number
        elif k == 3:
            y = y / (m + 3.0)
        elif k == 4:
            y = -y * s  # s: a one-element tensor, broadcast
        else:
            y = y - a * 0.5
    y.sum().backward()
    return y


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_exact_ops_bit_identical(dtype):
    cr.manual_seed(0)
    x = cr.randn(33, dtype=dtype, requires_grad=True)
    a, m = cr.randn(33, dtype=dtype), cr.rand(33, dtype=dtype)
    s = cr.tensor([1.25], dtype=dtype, requires_grad=True)
    c = cr.compile(exact_step)
    for _ in range(3):
        x.grad = s.grad = None
        got = c(x, a, m, s)
        gx, gs = x.grad, s.grad
        x.grad = s.grad = None
        want = exact_step(x, a, m, s)
        assert same(got, want) and same(gx, x.grad) and same(gs, s.grad)
    assert fused(c) >= 2  # forward and backward loops
    assert got._data.base is None or got._data.flags.owndata  # copied out of the scratch


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_relu_fused_bit_identical(dtype):
    """relu(x * w + b) and friends: relu in a fused run is NumPy's maximum(x, 0) bit for
    bit, nan (with its sign), -0, +-inf included; its gradient (outside the run) reads the
    run's stored result."""
    cr.manual_seed(2)
    x = cr.randn(257, dtype=dtype)
    x[:6] = cr.tensor([float("nan"), -float("nan"), -0.0, 0.0, float("inf"), -float("inf")],
                      dtype=dtype)  # fmt: skip
    x.requires_grad_()
    w, b = cr.randn(257, dtype=dtype), cr.randn(257, dtype=dtype)

    def step(x):
        y = cr.relu(x * w + b)
        y = cr.relu(-y * 0.5 + x) - b
        z = cr.relu(x) + cr.relu(-x)  # nan, -0, inf through relu itself
        (y * y + z).sum().backward()
        return y, z

    c = cr.compile(step)
    for _ in range(3):
        x.grad = None
        got = c(x)
        g = x.grad
        x.grad = None
        want = step(x)
        assert all(same(u, v) for u, v in zip(got, want))  # -nan through relu: its bits
        # (the gradient's nans: two nan operands of a * b give either one's sign, and the C
        # compiler may commute them; every other element bit for bit)
        g, h = g.numpy(), x.grad.numpy()
        nan = np.isnan(h)
        assert (np.isnan(g) == nan).all() and g[~nan].tobytes() == h[~nan].tobytes()
    assert fused(c) >= 1
    kinds = [ins[1].__name__ for ins in c.entries[0].program.code if ins[0] == 0]
    assert "Relu" not in kinds  # every relu went into a loop


def test_tanh_within_tolerance():
    cr.manual_seed(1)
    x = cr.randn(64, requires_grad=True)
    a, m = cr.randn(64), cr.randn(64)

    def step(x):
        y = x
        for _ in range(50):
            y = cr.tanh(y * m + a)
        y.sum().backward()
        return y

    c = cr.compile(step)
    c(x)
    x.grad = None
    got = c(x)
    g = x.grad
    x.grad = None
    want = step(x)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(g.numpy(), x.grad.numpy(), rtol=1e-4, atol=1e-6)
    assert fused(c) >= 1


def test_no_compiler_replays_kernels(monkeypatch):
    monkeypatch.setenv("CHAINRULE_FUSE", "0")
    cr.manual_seed(2)
    x = cr.randn(8, requires_grad=True)
    a, m = cr.randn(8), cr.randn(8)

    def step(x):
        y = cr.tanh(x * m + a) * m
        y.sum().backward()
        return y

    c = cr.compile(step)
    c(x)
    x.grad = None
    got = c(x)
    g = x.grad
    x.grad = None
    assert same(got, step(x)) and same(g, x.grad)
    assert fused(c) == 0


def test_cached_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    x, a = cr.ones(5), cr.arange(5.0)

    def f(x):
        return (x + a) * a - x

    c = cr.compile(f)
    c(x)
    libs = sorted(tmp_path.glob("*.so"))
    assert len(libs) == 1 and fused(c) == 1
    compiler.reset()

    def refuse(*args, **kwargs):
        raise AssertionError("compiled again")

    monkeypatch.setattr(subprocess, "run", refuse)
    c(x)  # traced again, the same graph: loaded from the cache
    assert same(c(x), f(x)) and sorted(tmp_path.glob("*.so")) == libs


def test_broken_compiler_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("CHAINRULE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("CC", "false")
    monkeypatch.setattr(_fuse, "_cc", lambda: "/bin/false")
    x, a = cr.ones(5), cr.arange(5.0)

    def f(x):
        return (x + a) * a - x * 0.5

    c = cr.compile(f)
    c(x)
    assert same(c(x), f(x)) and fused(c) == 0


def attention_step(x, w, mask, scale):
    """W6's attention elementwise pieces: a scaled score, masked_fill with a mask broadcast
    along leading dims (a comparison between the two kernels: moved before the loop), its
    backward (masked_fill with 0, then the scale). Into exp, not softmax: followed by a
    softmax the three kernels are one kernel of their own (test_rewrite.py)."""
    att = (x * w) * scale
    att = att.masked_fill(mask == 0, float("-inf"))
    out = att.exp()
    (out * w).sum().backward()
    return out


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize("mask_shape", [(1, 1, 6, 6), (6, 6), (2, 3, 6, 6)])
def test_masked_fill_fused_bit_identical(dtype, mask_shape):
    cr.manual_seed(2)
    x1 = cr.randn(2, 3, 6, 6, dtype=dtype, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    w = cr.randn(2, 3, 6, 6, dtype=dtype)
    with cr.no_grad():
        w[0, 0, 0, :2] = -0.0  # -0 through the product, the fill and the scale
        w[1, 1, 1, 1] = float("nan")
    mask = cr.tril(cr.ones(6, 6)).expand(*mask_shape).contiguous()
    c = cr.compile(attention_step)
    for _ in range(3):
        x1.grad = x2.grad = None
        assert same(c(x1, w, mask, 0.375), attention_step(x2, w, mask, 0.375))
        assert same(x1.grad, x2.grad)
    assert c.traces == 1 and c.entries[0].program is not None, c.entries[0].reason
    assert fused(c) == 2  # forward: scale, fill; backward: fill, scale
    srcs = [ins[3] for ins in c.entries[0].program.code if ins[0] == FUSED]
    assert all("INFINITY" in s or "0x0.0p+0" in s for s in srcs)
    kinds = [ins[1].__name__ for ins in c.entries[0].program.code if ins[0] == 0]
    assert "MaskedFill" not in kinds


def test_fill_value_nan_and_strided_mask_are_left_to_numpy():
    """A nan literal (its bits are NumPy's business) and a mask that is not a
    C-contiguous block are not fused; the replay is still eager's."""
    x = cr.randn(4, 5)
    m = cr.rand(5, 4).T > 0.5  # a transposed (strided) mask

    def f(x):
        return (x * 2.0).masked_fill(m, float("nan")) * 3.0, (x * 2.0).masked_fill(m, 1.0) * 3.0

    c = cr.compile(f)
    for _ in range(2):
        for got, want in zip(c(x), f(x)):
            assert same(got, want)
    assert c.entries[0].program is not None, c.entries[0].reason
    kinds = [ins[1].__name__ for ins in c.entries[0].program.code if ins[0] == 0]
    assert kinds.count("MaskedFill") == 2


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_inputs_broadcast_along_leading_dims(dtype):
    """A bias (6,) and a (5, 6) table broadcast to (4, 5, 6) are read in the loop (one
    size: an inner loop; two sizes: by remainder), bit-identical."""
    cr.manual_seed(3)
    x = cr.randn(4, 5, 6, dtype=dtype)
    b, t = cr.randn(6, dtype=dtype), cr.randn(5, 6, dtype=dtype)

    def one(x):
        return (x + b) * b - 1.5

    def two(x):
        return (x + b) * t - b

    for fn in (one, two):
        c = cr.compile(fn)
        for _ in range(2):
            assert same(c(x), fn(x))
        assert fused(c) == 1
        src = next(ins[3] for ins in c.entries[0].program.code if ins[0] == FUSED)
        assert ("% 30" in src) == (fn is two) and ("% 6" in src) == (fn is two)


def test_loop_output_read_broadcast_by_a_later_loop():
    """A value one loop makes and only a later loop reads, broadcast: handed over by
    pointer (it is in Python's registers), bit-identical."""
    x, b = cr.randn(4, 6), cr.randn(6)

    def f(x, b):
        c = b * 2.0 + 1.0  # a (6,) loop
        return (x + c) * 3.0  # a (4, 6) loop reading c broadcast

    comp = cr.compile(f)
    for _ in range(2):
        assert same(comp(x, b), f(x, b))
    assert fused(comp) == 2


@pytest.mark.parametrize(
    "loss",
    [
        lambda x, y: ((x + y) * (x + y)).sum(),  # a product of two fused intermediates
        lambda x, y: (lambda z: (z * z).sum())((x + y) * y - y / 3.0),
        lambda x, y: (lambda z: (z * z).sum())(x - y),
    ],
)
def test_a_fused_value_the_later_backward_reads_is_kept(loss):
    """A compiled call whose graph is left for the caller's backward: the intermediates
    a fused loop computes and that backward reads (Mul saves its operands) are stored by
    the loop; they were dropped, and the second call's backward read None."""
    import torch

    rng = np.random.default_rng(5)
    xv, yv = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    x, y = cr.tensor(xv, requires_grad=True), cr.tensor(yv)
    cf = cr.compile(loss)
    for _ in range(3):  # the trace, then replays
        x.grad = None
        out = cf(x, y)
        out.backward()
    assert fused(cf) >= 1
    tx = torch.tensor(xv, requires_grad=True)
    want = loss(tx, torch.tensor(yv))
    want.backward()
    np.testing.assert_allclose(out.item(), want.item(), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_a_loop_of_values_nothing_reads_runs_without_a_scratch_buffer():
    """Two fusable ops whose results nothing reads make a loop that stores nothing, in a
    program with no other loop: its replay had no scratch buffer to pass and raised."""
    rng = np.random.default_rng(13)
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    y = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)

    def f(x, y):
        v2 = x.t().contiguous().t()
        x * x.mean(dim=0)  # noqa: B018 (unused: the dead values the loop computes)
        y - x  # noqa: B018
        return (v2 - x).sum() + (v2 * 2).sum()

    cf = cr.compile(f)
    for _ in range(3):
        x.grad = None
        out = cf(x, y)
        out.backward()
    assert fused(cf) == 1
    x.grad = None
    want = f(x, y)
    want.backward()
    assert out.item() == want.item()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((3, 4), 2.0))

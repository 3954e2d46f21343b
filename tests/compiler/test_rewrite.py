"""Program rewrites (compiler/_rewrite.py): the gradient of a split / of disjoint narrows
summed in one pass (SliceSum) gives eager's bits, -0 and nan included; pieces that
overlap are left to the eager sum; the replay's kernels are the rewritten ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.compiler._rewrite import SliceSum


def same(a, b) -> bool:
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else a
    b = b.detach().numpy() if isinstance(b, cr.Tensor) else b
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def kinds(cf) -> list:
    return [ins[1].__name__ for ins in cf.entries[0].program.code if ins[0] == 0]


def _weights(dtype):
    w = np.linspace(-2, 2, 5 * 12).reshape(5, 12)
    w[0, :3] = -0.0  # a -0 product: -0 in the piece's gradient, +0 in the sum
    w[1, 6] = np.nan
    w[2, 9] = np.inf
    return cr.tensor(w, dtype=dtype)


def split_step(x, w):
    q, k, v = x.split(4, dim=1)
    loss = (q * w[:, :4]).sum() + (k * w[:, 4:8]).sum() * 2.0 + (v * w[:, 8:]).sum()
    loss.backward()
    return loss


def narrow_step(x, w):  # disjoint pieces with a gap: zeros where no piece lands
    a, b = x.narrow(1, 0, 3), x.narrow(1, 5, 4)
    loss = (a * w[:, :3]).sum() + (b * w[:, 5:9]).sum()
    loss.backward()
    return loss


def overlap_step(x, w):  # overlapping pieces: a real sum, not rewritten
    a, b = x.narrow(1, 0, 6), x.narrow(1, 4, 6)
    loss = (a * w[:, :6]).sum() + (b * w[:, 4:10]).sum()
    loss.backward()
    return loss


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize(
    "fn, rewritten", [(split_step, True), (narrow_step, True), (overlap_step, False)]
)
def test_slice_gradients_summed_in_one_pass(fn, rewritten, dtype):
    cr.manual_seed(0)
    w = _weights(dtype)
    x1 = cr.randn(5, 12, dtype=dtype, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    c = cr.compile(fn)
    for _ in range(3):
        x1.grad = x2.grad = None
        assert same(c(x1, w), fn(x2, w))
        assert same(x1.grad, x2.grad)
    assert c.traces == 1 and c.entries[0].program is not None, c.entries[0].reason
    g = x1.grad.numpy()
    if fn is not overlap_step:
        assert np.isnan(g).any() and not np.signbit(g[g == 0]).any()  # (-0 became +0)
    assert ("SliceSum" in kinds(c)) == rewritten
    assert ("SliceAdjoint" in kinds(c)) != rewritten
    # the oracle: torch's gradient, the same values (the sign of a zero aside: torch's
    # SplitBackward0 concatenates, so a piece's -0 stays -0 there; eager chainrule sums)
    tx = torch.tensor(x2.detach().numpy(), requires_grad=True)
    tw = torch.tensor(w.numpy())
    fn(tx, tw)
    np.testing.assert_array_equal(g, tx.grad.numpy())


def test_slice_sum_kernel():
    """The kernel alone: g + 0 into each piece (-0 -> +0, nan kept), zeros elsewhere."""
    g1 = np.array([[-0.0, 1.5], [np.nan, -2.0]], np.float32)
    g2 = np.array([[3.0], [-0.0]], np.float32)
    ix1, ix2 = (slice(None), slice(0, 2)), (slice(None), slice(3, 4))
    out = object.__new__(SliceSum).forward(
        g1, g2, shape=(2, 5), indexes=(ix1, ix2), covered=False
    )  # fmt: skip
    want = np.zeros((2, 5), np.float32)
    want[ix1] += g1  # (eager: zeros with the piece, added to zeros)
    want2 = np.zeros((2, 5), np.float32)
    want2[ix2] = g2
    want = want + want2
    assert same(out, want) and out.flags.c_contiguous


# ----------------------------------------------------------- attention's scores in one kernel


@pytest.fixture(params=["numpy", "native"])
def kernels(request):
    """Both kernel tables: the rewrite's kernel composes the active table's kernels."""
    from chainrule import backend

    before = backend.active()
    backend.use(request.param)
    yield request.param
    backend.use(before)


def _scores(scale=0.25, fill=float("-inf"), full_mask=False, leak=False):
    t = 12
    causal = cr.tril(cr.ones(t, t)).view(1, 1, t, t)
    keep = cr.tensor((np.arange(2 * 3 * t * t).reshape(2, 3, t, t) % 5 != 1).astype(np.float32))

    def step(q, k, w):
        att = (q @ k.transpose(-2, -1)) * scale
        mask = keep == 0 if full_mask else causal[:, :, :t, :t] == 0
        masked = att.masked_fill(mask, fill)
        p = F.softmax(masked, dim=-1)
        loss = (p * w).sum()
        loss.backward()
        return (loss, p, masked) if leak else (loss, p)

    return step


F = cr.nn.functional


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
@pytest.mark.parametrize(
    "kw",
    [{}, {"scale": -0.5, "fill": -1e4}, {"full_mask": True}],
    ids=["causal", "negative-scale", "full-mask"],
)
def test_attention_scores_in_one_kernel(kernels, kw, dtype):
    """``att * scale``, masked_fill, softmax (and the three kernels of their gradient) run
    as one kernel each, with eager's bits on either kernel table, and torch's values."""
    cr.manual_seed(0)
    step = _scores(**kw)
    q1 = cr.randn(2, 3, 12, 8, dtype=dtype, requires_grad=True)
    k1 = cr.randn(2, 3, 12, 8, dtype=dtype, requires_grad=True)
    w = cr.randn(2, 3, 12, 12, dtype=dtype)
    q2, k2 = (t.detach().clone().requires_grad_() for t in (q1, k1))
    c = cr.compile(step)
    for _ in range(3):
        q1.grad = k1.grad = q2.grad = k2.grad = None
        (l1, p1), (l2, p2) = c(q1, k1, w), step(q2, k2, w)
        assert same(l1, l2) and same(p1, p2)
        assert same(q1.grad, q2.grad) and same(k1.grad, k2.grad)
    assert c.traces == 1 and c.entries[0].program is not None, c.entries[0].reason
    names = kinds(c)
    assert "ScaledMaskedSoftmax" in names and "ScaledMaskedSoftmaxBackward" in names
    assert not {"Softmax", "SoftmaxBackward", "MaskedFill"} & set(names)
    # the oracle: torch on the same values
    tq, tk = (torch.tensor(t.detach().numpy(), requires_grad=True) for t in (q2, k2))
    tw = torch.tensor(w.numpy())
    t = 12
    att = tq @ tk.transpose(-2, -1)
    s, fill = kw.get("scale", 0.25), kw.get("fill", float("-inf"))
    att = att * s
    if kw.get("full_mask"):
        mask = torch.tensor(np.arange(2 * 3 * t * t).reshape(2, 3, t, t) % 5 == 1)
    else:
        mask = torch.tril(torch.ones(t, t)).view(1, 1, t, t) == 0
    tp = torch.softmax(att.masked_fill(mask, fill), -1)
    (tp * tw).sum().backward()
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == cr.float32 else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(p1.detach().numpy(), tp.detach().numpy(), **tol)
    np.testing.assert_allclose(q1.grad.numpy(), tq.grad.numpy(), **tol)
    np.testing.assert_allclose(k1.grad.numpy(), tk.grad.numpy(), **tol)


def test_attention_scores_read_elsewhere_are_left_alone(kernels):
    """The masked scores read after the call too: the three kernels stay as they are."""
    cr.manual_seed(0)
    step = _scores(leak=True)
    q1 = cr.randn(2, 3, 12, 8, requires_grad=True)
    k1 = cr.randn(2, 3, 12, 8, requires_grad=True)
    w = cr.randn(2, 3, 12, 12)
    q2, k2 = (t.detach().clone().requires_grad_() for t in (q1, k1))
    c = cr.compile(step)
    for _ in range(2):
        q1.grad = k1.grad = q2.grad = k2.grad = None
        (l1, p1, m1), (l2, p2, m2) = c(q1, k1, w), step(q2, k2, w)
        assert same(l1, l2) and same(p1, p2) and same(m1, m2) and same(q1.grad, q2.grad)
    assert c.entries[0].program is not None, c.entries[0].reason
    names = kinds(c)
    assert "Softmax" in names and "ScaledMaskedSoftmax" not in names

"""Gradients with inf and nan (issue 10, #12): rules that mask or select give torch's
result elementwise, for upstream gradients containing inf, -inf, nan and ±0 at masked and
unmasked positions and for inputs containing nan (torch's formulas: ``grad * mask`` where
torch multiplies, so inf·0 is nan; ``where`` where torch selects, so a masked inf is 0)."""

import numpy as np
import pytest
import torch

import chainrule as cr

INF, NAN = float("inf"), float("nan")
XS = [INF, -INF, NAN, 0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 6.0, 7.0, 25.0, -25.0]
GS = [INF, -INF, NAN, 0.0, -0.0, 1.0, -2.0]


def grid(*axes):
    return [np.array(v, dtype=np.float32) for v in np.meshgrid(*axes, indexing="ij")]


def same(ours, theirs, what, signs=True):
    a, b = np.asarray(ours.numpy()), theirs.numpy()
    assert a.shape == b.shape, what
    finite = np.isfinite(b)
    np.testing.assert_array_equal(a[~finite], b[~finite], err_msg=what)  # nan and inf as torch
    np.testing.assert_allclose(a[finite], b[finite], rtol=1e-4, atol=1e-30, err_msg=what)
    if not signs:
        return
    zero = b == 0
    np.testing.assert_array_equal(np.signbit(a[zero]), np.signbit(b[zero]), err_msg=what)


def run(fn, arrays, signs=True):
    """Gradients of ``fn(m, *tensors)`` under chainrule and torch for every upstream gradient
    value in ``g_values``."""
    for gv in GS:
        for create_graph in (False, True):  # the plain rules and the recorded (graph) ones
            results = []
            for m in (cr, torch):
                ts = [m.tensor(a, requires_grad=True) for a in arrays]
                y = fn(m, *ts)
                g = m.full(tuple(y.shape), gv)
                grads = m.autograd.grad(y, ts, g, allow_unused=True, create_graph=create_graph)
                results.append([None if v is None else v.detach() for v in grads])
            for i, (ours, theirs) in enumerate(zip(*results)):
                if theirs is None:
                    assert ours is None or not np.asarray(ours.numpy()).any()
                    continue
                what = f"input {i}, upstream {gv}, create_graph={create_graph}"
                same(ours, theirs, what, signs)


F = {"cr": cr.nn.functional, "torch": torch.nn.functional}


def f(m):
    return F["cr" if m is cr else "torch"]


UNARY = {
    "clamp": lambda m, x: x.clamp(-1, 1),
    "clamp_min": lambda m, x: x.clamp_min(0.5),
    "clamp_max": lambda m, x: x.clamp_max(0.5),
    "clamp_lo": lambda m, x: x.clamp(min=-1),
    "clamp_hi": lambda m, x: x.clamp(max=1),
    "clamp_inverted": lambda m, x: x.clamp(2, 1),
    "relu": lambda m, x: x.relu(),
    "F.relu": lambda m, x: f(m).relu(x),
    "relu6": lambda m, x: f(m).relu6(x),
    "leaky_relu": lambda m, x: f(m).leaky_relu(x, 0.1),
    "hardtanh": lambda m, x: f(m).hardtanh(x),
    "elu": lambda m, x: f(m).elu(x),
    "softplus": lambda m, x: f(m).softplus(x),
    "softplus_beta": lambda m, x: f(m).softplus(x, beta=2.0, threshold=5.0),
    "silu": lambda m, x: f(m).silu(x),
    "gelu": lambda m, x: f(m).gelu(x),
    "gelu_tanh": lambda m, x: f(m).gelu(x, approximate="tanh"),
    "mish": lambda m, x: f(m).mish(x),
    "sigmoid": lambda m, x: x.sigmoid(),
    "tanh": lambda m, x: x.tanh(),
    "abs": lambda m, x: x.abs(),
    "sign": lambda m, x: x.sign(),
}


@pytest.mark.parametrize("name", list(UNARY))
def test_unary(name):
    run(UNARY[name], [np.array(XS, dtype=np.float32)])


BINARY = {
    "maximum": lambda m, x, y: m.maximum(x, y),
    "minimum": lambda m, x, y: m.minimum(x, y),
    "where": lambda m, x, y: m.where(x > y, x, y),
    "where_nan": lambda m, x, y: m.where(x > 0, x, y),
    "clamp_tensor": lambda m, x, y: x.clamp(y, y + 1),
    "clamp_tensor_min": lambda m, x, y: x.clamp(min=y),
    "clamp_tensor_max": lambda m, x, y: x.clamp(max=y),
    "smooth_l1": lambda m, x, y: f(m).smooth_l1_loss(x, y, reduction="none"),
    "smooth_l1_beta0": lambda m, x, y: f(m).smooth_l1_loss(x, y, reduction="none", beta=0.0),
    "huber": lambda m, x, y: f(m).huber_loss(x, y, reduction="none"),
    "l1": lambda m, x, y: f(m).l1_loss(x, y, reduction="none"),
}


@pytest.mark.parametrize("name", list(BINARY))
def test_binary(name):
    x, y = grid(XS, XS)
    # smooth_l1/huber are compositions: a zero gradient's sign is that of a sum of zeros
    run(BINARY[name], [x, y], signs=name not in ("smooth_l1", "huber"))


ROWS = np.array(
    [
        [a, b, c]
        for a in (INF, -INF, NAN, 0.0, -0.0, 1.0)
        for b in (INF, NAN, -0.0, 1.0)
        for c in (1.0, 0.0)
    ],
    dtype=np.float32,
)

REDUCE = {
    "max": lambda m, x: x.max(),
    "min": lambda m, x: x.min(),
    "amax": lambda m, x: x.amax(),
    "amin": lambda m, x: x.amin(),
    "max_dim": lambda m, x: x.max(1)[0],
    "min_dim": lambda m, x: x.min(1).values,
    "amax_dim": lambda m, x: x.amax(1),
    "amin_dim": lambda m, x: x.amin(1),
    "max_dim_keepdim": lambda m, x: x.max(1, keepdim=True)[0],
}


@pytest.mark.parametrize("name", list(REDUCE))
def test_reduce(name):
    for row in ROWS:  # one row at a time: a nan anywhere decides the whole reduction
        run(REDUCE[name], [row.reshape(1, 3)])

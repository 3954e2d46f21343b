"""The written-out hot path (docs/design.md "Speed") computes exactly what the general one
does: Mul's rule on arrays in a plain backward against the same rule through ops (taken
under create_graph) and torch; the plain walk against the general walk (taken with an
observer) in the order leaves are reached; a node class with a constructor of its own."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import graph
from chainrule.ops.op import Op


def _grads(a_np, b_np, create_graph):
    a = cr.tensor(a_np, requires_grad=True)
    b = cr.tensor(b_np, requires_grad=True) if isinstance(b_np, np.ndarray) else b_np
    out = a * b
    seed = cr.tensor(np.linspace(-1, 2, out.numel()).reshape(out.shape).astype(out.dtype.np))
    wanted = [a, b] if isinstance(b, cr.Tensor) else [a]
    gs = cr.autograd.grad(out, wanted, seed, create_graph=create_graph)
    return [g.detach().numpy() for g in gs], [g.stride() for g in gs]


rng = np.random.default_rng(0)
CASES = {
    "same shape": (
        rng.standard_normal(16, dtype=np.float32),
        rng.standard_normal(16, dtype=np.float32),
    ),
    "2-d": (
        rng.standard_normal((3, 4), dtype=np.float32),
        rng.standard_normal((3, 4), dtype=np.float32),
    ),
    "transposed": (
        rng.standard_normal((4, 3), dtype=np.float32).T,
        rng.standard_normal((3, 4), dtype=np.float32),
    ),
    "broadcast": (rng.standard_normal((3, 4)), rng.standard_normal(4)),
    "0-d": (np.array(1.5, np.float32), np.array(-2.0, np.float32)),
    "python float": (rng.standard_normal(5, dtype=np.float32), 0.3),
    "python int": (rng.standard_normal(5), 3),
    "float64": (rng.standard_normal((2, 3)), rng.standard_normal((2, 3))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_mul_rule_on_arrays_is_the_rule_through_ops(case):
    a_np, b_np = CASES[case]
    fast, fast_strides = _grads(a_np, b_np, create_graph=False)
    slow, slow_strides = _grads(a_np, b_np, create_graph=True)
    for f, s in zip(fast, slow):
        assert f.dtype == s.dtype and f.shape == s.shape
        assert f.tobytes() == s.tobytes()
    assert fast_strides == slow_strides
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True) if isinstance(b_np, np.ndarray) else b_np
    tout = ta * tb
    seed = torch.tensor(np.linspace(-1, 2, tout.numel()).reshape(tout.shape)).to(tout.dtype)
    wanted = [ta, tb] if isinstance(tb, torch.Tensor) else [ta]
    for f, t in zip(fast, torch.autograd.grad(tout, wanted, seed)):
        np.testing.assert_array_equal(f, t.numpy())


def test_tanh_rule_on_arrays_is_the_rule_through_ops():
    x_np = rng.standard_normal(16, dtype=np.float32)
    out = []
    for create_graph in (False, True):
        x = cr.tensor(x_np, requires_grad=True)
        (g,) = cr.autograd.grad(cr.tanh(x).sum(), [x], create_graph=create_graph)
        out.append(g.detach().numpy())
    assert out[0].tobytes() == out[1].tobytes()
    tx = torch.tensor(x_np, requires_grad=True)
    torch.tanh(tx).sum().backward()
    np.testing.assert_allclose(out[0], tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def _leaf_order(observed):
    """The order .grad is filled in a graph with shared, repeated and nested leaves."""
    ws = [cr.tensor([float(i + 1)], requires_grad=True) for i in range(6)]
    order = []
    for i, w in enumerate(ws):
        w.register_post_accumulate_grad_hook(lambda t, i=i: order.append(i))
    h = (ws[0] * ws[1]).tanh() + ws[2]
    # (a leaf and a node ready at once: the leaf runs first, as torch's ready queue)
    y = (h * ws[0] + (ws[3] * h).tanh() * ws[2]).sum() + (ws[4] * (ws[5] * 2.0)).sum()
    if observed:
        with graph.observe(graph.BackwardObserver()):
            y.backward()
    else:
        y.backward()
    return order, [w.grad.numpy().tobytes() for w in ws]


def test_plain_walk_reaches_leaves_in_the_general_walks_order():
    assert _leaf_order(observed=False) == _leaf_order(observed=True)


class _Constructed(Op):
    """A node class with a constructor of its own: Op.apply does not call it."""

    save_inputs = False

    def __init__(self):  # pragma: no cover - never called
        raise AssertionError("Op.apply called the node class's constructor")

    def forward(self, x):
        return x * 2

    def backward(self, g):
        return g * 2


def test_node_class_with_its_own_constructor():
    assert not _Constructed._bare
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    _Constructed.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])

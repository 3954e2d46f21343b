"""The gradient of a tensor's slices in a plain backward (``SliceGrads``, docs/design.md
"Speed"): the pieces are written into one array when the tensor's vertex runs, with the
bits the general walk gets by adding the zero-padded pieces (taken here with an observer,
which turns the plain walk off), and torch's values; overlapping pieces, gaps, a gradient
from elsewhere met in between, leaves and non-leaves, -0 and nan."""

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd import graph
from chainrule.ops.shape.slices import SliceGrads

rng = np.random.default_rng(7)


def _pieces(lib, x, case):
    if case == "split":
        return list(x.split(3, dim=2))
    if case == "split uneven":
        return list(x.split([4, 1, 4], dim=2))
    if case == "chunk dim 0":
        return list(x.chunk(2, dim=0))
    if case == "unbind":
        return list(x.unbind(1))
    if case == "overlapping":
        return [x.narrow(2, 0, 5), x.narrow(2, 3, 4), x.narrow(2, 1, 1)]
    if case == "gaps":
        return [x.narrow(2, 0, 2), x.narrow(2, 6, 3)]
    if case == "one piece":
        return [x.narrow(2, 2, 4)]
    if case == "split and the whole":
        q, k, v = x.split(3, dim=2)
        return [q, x * 2.0, v]
    if case == "split of a non-leaf":
        return list((x * 1.5).split(3, dim=2))
    raise AssertionError(case)


CASES = ["split", "split uneven", "chunk dim 0", "unbind", "overlapping", "gaps", "one piece",
         "split and the whole", "split of a non-leaf"]  # fmt: skip


def _seeds(shapes, special):
    out = []
    for s in shapes:
        g = rng.standard_normal(s).astype(np.float32)
        if special:  # signed zeros and a nan, where the sum's rounding shows
            flat = g.reshape(-1)
            flat[::3] = -0.0
            flat[1] = np.nan
        out.append(g)
    return out


def _grad(case, a, seeds, observed):
    x = cr.tensor(a, requires_grad=True)
    outs = _pieces(cr, x, case)
    if observed:
        with graph.observe(graph.BackwardObserver()):
            cr.autograd.backward(outs, [cr.tensor(g) for g in seeds])
    else:
        cr.autograd.backward(outs, [cr.tensor(g) for g in seeds])
    return x.grad.numpy()


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("case", CASES)
def test_plain_walk_sums_slices_with_the_general_walks_bits_and_torchs_values(case, special):
    a = rng.standard_normal((4, 6, 9)).astype(np.float32)
    x_t = torch.tensor(a, requires_grad=True)
    outs_t = _pieces(torch, x_t, case)
    seeds = _seeds([tuple(o.shape) for o in outs_t], special)
    plain = _grad(case, a, seeds, observed=False)
    general = _grad(case, a, seeds, observed=True)
    assert plain.tobytes() == general.tobytes()
    torch.autograd.backward(outs_t, [torch.tensor(g) for g in seeds])
    np.testing.assert_allclose(plain, x_t.grad.numpy(), rtol=1e-6, atol=0)  # nan == nan


def test_the_pieces_are_kept_apart_only_where_nothing_else_reads_them():
    """The rule hands the walk SliceGrads only in a plain walk: under create_graph the
    gradient has a history, a node hook sees tensors, autograd.grad's inputs= walk and
    anomaly mode read the rule's result."""
    seen = []

    def hook(grad_inputs, grad_outputs):
        seen.extend(type(g) for g in grad_inputs)

    x = cr.randn(2, 6, requires_grad=True)
    q, k = x.split(3, dim=1)
    q.grad_fn.register_hook(hook)
    (q.sum() + k.sum()).backward()
    assert seen == [cr.Tensor]
    assert np.array_equal(x.grad.numpy(), np.ones((2, 6), np.float32))

    x = cr.randn(2, 6, requires_grad=True)
    q, k = x.split(3, dim=1)
    (gx,) = cr.autograd.grad((q * q).sum() + k.sum(), [x], create_graph=True)
    assert gx.requires_grad and gx.grad_fn is not None
    (ggx,) = cr.autograd.grad(gx.sum(), [x])
    assert np.array_equal(ggx.numpy(), np.concatenate([np.full((2, 3), 2.0), np.zeros((2, 3))], 1))

    with cr.autograd.detect_anomaly():
        x = cr.randn(2, 6, requires_grad=True)
        q, k = x.split(3, dim=1)
        (q.sum() * 2 + k.sum()).backward()
    want = np.concatenate([np.full((2, 3), 2.0), np.ones((2, 3))], 1).astype(np.float32)
    assert np.array_equal(x.grad.numpy(), want)


def test_a_hook_on_the_split_tensor_sees_the_summed_gradient():
    x = cr.randn(3, 6, requires_grad=True)
    y = x * 1.0
    got = []
    y.register_hook(lambda g: got.append(g))
    q, k, v = y.split(2, dim=1)
    (q.sum() + 2 * k.sum() + 3 * v.sum()).backward()
    (g,) = got
    assert type(g) is cr.Tensor
    want = np.repeat(np.array([[1.0, 2.0, 3.0]], np.float32), 2, 1).repeat(3, 0)
    assert np.array_equal(g.numpy(), want)


def test_slice_grads_value_tiles_or_pads():
    g = np.arange(6, dtype=np.float32).reshape(2, 3)
    whole = SliceGrads((2, 6), (slice(None), slice(0, 3), Ellipsis), g)
    whole = whole.plus(SliceGrads((2, 6), (slice(None), slice(3, 6), Ellipsis), g + 10))
    assert isinstance(whole, SliceGrads) and len(whole.pieces) == 2
    assert np.array_equal(whole.value().numpy(), np.concatenate([g, g + 10], 1))
    padded = SliceGrads((2, 7), (slice(None), slice(4, 7), Ellipsis), g)
    padded = padded.plus(SliceGrads((2, 7), (slice(None), slice(0, 3), Ellipsis), g))
    assert np.array_equal(padded.value().numpy(), np.concatenate([g, np.zeros((2, 1)), g], 1))

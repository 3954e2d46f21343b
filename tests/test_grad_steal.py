"""A leaf's first ``.grad`` takes the gradient's memory when nothing else can see it
(``_engine._steal``, torch's AccumulateGrad stealing by use count), and is a copy whenever
something else holds the gradient: the same values as torch either way, and never an alias
of another tensor's memory (the writes below would show one)."""

import numpy as np
import pytest
import torch

import chainrule as cr
import chainrule._engine as engine

rng = np.random.default_rng(3)


@pytest.fixture
def stolen(monkeypatch):
    """The shapes of the leaves whose gradient was taken, in order."""
    taken = []
    steal = engine._steal

    def counting(t, g):
        ok = steal(t, g)
        if ok:
            taken.append(tuple(t.shape))
        return ok

    monkeypatch.setattr(engine, "_steal", counting)
    return taken


def _pair(*shape):
    a = rng.standard_normal(shape).astype(np.float32)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def test_linear_gradients_are_taken_and_equal_torchs(stolen):
    (x, tx), (w, tw), (b, tb) = _pair(4, 3), _pair(5, 3), _pair(5)
    cr.nn.functional.linear(x, w, b).square().sum().backward()
    torch.nn.functional.linear(tx, tw, tb).square().sum().backward()
    assert sorted(stolen) == [(4, 3), (5,), (5, 3)]
    for c, t in ((x, tx), (w, tw), (b, tb)):
        np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=1e-6)
        assert c.grad.numpy().flags.c_contiguous and c.grad.stride() == t.grad.stride()


def test_one_gradient_reaching_two_leaves_is_copied_for_one_of_them(stolen):
    a, c = cr.randn(3, requires_grad=True), cr.randn(3, requires_grad=True)
    ((a + c) * cr.tensor([1.0, 2.0, 3.0])).sum().backward()  # Add hands on one tensor twice
    assert len(stolen) == 1
    assert not np.shares_memory(a.grad.numpy(), c.grad.numpy())
    a.grad.add_(1.0)
    assert np.array_equal(c.grad.numpy(), [1.0, 2.0, 3.0])


def test_a_given_gradient_is_copied(stolen):
    x = cr.randn(3, requires_grad=True)
    v = cr.tensor([1.0, 2.0, 3.0])
    x.backward(v)
    assert stolen == []
    v.add_(1.0)
    assert np.array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_a_gradient_a_hook_kept_is_copied(stolen):
    x = cr.randn(3, requires_grad=True)
    y = x.clone()  # clone passes its gradient on as it is
    kept = []
    y.register_hook(kept.append)
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert stolen == []
    kept[0].add_(1.0)
    assert np.array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_a_retained_gradient_is_not_shared_with_the_leaf():
    x = cr.randn(3, requires_grad=True)
    y = x.clone()
    y.retain_grad()
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert not np.shares_memory(x.grad.numpy(), y.grad.numpy())
    y.grad.add_(1.0)
    assert np.array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


def test_a_view_of_a_live_gradient_is_copied(stolen):
    """A view's memory is someone else's while any tensor of its family lives."""
    x = cr.randn(2, 3, requires_grad=True)
    kept = []

    class Twice(cr.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            whole = g * 2
            kept.append(whole)
            return whole.view(2, 3)  # a view of a tensor the test keeps

    Twice.apply(x).sum().backward()
    assert stolen == []
    kept[0].add_(1.0)
    assert np.array_equal(x.grad.numpy(), np.full((2, 3), 2.0, np.float32))


def test_a_view_whose_base_a_hook_kept_is_copied(stolen):
    x = cr.randn(2, 3, requires_grad=True)
    y = x.view(6)  # view's rule hands x a view of y's gradient
    kept = []
    y.register_hook(kept.append)
    (y * cr.arange(6.0)).sum().backward()
    assert stolen == []
    kept[0].add_(1.0)
    assert np.array_equal(x.grad.numpy(), np.arange(6.0, dtype=np.float32).reshape(2, 3))
    z = cr.randn(2, 3, requires_grad=True)
    (z.view(6) * cr.arange(6.0)).sum().backward()  # nothing kept: taken
    assert stolen == [(2, 3)]


def test_later_gradients_add_into_the_taken_one(stolen):
    (w, tw) = _pair(5, 3)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    for _ in range(2):
        cr.nn.functional.linear(cr.tensor(x), w).sum().backward()
        torch.nn.functional.linear(torch.tensor(x), tw).sum().backward()
    alias = w.grad
    cr.nn.functional.linear(cr.tensor(x), w).sum().backward()
    torch.nn.functional.linear(torch.tensor(x), tw).sum().backward()
    assert stolen == [(5, 3)]
    assert alias is w.grad  # added in place, as torch's
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-6)


def test_no_taking_under_create_graph_or_with_a_hook_after_accumulation(stolen):
    x = cr.randn(3, requires_grad=True)
    (x * x).sum().backward(create_graph=True)
    assert stolen == [] and x.grad.requires_grad
    c = cr.randn(3, requires_grad=True)
    (c * 2).sum().backward(create_graph=True)  # a constant gradient: still torch's copy_
    assert stolen == [] and c.grad._version == 1
    y = cr.randn(3, requires_grad=True)
    seen = []
    y.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (y * 2).sum().backward()
    assert stolen == [] and np.array_equal(seen[0], [2.0, 2.0, 2.0])


def test_a_modules_parameters_take_their_gradients(stolen):
    """Parameters are leaves too (nn.Parameter is a Tensor subclass): an MLP's weights and
    biases take their first gradients, with torch's values and layout, and an optimizer step
    and a second backward after zero_grad(set_to_none=False) behave as torch's."""
    layers = [(8, 6), (6, 4)]
    mods = []
    for lib in (cr, torch):
        mods.append(
            lib.nn.Sequential(lib.nn.Linear(*layers[0]), lib.nn.ReLU(), lib.nn.Linear(*layers[1]))
        )
    with torch.no_grad():
        for p, tp in zip(mods[0].parameters(), mods[1].parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy().copy()))
    x = rng.standard_normal((5, 8)).astype(np.float32)
    opts = [lib.optim.SGD(m.parameters(), lr=0.1) for lib, m in zip((cr, torch), mods)]
    for lib, m in zip((cr, torch), mods):
        m(lib.tensor(x)).square().sum().backward()
    assert sorted(stolen) == [(4,), (4, 6), (6,), (6, 8)]
    for p, tp in zip(mods[0].parameters(), mods[1].parameters()):
        assert type(p) is cr.nn.Parameter and type(p.grad) is cr.Tensor
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-6)
        assert p.grad.stride() == tp.grad.stride() and not p.grad.requires_grad
    for lib, m, opt in zip((cr, torch), mods, opts):
        opt.step()
        opt.zero_grad(set_to_none=False)
        m(lib.tensor(x)).square().sum().backward()
    assert len(stolen) == 4  # the zeroed gradients are added into, not replaced
    for p, tp in zip(mods[0].parameters(), mods[1].parameters()):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-5)

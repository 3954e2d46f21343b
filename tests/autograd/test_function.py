"""Custom Functions and anomaly mode, against torch."""

import numpy as np
import pytest
import torch

import chainrule as cr


def make_cube(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x**3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x**2 * ctx.k, None

        @staticmethod
        def jvp(ctx, tx, tk):
            return tx * 3 * ctx.k * ctx.x2

    # the jvp needs x**2: torch's ctx keeps attributes set in forward
    orig_forward = Cube.forward

    def forward(ctx, x, k):
        ctx.x2 = x.detach() ** 2
        return orig_forward(ctx, x, k)

    Cube.forward = staticmethod(forward)
    return Cube


def make_split(lib):
    class SplitScale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            a, b = x * 2, x.exp()
            idx = (x > 0).sum()
            ctx.mark_non_differentiable(idx)
            return a, b, idx

        @staticmethod
        def backward(ctx, ga, gb, gidx):
            (x,) = ctx.saved_tensors
            return ga * 2 + gb * x.exp()

    return SplitScale


X = np.array([0.5, -1.5, 2.0])


def test_custom_function_values_grads_names_and_second_order():
    results = []
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        y = make_cube(lib).apply(x, 2.0)
        assert y.grad_fn.name() == "CubeBackward"
        (g,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), x)
        results.append([y.detach().numpy(), g.detach().numpy(), h.numpy()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b)


def test_multiple_outputs_and_non_differentiable():
    results = []
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        a, b, idx = make_split(lib).apply(x)
        assert not idx.requires_grad and a.requires_grad
        (a * 3 + b).sum().backward(retain_graph=True)
        results.append(x.grad.numpy())
        x.grad = None
        b.sum().backward()  # only one output used: the other gradient is materialised as zeros
        results.append(x.grad.numpy())
    np.testing.assert_allclose(results[0], results[2])
    np.testing.assert_allclose(results[1], results[3])


def test_needs_input_grad_and_wrong_gradient_count():
    seen = {}
    for lib in (cr, torch):

        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, y, name=lib.__name__):
                seen[name] = ctx.needs_input_grad
                return x * y

            @staticmethod
            def backward(ctx, g):
                return (g,)

        x = lib.tensor([1.0], requires_grad=True)
        out = Bad.apply(x, lib.tensor([2.0]))
        with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
            out.backward()
    assert seen["chainrule"] == seen["torch"] == (True, False)


def test_saved_tensor_modified_in_place_is_caught():
    for lib in (cr, torch):
        x = lib.tensor(X, requires_grad=True)
        h = x * 1
        y = make_cube(lib).apply(h, 1.0)
        h.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


def test_forward_mode_uses_jvp():
    from chainrule.autograd import forward_ad as fw

    Cube = make_cube(cr)
    with fw.dual_level():
        x = fw.make_dual(cr.tensor(X), cr.tensor([1.0, 0.0, 2.0]))
        tangent = fw.unpack_dual(Cube.apply(x, 2.0)).tangent
    np.testing.assert_allclose(tangent.numpy(), 3 * 2 * X**2 * np.array([1.0, 0.0, 2.0]))


def test_anomaly_mode_names_the_op_and_where_it_was_made():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = x.sqrt() * 0.0  # sqrt'(0) = inf, times 0: nan in backward
        with pytest.warns(UserWarning, match="Traceback of forward call"):
            with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan"):
                y.sum().backward()
    assert not cr.autograd.is_anomaly_enabled()
    # off: the nan silently reaches .grad, as in torch
    x.grad = None
    (x.sqrt() * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])

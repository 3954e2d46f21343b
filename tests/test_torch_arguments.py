"""Arguments torch has are never silently ignored: they work as in torch or raise
NotImplementedError naming them (issue 9)."""

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr


def both(fn):
    return fn(cr), fn(torch)


def close(a, b):
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- autograd.grad


def test_grad_is_grads_batched_is_a_loop_over_the_batch():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x**2
        z = x.sum() * 2
        return m.autograd.grad([y, z], x, [m.eye(3), m.ones(3)], is_grads_batched=True)

    (ours,), (theirs,) = both(run)
    close(ours, theirs)


def test_grad_is_grads_batched_create_graph_and_unused_inputs():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = m.tensor([1.0, 2.0], requires_grad=True)
        (g,) = m.autograd.grad(x**3, x, m.eye(3)[:2], is_grads_batched=True, create_graph=True)
        (gg,) = m.autograd.grad(g.sum(), x)  # the batched result is differentiable
        unused = m.autograd.grad(x.sum(), [x, w], m.ones(2), is_grads_batched=True,
                                 allow_unused=True)  # fmt: skip
        zeros = m.autograd.grad(x.sum(), [x, w], m.ones(2), is_grads_batched=True,
                                materialize_grads=True)  # fmt: skip
        return g, gg, unused, zeros

    ours, theirs = both(run)
    close(ours[0], theirs[0])
    close(ours[1], theirs[1])
    close(ours[2][0], theirs[2][0])
    assert ours[2][1] is None and theirs[2][1] is None
    close(ours[3][1], theirs[3][1])


def test_grad_is_grads_batched_shape_error_matches_torch():
    def run(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            m.autograd.grad(x**2, x, m.ones(3), is_grads_batched=True)
        return str(info.value)

    ours, theirs = both(run)
    assert ours == theirs


def test_grad_only_inputs_false_warns_like_torch_and_is_ignored():
    def run(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            (g,) = m.autograd.grad((x * x).sum(), x, only_inputs=False)
            m.autograd.grad((x * x).sum(), x, only_inputs=True)
        return g, [(x.category, str(x.message)) for x in w]

    (g, ours), (tg, theirs) = both(run)
    close(g, tg)
    assert ours == theirs and len(ours) == 1 and ours[0][0] is FutureWarning


# --------------------------------------------------------------------------- device=


@pytest.mark.parametrize(
    "make",
    [
        lambda: cr.zeros(2, device="cuda"),
        lambda: cr.tensor([1.0], device="cuda:0"),
        lambda: cr.arange(3, device="mps"),
        lambda: cr.randn(2, device=cr.device("cuda")),
        lambda: cr.nn.Linear(2, 3, device="cuda"),
        lambda: cr.nn.Embedding(4, 2, device="cuda"),
        lambda: cr.nn.LayerNorm(3, device="cuda"),
    ],
)
def test_device_other_than_cpu_is_refused(make):
    with pytest.raises(RuntimeError, match="chainrule runs on the CPU only"):
        make()


def test_device_cpu_is_accepted():
    assert cr.zeros(2, device="cpu").device == cr.device("cpu")
    assert cr.nn.Linear(2, 3, device=cr.device("cpu")).weight.shape == (3, 2)


# --------------------------------------------------------------------------- unsupported


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: cr.norm(cr.ones(3), out=cr.empty(())), "out="),
        (lambda: cr.nn.functional.normalize(cr.ones(2, 3), out=cr.empty(2, 3)), "out="),
        (lambda: cr.gather(cr.ones(3), 0, cr.tensor([0]), sparse_grad=True), "sparse_grad"),
        (lambda: cr.nn.Embedding(4, 2, sparse=True)(cr.tensor([1])), "sparse=True"),
    ],
)
def test_unsupported_arguments_raise_naming_them(call, name):
    with pytest.raises(NotImplementedError, match=name):
        call()

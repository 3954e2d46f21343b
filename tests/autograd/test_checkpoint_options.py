"""utils.checkpoint's options against torch's: use_reentrant (not given, True, False),
context_fn, determinism_check, debug, early_stop, and checkpoint_sequential's."""

import contextlib
import warnings

import numpy as np
import pytest
import torch
import torch.utils.checkpoint as tc
from autograd_twins import compare, same_error

import chainrule as cr
import chainrule.utils.checkpoint as cc

RNG = np.random.default_rng(3)
X, W = RNG.normal(size=(3, 4)), RNG.normal(size=(4, 2))


def ckpt_of(lib):
    return cc if lib is cr else tc


def setup(lib, x_grad=True):
    x = lib.tensor(X, requires_grad=x_grad)
    w = lib.tensor(W, requires_grad=True)
    return x, w, lambda x, s=1.0: (x @ w).tanh() * s


def caught(fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in seen if issubclass(w.category, UserWarning)]


def test_use_reentrant_not_given_warns_and_is_reentrant():
    """torch: a warning, then the reentrant variant: with no input requiring grad, the
    output does not require grad (a second warning) and parameters get no gradient."""

    def run(lib, x_grad):
        x, w, f = setup(lib, x_grad)
        return caught(lambda: ckpt_of(lib).checkpoint(f, x))

    for x_grad in [True, False]:
        (ours, our_warnings), (theirs, their_warnings) = run(cr, x_grad), run(torch, x_grad)
        assert our_warnings == their_warnings and their_warnings
        compare(ours, theirs)

    def seq(lib, x_grad):
        x = lib.tensor(X, requires_grad=x_grad)
        w = lib.tensor(W[:, :1].T, requires_grad=True)  # captured by the first segment
        y, seen = caught(
            lambda: ckpt_of(lib).checkpoint_sequential([lambda x: x * w, lib.sin], 2, x)
        )
        if y.requires_grad:
            y.sum().backward()
        return (y, x.grad, w.grad), seen

    for x_grad in [True, False]:
        (ours, our_warnings), (theirs, their_warnings) = seq(cr, x_grad), seq(torch, x_grad)
        assert our_warnings == their_warnings and their_warnings
        compare(ours, theirs)


@pytest.mark.parametrize("reentrant", [True, False])
@pytest.mark.parametrize("x_grad", [True, False])
def test_gradients_match_torch(reentrant, x_grad):
    """Values, requires_grad and the gradients of the input and the captured weight."""

    def run(lib):
        x, w, f = setup(lib, x_grad)
        y = ckpt_of(lib).checkpoint(f, x, use_reentrant=reentrant)
        if y.requires_grad:
            (y**2).sum().backward()
        return y, x.grad, w.grad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours, theirs = run(cr), run(torch)
    compare(ours, theirs)


def test_reentrant_double_backward_as_torch():
    """torch's reentrant backward is not differentiable: the gradient carries no graph."""

    def run(lib, reentrant):
        x, w, f = setup(lib)
        y = ckpt_of(lib).checkpoint(lambda x: (x @ w).sin(), x, use_reentrant=reentrant)
        y.sum().backward(create_graph=True)
        return x.grad, w.grad

    for reentrant in [True, False]:
        compare(run(cr, reentrant), run(torch, reentrant))


def reentrant_errors(lib):
    ck = ckpt_of(lib).checkpoint
    x, w, f = setup(lib)

    def grad():
        return lib.autograd.grad(ck(f, x, use_reentrant=True).sum(), x)

    def backward_inputs():
        ck(f, x, use_reentrant=True).sum().backward(inputs=[x])

    def kwargs():
        return ck(f, x, use_reentrant=True, s=2.0)

    return [
        grad,
        backward_inputs,
        kwargs,
        lambda: ck(f, x, use_reentrant=True, context_fn=lambda: (None, None)),
        lambda: ck(f, x, use_reentrant=True, debug=True),
        lambda: ck(f, x, use_reentrant=False, determinism_check="foo"),
        lambda: ck(f, x, use_reentrant=False, determinism_check=None),
        lambda: ckpt_of(lib).checkpoint_sequential([f], 1, x, True, s=2.0),
    ]


@pytest.mark.parametrize("k", range(len(reentrant_errors(torch))))
def test_errors(k):
    same_error(reentrant_errors(cr)[k], reentrant_errors(torch)[k])


def test_reentrant_ignores_the_non_reentrant_options():
    """torch: determinism_check and early_stop are not even checked when reentrant."""

    def run(lib):
        x, w, f = setup(lib)
        y = ckpt_of(lib).checkpoint(
            f, x, use_reentrant=True, determinism_check="foo", early_stop="bar"
        )
        y.sum().backward()
        return y, x.grad, w.grad

    compare(run(cr), run(torch))


def test_debug_is_not_implemented():
    x, w, f = setup(cr)
    with pytest.raises(NotImplementedError, match="debug=True"):
        cc.checkpoint(f, x, use_reentrant=False, debug=True)


@pytest.mark.parametrize("early_stop", [True, False])
@pytest.mark.parametrize("determinism_check", ["default", "none"])
def test_non_reentrant_options_give_torchs_gradients(early_stop, determinism_check):
    def run(lib):
        x, w, f = setup(lib)
        y = ckpt_of(lib).checkpoint(
            f, x, 0.5, use_reentrant=False, early_stop=early_stop,
            determinism_check=determinism_check,
        )  # fmt: skip
        (y.exp()).sum().backward()
        return y, x.grad, w.grad

    compare(run(cr), run(torch))


@pytest.mark.parametrize("early_stop", [True, False])
def test_context_fn(early_stop):
    """The first context wraps the forward, the second the recomputation; under no_grad
    context_fn is called but neither context is entered (torch)."""

    def run(lib, grad=True):
        log = []

        @contextlib.contextmanager
        def ctx(name):
            log.append(f"enter {name}")
            try:  # torch's early stop leaves the recomputation by an exception
                yield
            finally:
                log.append(f"exit {name}")

        def f(x):
            log.append("f")
            return x.sin()

        def context_fn():
            log.append("context_fn")
            return ctx("forward"), ctx("recompute")

        x = lib.tensor(X, requires_grad=True)
        with contextlib.nullcontext() if grad else lib.no_grad():
            y = ckpt_of(lib).checkpoint(
                f, x, use_reentrant=False, context_fn=context_fn, early_stop=early_stop
            )
        log.append("backward")
        if grad:
            y.sum().backward()
        return log

    assert run(cr) == run(torch)
    assert run(cr, grad=False) == run(torch, grad=False)


def nondeterministic(lib, determinism_check, change):
    calls = []

    def f(x):
        calls.append(1)
        if len(calls) == 1:
            return x[:3].exp().sum()
        if change == "shape":
            return x[:2].exp().sum()
        return x[:3].double().exp().float().sum()

    x = lib.ones(4, requires_grad=True)
    y = ckpt_of(lib).checkpoint(f, x, use_reentrant=False, determinism_check=determinism_check)
    y.backward()
    return x.grad


@pytest.mark.parametrize("change", ["shape", "dtype"])
def test_determinism_check(change):
    """A recomputation saving values of another shape or dtype: torch's CheckpointError
    (the positions it lists are chainrule's order of saved values, not torch's)."""
    header = "Recomputed values for the following tensors have different metadata"
    with pytest.raises(tc.CheckpointError, match=header):
        nondeterministic(torch, "default", change)
    with pytest.raises(cc.CheckpointError, match=header):
        nondeterministic(cr, "default", change)
    assert issubclass(cc.CheckpointError, RuntimeError)
    if change == "dtype":  # "none": no check, and the same gradient
        compare(nondeterministic(cr, "none", change), nondeterministic(torch, "none", change))

"""Activations: the table (torch parity, finite differences, second order), then errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from harness import Case, case_id, check_case, check_finite_differences, inputs_for, to_cr, to_torch

import chainrule as cr
import chainrule.nn.functional as A

S, M = (3, 4), (2, 3, 4)


def fn(name, **kw):
    """The same nn.functional call for both libraries (torch's from torch.nn.functional)."""
    return lambda m, *a: (getattr(F, name) if m is torch else getattr(A, name))(*a, **kw)


def kinks(*points):  # the kinks themselves, plus random points, as one input
    return lambda r: [np.concatenate([np.array(points, float), r.uniform(-3, 3, 9)])]


def big(r):
    return [np.array([[1000.0, -1000.0, 1000.0, 0.0], [-1000.0, -999.0, -1001.0, -1000.5]])]


def away_from(*points):  # random inputs kept 0.05 from the kinks, for finite differences
    def make(r):
        a = r.uniform(-8, 8, M)
        for p in points:
            a = np.where(np.abs(a - p) < 0.05, p + 0.1, a)
        return [a]

    return make


CASES = [
    Case("softmax", lambda m, a: m.softmax(a, 1), [M]),
    Case("softmax", lambda m, a: a.softmax(-1), [S], note="neg"),
    Case("softmax", lambda m, a: m.softmax(a, 0), [()], note="0d"),
    Case("softmax", lambda m, a: m.softmax(a, 0), [(1, 3)], note="size1"),
    Case("softmax", lambda m, a: m.softmax(a, 1), make=big, note="large"),
    Case("softmax", lambda m, a: m.softmax(a, 1, dtype=m.float64), [S], note="dtype"),
    Case("softmax", fn("softmax", dim=0), [M], note="functional"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, 2), [M]),
    Case("log_softmax", lambda m, a: a.log_softmax(0), [S], note="method"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, -1), [()], note="0d"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, 1), make=big, note="large"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, 0, m.float64), [S], note="dtype"),
    Case("softmax", lambda m, a: m.softmax(a, -1), [(2, 0)], note="empty"),
    Case("softmax", lambda m, a: m.softmax(a, 0), [(0, 3)], note="empty-dim"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, 0), [(0,)], note="empty"),
    Case("log_softmax", lambda m, a: m.log_softmax(a, -1), [(0, 3)], note="empty-rows"),
    Case(
        "softmax",
        lambda m, a: m.softmax(a, 0),
        make=lambda r: [np.array(np.inf)],
        fd=False,
        note="0d-inf",
    ),
    Case(
        "softmax",
        lambda m, a: m.softmax(a, -1),
        make=lambda r: [np.array(np.nan)],
        fd=False,
        note="0d-nan",
    ),
    Case(
        "log_softmax",
        lambda m, a: m.log_softmax(a, 0),
        make=lambda r: [np.array(-np.inf)],
        fd=False,
        note="0d-neg-inf",
    ),
    Case(
        "log_softmax",
        lambda m, a: m.log_softmax(a, -1),
        make=lambda r: [np.array(np.nan)],
        fd=False,
        note="0d-nan",
    ),
    Case("leaky_relu", fn("leaky_relu"), make=kinks(0.0), fd=False),
    Case("leaky_relu", fn("leaky_relu", negative_slope=0.2), make=away_from(0), note="slope"),
    Case("elu", fn("elu"), make=kinks(0.0)),
    Case("elu", fn("elu", alpha=0.5), make=away_from(0), note="alpha"),
    Case("elu", fn("elu", alpha=0.5), make=kinks(0.0), fd=False, note="alpha-kink"),
    Case("gelu", fn("gelu"), [M], domain=(-4, 4)),
    Case("gelu", fn("gelu", approximate="tanh"), [M], domain=(-4, 4), note="tanh"),
    Case("gelu", fn("gelu"), [()], note="0d"),
    Case("silu", fn("silu"), [M], domain=(-6, 6)),
    Case("silu", fn("silu"), make=big, note="large"),
    Case("softplus", fn("softplus"), [M], domain=(-5, 5)),
    Case("softplus", fn("softplus", beta=2.0, threshold=1.0), make=away_from(0.5), note="beta"),
    Case("softplus", fn("softplus"), make=big, note="large"),
    Case("softplus", fn("softplus", beta=2, threshold=1), make=kinks(0.5), fd=False, note="kink"),
    Case("hardtanh", fn("hardtanh"), make=kinks(-1.0, 1.0, 0.0), fd=False),
    Case("hardtanh", fn("hardtanh", min_val=-0.5, max_val=2.0), make=away_from(-0.5, 2), note="b"),
    Case("hardtanh", fn("hardtanh"), make=lambda r: [r.integers(-3, 3, S)], grad=False, note="i"),
    Case("relu6", fn("relu6"), make=kinks(0.0, 6.0), fd=False),
    Case("relu6", fn("relu6"), make=away_from(0, 6), note="fd"),
    Case("logsigmoid", fn("logsigmoid"), [M], domain=(-6, 6)),
    Case("logsigmoid", fn("logsigmoid"), make=big, note="large"),
    Case("mish", fn("mish"), [M], domain=(-5, 5)),
    # torch's own double backward overflows to nan at |x| = 1000; +-40 it gets right
    Case("mish", fn("mish"), make=lambda r: [np.array([40.0, -40.0, 25.0, -25.0])], note="large"),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.grad], ids=case_id)
def test_grad_fn_names(case):
    arrays = inputs_for(case)
    ours = case.fn(cr, *[to_cr(a, "float64", True) for a in arrays])
    theirs = case.fn(torch, *[to_torch(a, "float64", True) for a in arrays])
    assert ours.grad_fn.name() == theirs.grad_fn.name()


def test_softmax_of_large_inputs_is_finite():  # worked example
    x = cr.tensor([1000.0, -1000.0, 1000.0], requires_grad=True)
    y = cr.softmax(x, 0)
    assert y.tolist() == [0.5, 0.0, 0.5]
    z = cr.log_softmax(x, 0)
    assert np.isfinite(z._data).all()
    (y * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert np.isfinite(x.grad._data).all()


def test_mish_softplus_logsigmoid_of_large_inputs():
    x = cr.tensor([1000.0, -1000.0], requires_grad=True)
    for f in (A.mish, A.softplus, A.logsigmoid, A.silu, A.gelu):
        y = f(x)
        (g,) = cr.autograd.grad(y.sum(), x)
        t = torch.tensor([1000.0, -1000.0], requires_grad=True)
        ft = getattr(F, f.__name__)
        (gt,) = torch.autograd.grad(ft(t).sum(), t)
        np.testing.assert_allclose(y._data, ft(t).detach().numpy())
        np.testing.assert_allclose(g._data, gt.numpy())


def test_softmax_without_dim_warns_like_torch():
    x = np.ones((2, 3))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = A.softmax(cr.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        theirs = F.softmax(torch.tensor(x))
    np.testing.assert_allclose(ours._data, theirs.numpy())


def _ints():
    return np.array([1, 2])


ERRORS = [
    ("softmax", {"dim": -1}, NotImplementedError, '"softmax_lastdim_kernel_impl" not implemented'),
    ("log_softmax", {"dim": 0}, NotImplementedError, '"log_softmax_lastdim_kernel_impl" not'),
    ("leaky_relu", {}, NotImplementedError, "\"leaky_relu_cpu\" not implemented for 'Long'"),
    ("elu", {}, NotImplementedError, '"elu_cpu" not implemented'),
    ("gelu", {}, NotImplementedError, '"GeluKernelImpl" not implemented'),
    ("silu", {}, NotImplementedError, '"silu_cpu" not implemented'),
    ("softplus", {}, NotImplementedError, '"softplus_cpu" not implemented'),
    ("logsigmoid", {}, NotImplementedError, '"log_sigmoid_cpu" not implemented'),
    ("mish", {}, NotImplementedError, '"mish_cpu" not implemented'),
    ("softmax", {"dim": 0, "m": 1}, NotImplementedError, '"softmax_kernel_impl" not'),
    ("softmax", {"dim": 2}, IndexError, "Dimension out of range"),
]


@pytest.mark.parametrize("lib", ["torch", "chainrule"])
@pytest.mark.parametrize("name,kw,exc,msg", ERRORS)
def test_errors_match_torch(name, kw, exc, msg, lib):
    f = getattr(F, name) if lib == "torch" else getattr(A, name)
    kw = dict(kw)
    a = _ints().reshape(2, 1) if kw.pop("m", None) else _ints()
    x = torch.tensor(a) if lib == "torch" else cr.tensor(a)
    if exc is IndexError:
        x = x.float()
    with pytest.raises(exc, match=msg):
        f(x, **kw)


@pytest.mark.parametrize("lib", ["torch", "chainrule"])
def test_bad_arguments(lib):
    f = F if lib == "torch" else A
    x = torch.ones(2) if lib == "torch" else cr.ones(2)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh."):
        f.gelu(x, approximate="foo")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        f.hardtanh(x, 2.0, 1.0)

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


def fn_(name, **kw):
    """The same call with ``inplace=True``, on a non-leaf copy of the input."""
    return lambda m, a: fn(name, inplace=True, **kw)(m, a * 1)


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
    Case("selu", fn("selu"), make=kinks(0.0), fd=False),
    Case("selu", fn("selu"), make=away_from(0), note="fd"),
    Case("selu", lambda m, a: m.selu(a), [M], note="torch"),
    Case("selu_", lambda m, a: m.selu_(a * 1), make=away_from(0), note="torch"),
    Case("selu", fn_("selu"), make=lambda r: [r.uniform(-3, 3, S)], note="inplace"),
    Case("celu", fn("celu"), make=kinks(0.0), fd=False),
    Case("celu", fn("celu", alpha=0.5), make=away_from(0), note="alpha"),
    Case("celu", fn_("celu", alpha=2.0), make=kinks(0.0), fd=False, note="inplace"),
    Case("celu", lambda m, a: m.celu(a, 0.7), [M], note="torch"),
    Case("celu_", lambda m, a: m.celu_(a * 1, alpha=1.5), make=away_from(0), note="torch"),
    Case("hardswish", fn("hardswish"), make=kinks(-3.0, 3.0, 0.0), fd=False),
    Case("hardswish", fn("hardswish"), make=away_from(-3, 3), note="fd"),
    Case("hardswish", fn_("hardswish"), make=away_from(-3, 3), note="inplace"),
    # torch has no double backward for hardsigmoid (its backward's derivative is missing)
    Case("hardsigmoid", fn("hardsigmoid"), make=kinks(-3.0, 3.0, 0.0), fd=False, order2=False),
    Case("hardsigmoid", fn("hardsigmoid"), make=away_from(-3, 3), order2=False, note="fd"),
    Case("hardsigmoid", fn_("hardsigmoid"), [M], order2=False, note="inplace"),
    Case("softsign", fn("softsign"), [M], domain=(-5, 5)),
    Case("softsign", fn("softsign"), make=big, note="large"),
    Case("tanhshrink", fn("tanhshrink"), [M], domain=(-4, 4)),
    Case("tanhshrink", fn("tanhshrink"), [()], note="0d"),
    Case("softshrink", fn("softshrink"), make=kinks(-0.5, 0.5, 0.0), fd=False),
    Case("softshrink", fn("softshrink", lambd=1.0), make=away_from(-1, 1), note="lambd"),
    Case("softshrink", fn("softshrink", lambd=0.0), make=away_from(0), note="zero"),
    Case("hardshrink", fn("hardshrink"), make=kinks(-0.5, 0.5, 0.0), fd=False),
    Case("hardshrink", fn("hardshrink", lambd=1.0), make=away_from(-1, 1), note="lambd"),
    Case("hardshrink", lambda m, a: m.hardshrink(a, 0.25), make=away_from(-0.25, 0.25), note="t"),
    Case("hardshrink", lambda m, a: a.hardshrink(), make=away_from(-0.5, 0.5), note="method"),
    Case("threshold", fn("threshold", threshold=0.5, value=-2.0), make=kinks(0.5), fd=False),
    Case("threshold", fn("threshold", threshold=-1.0, value=0.0), make=away_from(-1), note="fd"),
    Case(
        "threshold",
        fn("threshold", threshold=1, value=7),
        make=lambda r: [r.integers(-3, 3, S)],
        grad=False,
        note="int",
    ),  # fmt: skip
    Case("threshold", lambda m, a: m.threshold(a, 0.0, 1.0), make=away_from(0), note="torch"),
    Case("threshold_", lambda m, a: m.threshold_(a * 1, 0.2, -1.0), make=away_from(0.2), note="t"),
    Case(
        "threshold", fn_("threshold", threshold=0.0, value=3.0), make=away_from(0), note="inplace"
    ),  # fmt: skip
    Case("rrelu", fn("rrelu"), make=kinks(0.0), fd=False),
    Case("rrelu", fn("rrelu", lower=0.1, upper=0.5), make=away_from(0), note="bounds"),
    Case("rrelu", lambda m, a: m.rrelu(a, 0.2, 0.3), make=away_from(0), note="torch"),
    Case("rrelu_", lambda m, a: m.rrelu_(a * 1), make=away_from(0), note="torch"),
    Case("rrelu", fn_("rrelu"), make=away_from(0), note="inplace"),
    Case("glu", fn("glu"), [(3, 4)], domain=(-4, 4)),
    Case("glu", fn("glu", dim=2), [M], note="dim"),
    Case("glu", fn("glu", dim=0), [(2,)], note="1d"),
    Case("glu", fn("glu", dim=-2), [(2, 0, 3)], note="empty"),
    Case("softmin", fn("softmin", dim=1), [M]),
    Case("softmin", fn("softmin", dim=-1), make=big, note="large"),
    Case(
        "softmin",
        lambda m, a: (F if m is torch else A).softmin(a, 0, dtype=m.float64),
        [S],
        note="dtype",
    ),  # fmt: skip
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
    ("selu", {}, NotImplementedError, "\"elu_cpu\" not implemented for 'Long'"),
    ("celu", {}, NotImplementedError, '"elu_cpu" not implemented'),
    ("hardswish", {}, NotImplementedError, '"hardswish_cpu" not implemented'),
    ("hardsigmoid", {}, NotImplementedError, '"hardsigmoid_cpu" not implemented'),
    ("softshrink", {}, NotImplementedError, '"softshrink_check" not implemented'),
    ("hardshrink", {}, NotImplementedError, '"hardshrink_cpu" not implemented'),
    ("rrelu", {}, NotImplementedError, '"leaky_relu_cpu" not implemented'),
    ("glu", {}, NotImplementedError, '"glu_cpu" not implemented'),
    ("softmin", {"dim": 0}, NotImplementedError, '"softmax_lastdim_kernel_impl" not'),
    ("glu", {"dim": 2}, IndexError, "Dimension out of range"),
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


def _both(lib):
    return (F, torch) if lib == "torch" else (A, cr)


BAD = [
    (lambda f, m: f.softshrink(m.ones(2), -1.0), RuntimeError,
     r"lambda must be in range \[0, 3.40282e\+38\] for input dtype Float, but found -1"),
    (lambda f, m: f.softshrink(m.ones(2, dtype=m.float64), -0.5), RuntimeError,
     r"lambda must be in range \[0, 1.79769e\+308\] for input dtype Double, but found -0.5"),
    (lambda f, m: f.glu(m.ones(5)), RuntimeError,
     "Halving dimension must be even, but dimension 0 is size 5"),
    (lambda f, m: f.glu(m.ones(2, 3), 1), RuntimeError,
     "Halving dimension must be even, but dimension 1 is size 3"),
    (lambda f, m: f.glu(m.tensor(1.0)), RuntimeError,
     "glu does not support scalars because halving size must be even"),
    (lambda f, m: f.rrelu(m.ones(2), 0.5, 0.1), RuntimeError,
     "Lower bound should be less than or equal to the upper bound"),
    (lambda f, m: f.rrelu(m.ones(2), 0.5, 0.1, training=True), RuntimeError,
     "Lower bound should be less than or equal to the upper bound"),
    (lambda f, m: f.celu(m.ones(2), 0.0), RuntimeError,
     "ZeroDivisionError: alpha cannot be 0 for CELU"),
    (lambda f, m: f.selu(m.ones(2, requires_grad=True), inplace=True), RuntimeError,
     "a leaf Variable that requires grad is being used in an in-place operation."),
]  # fmt: skip


@pytest.mark.parametrize("lib", ["torch", "chainrule"])
@pytest.mark.parametrize("call,exc,msg", BAD)
def test_bad_activation_arguments(call, exc, msg, lib):
    with pytest.raises(exc, match=msg):
        call(*_both(lib))


def test_softmin_without_dim_warns_like_torch():
    x = np.arange(6.0).reshape(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        ours = A.softmin(cr.tensor(x))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmin"):
        theirs = F.softmin(torch.tensor(x))
    np.testing.assert_allclose(ours._data, theirs.numpy())


@pytest.mark.parametrize("inplace", [False, True])
def test_rrelu_training_draws_slopes_in_bounds(inplace):
    """Training: a slope per element from U[lower, upper] for x <= 0 (torch draws from its
    own generator, so the values are compared by their law), x itself above; the gradient
    is that slope, and the draw follows chainrule's generator."""
    x = np.concatenate([-np.linspace(0.5, 3, 2000), np.linspace(0.01, 3, 50)])
    cr.manual_seed(3)
    leaf = cr.tensor(x, requires_grad=True)
    inp = leaf * 1 if inplace else leaf
    y = A.rrelu(inp, 0.1, 0.3, training=True, inplace=inplace)
    assert y.grad_fn.name() == f"RreluWithNoiseBackward{int(inplace)}"
    slopes = y._data[:2000] / x[:2000]
    assert slopes.min() >= 0.1 and slopes.max() <= 0.3
    assert abs(slopes.mean() - 0.2) < 0.01 and slopes.std() > 0.05  # not one slope
    np.testing.assert_array_equal(y._data[2000:], x[2000:])
    (g,) = cr.autograd.grad(y.sum(), leaf, create_graph=True)
    np.testing.assert_allclose(g._data[:2000], slopes, rtol=1e-12)
    np.testing.assert_array_equal(g._data[2000:], 1.0)
    if not inplace:  # (in place, the last node is leaf * 1's)
        assert g.grad_fn.name() == "RreluWithNoiseBackwardBackward0"
    cr.manual_seed(3)
    again = A.rrelu(cr.tensor(x), 0.1, 0.3, training=True)
    np.testing.assert_array_equal(again._data, y._data)
    gen = cr.Generator().manual_seed(3)
    np.testing.assert_array_equal(cr.rrelu(cr.tensor(x), 0.1, 0.3, True, gen)._data, y._data)
    t = torch.tensor(x)  # torch: the same law
    tt = F.rrelu(t, 0.1, 0.3, training=True)[:2000] / t[:2000]
    assert tt.min() >= 0.1 and tt.max() <= 0.3


def test_nan_passes_like_torchs_scalar_kernels():
    """torch's vectorized and scalar kernels disagree on nan (the vector path masks it out);
    chainrule follows the scalar rule everywhere: nan in, nan out, the gradient passed."""
    x = np.array([np.nan, 1.0, -1.0])
    for name in ("softshrink", "hardshrink", "hardswish", "threshold"):
        kw = {"threshold": 0.0, "value": 2.0} if name == "threshold" else {}
        ours = cr.tensor(x, requires_grad=True)
        y = getattr(A, name)(ours, **kw)
        theirs = getattr(F, name)(torch.tensor(x), **kw)
        np.testing.assert_array_equal(y._data, theirs.numpy())
        (g,) = cr.autograd.grad(y.sum(), ours)
        assert g._data[0] == 1.0

"""Reductions: the table (torch parity, finite differences, second order), then errors."""

import warnings

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences, inputs_for, to_cr, to_torch

import chainrule as cr

S, M = (3, 4), (2, 3, 4)
INF = float("inf")
NANS = np.array([[1.0, np.nan, 3.0, np.nan], [0.5, 2.0, -1.0, 2.0]])


def ints(shape, lo=0, hi=5):
    return lambda r: [r.integers(lo, hi, shape)]


def bools(shape):
    return lambda r: [r.uniform(size=shape) > 0.3]


def ties(r):  # rows with repeated extremes
    return [np.array([[1.0, 3.0, 3.0, -1.0], [-2.0, 0.5, -2.0, 0.5], [4.0, 4.0, 4.0, 4.0]])]


def zeros(*where):  # an M-shaped input with zeros at the given flat positions
    def make(r):
        a = r.uniform(0.5, 1.5, M) * r.choice([-1, 1], M)
        a.flat[list(where)] = 0.0
        return [a]

    return make


def spread(r):  # well separated values, so finite differences never cross a tie
    return [r.permutation(24).reshape(M) / 4.0 - 3.0]


CASES = [
    # sum
    Case("sum", lambda m, a: m.sum(a), [M]),
    Case("sum", lambda m, a: a.sum(), [()], note="0d"),
    Case("sum", lambda m, a: m.sum(a, 1), [M], note="dim"),
    Case("sum", lambda m, a: a.sum(-1, keepdim=True), [M], note="neg-keepdim"),
    Case("sum", lambda m, a: m.sum(a, (0, 2)), [M], note="tuple"),
    Case("sum", lambda m, a: m.sum(a, (-1, 0), True), [M], note="tuple-keepdim"),
    Case("sum", lambda m, a: m.sum(a, ()), [M], note="empty-dims"),
    Case("sum", lambda m, a: m.sum(a, 1), [(3, 1, 2)], note="size1"),
    Case("sum", lambda m, a: m.sum(a, dtype=m.float64), [S], note="dtype"),
    Case("sum", lambda m, a: m.sum(a, 0), make=ints(S), grad=False, note="int"),
    Case("sum", lambda m, a: m.sum(a), make=bools(S), grad=False, note="bool"),
    # mean
    Case("mean", lambda m, a: m.mean(a), [M]),
    Case("mean", lambda m, a: a.mean(-2), [M], note="neg"),
    Case("mean", lambda m, a: m.mean(a, (0, 1), keepdim=True), [M], note="tuple-keepdim"),
    Case("mean", lambda m, a: m.mean(a, 0), [()], note="0d"),
    Case("mean", lambda m, a: m.mean(a, dtype=m.float64), make=ints(S), grad=False, note="int"),
    # prod
    Case("prod", lambda m, a: m.prod(a), [S], domain=(0.5, 1.5)),
    Case("prod", lambda m, a: a.prod(1), [M], note="dim"),
    Case("prod", lambda m, a: m.prod(a, -1, keepdim=True), [M], note="keepdim"),
    Case("prod", lambda m, a: m.prod(a), [()], note="0d"),
    Case("prod", lambda m, a: m.prod(a, 0, keepdim=True), [()], note="0d-dim"),
    Case("prod", lambda m, a: m.prod(a), make=zeros(5), note="one-zero"),
    Case("prod", lambda m, a: m.prod(a), make=zeros(5, 17), note="two-zeros"),
    Case("prod", lambda m, a: m.prod(a), make=zeros(1, 5, 17), note="three-zeros"),
    Case("prod", lambda m, a: m.prod(a, 2), make=zeros(1, 2, 9, 20), note="dim-zeros"),
    Case("prod", lambda m, a: m.prod(a, 1), make=zeros(0, 4, 8, 13, 17), note="dim-zeros2"),
    Case("prod", lambda m, a: m.prod(a, 1), make=ints(S, -3, 3), grad=False, note="int"),
    # cumsum, cumprod
    Case("cumsum", lambda m, a: m.cumsum(a, 1), [M]),
    Case("cumsum", lambda m, a: a.cumsum(-1), [S], note="neg"),
    Case("cumsum", lambda m, a: m.cumsum(a, 0), [()], note="0d"),
    Case("cumsum", lambda m, a: m.cumsum(a, 0, dtype=m.float64), [S], note="dtype"),
    Case("cumsum", lambda m, a: m.cumsum(a, 1), make=bools(S), grad=False, note="bool"),
    Case("cumprod", lambda m, a: m.cumprod(a, 2), [M]),
    Case("cumprod", lambda m, a: a.cumprod(-2), [M], note="neg"),
    Case("cumprod", lambda m, a: m.cumprod(a, 0), [()], note="0d"),
    Case("cumprod", lambda m, a: m.cumprod(a, 2), make=zeros(1, 9), note="zeros"),
    Case("cumprod", lambda m, a: m.cumprod(a, 2), make=zeros(0, 2, 5, 6, 7, 23), note="zeros2"),
    Case("cumprod", lambda m, a: m.cumprod(a, 1), make=zeros(0, 4, 13, 21), note="zeros-dim1"),
    Case("cumprod", lambda m, a: m.cumprod(a, 0), make=ints((4,), -3, 3), grad=False, note="int"),
    # amax, amin
    Case("count_nonzero", lambda m, a: m.count_nonzero(a * (a > 0)), make=spread, grad=False),
    Case(
        "count_nonzero",
        lambda m, a: (a * (a > 0)).count_nonzero(1),
        make=spread,
        grad=False,
        note="dim",
    ),
    Case("amax", lambda m, a: m.amax(a), make=spread),
    Case("amax", lambda m, a: m.amax(a, 1), make=spread, note="dim"),
    Case("amax", lambda m, a: a.amax((0, -1), keepdim=True), make=spread, note="tuple-keepdim"),
    Case("amax", lambda m, a: m.amax(a, 1), make=ties, fd=False, note="ties"),
    Case("amax", lambda m, a: m.amax(a), make=ties, fd=False, note="ties-all"),
    Case("amin", lambda m, a: m.amin(a, -1), make=spread),
    Case("amin", lambda m, a: m.amin(a, 1, True), make=ties, fd=False, note="ties"),
    Case("amin", lambda m, a: m.amin(a, 0), [()], note="0d"),
    # max, min
    Case("max", lambda m, a: m.max(a), make=spread),
    Case("max", lambda m, a: a.max(), make=ties, fd=False, note="ties-all"),
    Case("max", lambda m, a: m.max(a, 1), make=spread, note="dim"),
    Case("max", lambda m, a: a.max(-1, keepdim=True), make=spread, note="neg-keepdim"),
    Case("max", lambda m, a: m.max(a, 1), make=ties, fd=False, note="ties-dim"),
    Case("max", lambda m, a: m.max(a, dim=0, keepdim=True), make=ties, fd=False, note="ties-kw"),
    Case("max", lambda m, a: m.max(a, 0), [()], note="0d"),
    Case("max", lambda m, a: m.max(a, 0).values, [(5,)], note="values"),
    Case("max", lambda m, a, b: m.max(a, b), [S, (4,)], note="binary"),
    Case("max", lambda m, a: m.max(a), make=ints(S), grad=False, note="int"),
    Case("min", lambda m, a: m.min(a), make=spread),
    Case("min", lambda m, a: a.min(), make=ties, fd=False, note="ties-all"),
    Case("min", lambda m, a: m.min(a, 2), make=spread, note="dim"),
    Case("min", lambda m, a: a.min(0, True), make=ties, fd=False, note="ties-dim"),
    Case("min", lambda m, a, b: a.min(b), [S, S], note="binary"),
    Case("max", lambda m, a: m.max(a, 1), make=lambda r: [NANS], fd=False, note="nan-dim"),
    Case("max", lambda m, a: m.max(a), make=lambda r: [NANS], fd=False, note="nan-all"),
    Case("amin", lambda m, a: m.amin(a, 1), make=lambda r: [NANS], fd=False, note="nan"),
    Case("amax", lambda m, a: m.amax(a), make=lambda r: [NANS], fd=False, note="nan-all"),
    Case("min", lambda m, a: m.min(a), make=lambda r: [NANS], fd=False, note="nan-all"),
    Case("argmax", lambda m, a: m.argmax(a, 1), make=lambda r: [NANS], grad=False, note="nan"),
    # argmax, argmin
    Case("argmax", lambda m, a: m.argmax(a), make=ties, grad=False),
    Case("argmax", lambda m, a: m.argmax(a, 1), make=ties, grad=False, note="dim"),
    Case("argmax", lambda m, a: a.argmax(-1, keepdim=True), make=ties, grad=False, note="keep"),
    Case("argmax", lambda m, a: m.argmax(a, keepdim=True), make=ties, grad=False, note="flat-k"),
    Case("argmax", lambda m, a: m.argmax(a, 0), [()], grad=False, note="0d"),
    Case("argmin", lambda m, a: m.argmin(a), make=ties, grad=False),
    Case("argmin", lambda m, a: a.argmin(0), make=ints(S), grad=False, note="int"),
    # var, std, var_mean, std_mean
    Case("var", lambda m, a: m.var(a), [M]),
    Case("var", lambda m, a: m.var(a, 1), [M], note="dim"),
    Case("var", lambda m, a: a.var((0, -1), keepdim=True), [M], note="tuple-keepdim"),
    Case("var", lambda m, a: m.var(a, 1, False), [M], note="unbiased-pos"),
    Case("var", lambda m, a: m.var(a, False), [M], note="unbiased-only"),
    Case("var", lambda m, a: m.var(a, 0, unbiased=False, keepdim=True), [S], note="unbiased-kw"),
    Case("var", lambda m, a: m.var(a, 0, correction=0), [S], note="correction0"),
    Case("var", lambda m, a: m.var(a, -1, correction=2), [S], note="correction2"),
    Case("var", lambda m, a: m.var(a, 1, correction=1.5), [S], note="correction-float"),
    Case("std", lambda m, a: m.std(a), [M]),
    Case("std", lambda m, a: a.std(1, keepdim=True), [M], note="keepdim"),
    Case("std", lambda m, a: m.std(a, (0, 2), correction=0), [M], note="correction"),
    Case("std", lambda m, a: m.std(a, 1, True, True), [M], note="positional"),
    Case(
        "std",
        lambda m, a: m.std(a, 1),
        make=lambda r: [np.array([[2.0, 2.0, 2.0], [1.0, -2.0, 0.5]])],
        fd=False,
        note="zero-std",
    ),
    Case("var_mean", lambda m, a: m.var_mean(a, 1), [M]),
    Case("var_mean", lambda m, a: m.var_mean(a, correction=0), [M], note="all"),
    Case("std_mean", lambda m, a: m.std_mean(a, (0, 1), keepdim=True), [M]),
    Case("std_mean", lambda m, a: m.std_mean(a, False), [S], note="unbiased"),
    # logsumexp
    Case("logsumexp", lambda m, a: m.logsumexp(a, 1), [M]),
    Case("logsumexp", lambda m, a: a.logsumexp((0, -1), keepdim=True), [M], note="tuple"),
    Case("logsumexp", lambda m, a: m.logsumexp(a, 0), [()], note="0d"),
    Case(
        "logsumexp",
        lambda m, a: m.logsumexp(a, 1),
        make=lambda r: [np.array([[1000.0, 1000.5, 999.0], [-1000.0, -1001.0, -999.5]])],
        note="large",
    ),
    Case("logsumexp", lambda m, a: m.logsumexp(a, 1), make=ints(S), grad=False, note="int"),
    # norm
    Case("norm", lambda m, a: m.norm(a), [M]),
    Case("norm", lambda m, a: a.norm(2, 1), [M], note="dim"),
    Case("norm", lambda m, a: m.norm(a, "fro", (0, 1), keepdim=True), [M], note="fro"),
    Case("norm", lambda m, a: m.norm(a, 1, -1), [M], note="p1"),
    Case("norm", lambda m, a: m.norm(a, INF, 1), make=spread, note="inf"),
    Case("norm", lambda m, a: m.norm(a, -INF, 1), make=spread, note="-inf"),
    Case("norm", lambda m, a: m.norm(a, INF), make=ties, fd=False, note="inf-ties"),
    Case("norm", lambda m, a: m.norm(a, 0, 1), [M], note="p0"),
    Case("norm", lambda m, a: m.norm(a, 3, 2), [M], note="p3"),
    Case("norm", lambda m, a: m.norm(a, 1.5, 0), [M], note="p1.5"),
    Case("norm", lambda m, a: m.norm(a, 0.5, 0), [M], note="p0.5"),
    Case("norm", lambda m, a: m.norm(a, dim=1, dtype=m.float64), [S], note="dtype"),
    Case(
        "norm",
        lambda m, a: m.norm(a, dim=1),
        make=lambda r: [np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]])],
        fd=False,
        note="zero",
    ),
    Case(
        "norm",
        lambda m, a: m.norm(a, 3, 1),
        make=lambda r: [np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.0]])],
        fd=False,
        note="zero-p3",
    ),
    Case(
        "norm",
        lambda m, a: (m.norm(a, 1, 1), m.norm(a, INF, 1), m.norm(a, -INF, 1)),
        make=lambda r: [
            np.array(
                [
                    [np.nan, 1.0, -2.0],
                    [np.inf, -np.inf, 1.0],
                    [0.0, -0.0, 0.0],
                    [np.nan, np.inf, 0.0],
                    [-np.inf, 0.0, 2.0],
                ]
            )
        ],  # fmt: skip
        fd=False,
        note="p1-inf-special",
    ),
    Case("norm", lambda m, a: m.norm(a, INF, 1), [(0, 3)], note="inf-no-rows"),
    Case("renorm", lambda m, a: m.renorm(a, 2, 0, 1.0), [S]),
    Case("renorm", lambda m, a: a.renorm(1, 1, 2.0), [S], note="p1-dim1"),
    Case("renorm", lambda m, a: m.renorm(a, 3, -2, 1.5), [M], note="p3-3d"),
    Case("renorm", lambda m, a: m.renorm(a, INF, 0, 0.8), [S], note="inf", fd=False),
    Case("renorm", lambda m, a: m.renorm(a, 2, 1, 100.0), [S], note="none-scaled"),
    Case("renorm", lambda m, a: m.renorm(a.t(), 2.5, 0, 1), [S], note="non-contiguous"),
    # all, any
    Case("all", lambda m, a: m.all(a), make=bools(S), grad=False),
    Case("all", lambda m, a: a.all(1, keepdim=True), make=bools(S), grad=False, note="dim"),
    Case("all", lambda m, a: m.all(a, (0, 1)), make=bools(M), grad=False, note="tuple"),
    Case("all", lambda m, a: m.all(a, ()), make=bools(S), grad=False, note="empty-dims"),
    Case("any", lambda m, a: a.any(dim=()), make=ints(S, 0, 3), grad=False, note="empty-dims"),
    Case("all", lambda m, a: m.all(a, 0), make=ints(S, 0, 3), grad=False, note="int"),
    Case(
        "all",
        lambda m, a: m.all(a.to(m.uint8), 1),
        make=ints(S, 0, 3),
        grad=False,
        note="uint8",
    ),
    Case("any", lambda m, a: m.any(a), make=bools(S), grad=False),
    Case("any", lambda m, a: a.any(-1), [S], grad=False, note="float"),
    Case("any", lambda m, a: m.any(a, 0, True), make=bools(M), grad=False, note="keepdim"),
    # nansum, nanmean
    Case("nansum", lambda m, a: m.nansum(a), make=lambda r: [NANS]),
    Case("nansum", lambda m, a: a.nansum(1), make=lambda r: [NANS], note="dim"),
    Case("nansum", lambda m, a: m.nansum(a, (0, 2), keepdim=True), [M], note="tuple-keepdim"),
    Case("nansum", lambda m, a: m.nansum(a, dtype=m.float64), make=lambda r: [NANS], note="dtype"),
    Case("nansum", lambda m, a: m.nansum(a), [()], note="0d"),
    Case("nansum", lambda m, a: m.nansum(a, 0), make=ints(S), grad=False, note="int"),
    Case("nansum", lambda m, a: m.nansum(a), make=bools(S), grad=False, note="bool"),
    Case("nanmean", lambda m, a: m.nanmean(a), make=lambda r: [NANS]),
    Case("nanmean", lambda m, a: a.nanmean(1, keepdim=True), make=lambda r: [NANS], note="dim"),
    Case("nanmean", lambda m, a: m.nanmean(a, 0), make=lambda r: [NANS], note="all-nan-col"),
    Case("nanmean", lambda m, a: m.nanmean(a, (0, 1)), [M], note="tuple"),
    Case(
        "nanmean", lambda m, a: m.nanmean(a, dtype=m.float64), make=lambda r: [NANS], note="dtype"
    ),  # fmt: skip
    # aminmax
    Case("aminmax", lambda m, a: m.aminmax(a), make=spread),
    Case("aminmax", lambda m, a: a.aminmax(dim=1), make=spread, note="dim"),
    Case(
        "aminmax",
        lambda m, a: m.aminmax(a, dim=-1, keepdim=True),
        make=ties,
        fd=False,
        note="ties-keepdim",
    ),  # fmt: skip
    Case(
        "aminmax", lambda m, a: m.aminmax(a, keepdim=True), make=ties, fd=False, note="ties-all"
    ),  # fmt: skip
    Case(
        "aminmax", lambda m, a: m.aminmax(a, dim=1), make=lambda r: [NANS], fd=False, note="nan"
    ),  # fmt: skip
    Case("aminmax", lambda m, a: m.aminmax(a, dim=0, keepdim=True), [()], note="0d"),
    Case("aminmax", lambda m, a: m.aminmax(a, dim=0), make=ints(S), grad=False, note="int"),
    Case("aminmax", lambda m, a: m.aminmax(a), make=bools(S), grad=False, note="bool"),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


# torch records var_mean/std_mean as one node; chainrule composes them from two
COMPOSED = {"var_mean", "std_mean"}


@pytest.mark.parametrize("case", [c for c in CASES if c.grad and c.op not in COMPOSED], ids=case_id)
def test_grad_fn_names(case):
    arrays = inputs_for(case)
    ours = case.fn(cr, *[to_cr(a, "float64", True) for a in arrays])
    theirs = case.fn(torch, *[to_torch(a, "float64", True) for a in arrays])
    ours, theirs = (o if isinstance(o, tuple) else (o,) for o in (ours, theirs))
    for o, t in zip(ours, theirs):
        if t.grad_fn is not None:
            assert o.grad_fn.name() == t.grad_fn.name()


# --------------------------------------------------------------------------- the rest


def test_aminmax_is_a_named_tuple_min_max():
    x = cr.tensor([[1.0, 5.0, 5.0], [2.0, -1.0, 2.0]])
    r, rt = x.aminmax(dim=1), torch.tensor(x.numpy()).aminmax(dim=1)
    assert r._fields == ("min", "max") and type(r).__name__ == "aminmax"
    assert r.min.tolist() == rt.min.tolist() and r.max.tolist() == rt.max.tolist()
    assert repr(r) == repr(rt).replace("torch.", "chainrule.")


def test_max_dim_is_a_named_tuple():
    x = cr.tensor([[1.0, 5.0, 5.0], [2.0, -1.0, 2.0]], requires_grad=True)
    r = x.max(1)
    values, indices = r
    assert r.values is values and r.indices is indices
    assert indices.tolist() == [1, 0]  # the first of tied maxima, as torch
    assert type(r).__name__ == "max" and repr(r).startswith("chainrule.return_types.max(")
    assert type(cr.min(x, 0)).__name__ == "min"
    values.sum().backward()
    assert x.grad.tolist() == [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]


def test_logsumexp_is_finite_for_large_inputs():
    x = cr.tensor([1000.0, 1000.0], requires_grad=True)
    y = cr.logsumexp(x, 0)
    assert abs(y.item() - (1000.0 + np.log(2.0))) < 1e-3
    y.backward()
    np.testing.assert_allclose(x.grad._data, [0.5, 0.5], rtol=1e-4)


def test_prod_gradient_with_one_zero_is_product_of_others():  # worked example
    x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 6.0, 0.0]


@pytest.mark.parametrize("shape, dim", [((0,), None), ((0, 3), 0), ((2, 0), (0, 1))])
def test_mean_of_empty_has_an_empty_gradient(shape, dim):
    """The mean over zero elements is nan and its gradient is empty (it divided by 0)."""
    grads = []
    for m in (cr, torch):
        x = m.zeros(shape, requires_grad=True)
        y = x.mean() if dim is None else x.mean(dim)
        (g,) = m.autograd.grad(y, [x], m.ones(tuple(y.shape)))
        grads.append(g.numpy())
    assert grads[0].shape == grads[1].shape == shape


def test_var_with_no_degrees_of_freedom_warns_like_torch():
    with pytest.warns(UserWarning, match=r"var\(\): degrees of freedom is <= 0"):
        v = cr.var(cr.ones(1))
    assert np.isnan(v.item())
    with pytest.warns(UserWarning, match=r"std\(\): degrees of freedom is <= 0"):
        s = cr.tensor([[1.0, 2.0]]).std(0)
    assert np.isnan(s._data).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.var(cr.ones(3))


ERRORS = [
    (lambda m: m.mean(m.tensor([1, 2])), RuntimeError, "mean\\(\\): could not infer output dtype"),
    (lambda m: m.var(m.tensor([1, 2])), RuntimeError, "std and var only support floating point"),
    (lambda m: m.std(m.tensor([1, 2])), RuntimeError, "std and var only support floating point"),
    (
        lambda m: m.var(m.ones(3), 0, unbiased=False, correction=0),
        TypeError,
        "var\\(\\) received an invalid combination of arguments",
    ),
    (
        lambda m: m.prod(m.ones(2, 2), dim=(0, 1)),
        TypeError,
        "prod\\(\\) received an invalid combination of arguments",
    ),
    (
        lambda m: m.max(m.ones(2, 2), (0, 1)),
        TypeError,
        "max\\(\\) received an invalid combination of arguments",
    ),
    (
        lambda m: m.norm(m.tensor([1, 2])),
        RuntimeError,
        "linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long",
    ),
    (lambda m: m.norm(m.ones(2, 2), "abc"), RuntimeError, "linalg.matrix_norm: Order abc not"),
    (
        lambda m: m.norm(m.ones(2, 2, 2), dim=(0, -1, 2)),
        RuntimeError,
        "linalg.matrix_norm: dim must be a 2-tuple. Got 0 -1 2",
    ),
    (
        lambda m: m.norm(m.ones(0), INF),
        RuntimeError,
        "linalg.vector_norm cannot compute the inf norm on an empty tensor because the "
        "operation does not have an identity",
    ),
    (
        lambda m: m.norm(m.ones(0, 3), -1, dim=()),
        RuntimeError,
        "cannot compute the -1 norm on an empty tensor because",
    ),
    (
        lambda m: m.norm(m.ones(2, 0), -INF, dim=(0, -1)),
        RuntimeError,
        "linalg.vector_norm cannot compute the -inf norm on the dimension -1because this "
        "dimension is empty and the operation does not have an identity",
    ),
    (
        lambda m: m.linalg.vector_norm(m.ones(0, 0), -0.5, (1, 0)),
        RuntimeError,
        "cannot compute the -0.5 norm on the dimension 1because",
    ),
    (
        lambda m: m.max(m.ones(0)),
        RuntimeError,
        "max\\(\\): Expected reduction dim to be specified for input.numel\\(\\) == 0",
    ),
    (
        lambda m: m.amin(m.ones(0)),
        RuntimeError,
        "amin\\(\\): Expected reduction dim to be specified for input.numel\\(\\) == 0",
    ),
    (lambda m: m.max(m.ones(0, 3), 0), IndexError, "max\\(\\): Expected reduction dim 0 to have"),
    (lambda m: m.amax(m.ones(0, 3), 0), IndexError, "amax\\(\\): Expected reduction dim 0 to"),
    (lambda m: m.argmax(m.ones(0)), IndexError, "argmax\\(\\): Expected reduction dim to be"),
    (lambda m: m.argmin(m.ones(0, 2), 0), IndexError, "argmin\\(\\): Expected reduction dim 0"),
    (lambda m: m.argmax(m.ones(2) > 0), RuntimeError, "argmax\\(\\): does not support bool"),
    (lambda m: m.argmin(m.ones(2) > 0, 0), RuntimeError, "argmin\\(\\): does not support bool"),
    (lambda m: m.sum(m.ones(2, 3), 2), IndexError, "Dimension out of range"),
    (lambda m: m.cumsum(m.ones(2), 1), IndexError, "Dimension out of range"),
    (lambda m: m.amax(m.ones(2, 3), (0, 0)), RuntimeError, "dim 0 appears multiple times"),
    (lambda m: m.nansum(m.tensor([1j])), RuntimeError, "^nansum on CPU does not support complex"),
    (
        lambda m: m.nanmean(m.tensor([1, 2]), dtype=m.float32),
        RuntimeError,
        "^nanmean\\(\\): expected input to have floating point or complex dtype but got Long$",
    ),
    (
        lambda m: m.aminmax(m.ones(0)),
        RuntimeError,
        "^aminmax\\(\\): cannot compute aminmax over an empty dimension as the operation has "
        "no identity.$",
    ),
    (
        lambda m: m.aminmax(m.ones(0, 3), dim=0),
        IndexError,
        "^aminmax: Expected reduction dim 0 to have non-zero size.$",
    ),
    (lambda m: m.aminmax(m.tensor([1j])), NotImplementedError, "aminmax_cpu.*ComplexFloat"),
    (lambda m: m.aminmax(m.ones(2, 3), dim=(0, 1)), TypeError, "'dim' must be int, not tuple"),
    (lambda m: m.renorm(m.ones(2, 2), 0, 0, 1.0), RuntimeError, "^renorm: non-positive-norm"),
    (lambda m: m.renorm(m.ones(2, 2), 2j, 0, 1.0), RuntimeError, "^renorm: p must be real"),
    (lambda m: m.renorm(m.ones(2, 2), 2, 0, 1j), RuntimeError, "^renorm: maxnorm must be real"),
    (
        lambda m: m.renorm(m.ones(2, 2), 2, 0, -1.5),
        RuntimeError,
        "^renorm: expected maxnorm to be >= 0 but got -1.5$",
    ),
    (
        lambda m: m.renorm(m.ones(3), 2, 0, 1.0),
        RuntimeError,
        "^renorm: input needs at least 2 dimensions, got 1 dimensions$",
    ),
    (
        lambda m: m.renorm(m.ones(2, 2), 2, 2, 1.0),
        IndexError,
        "^Dimension out of range \\(expected to be in range of \\[-2, 1\\], but got 2\\)$",
    ),
    (
        lambda m: m.renorm(m.ones(2, 2, dtype=m.int64), 2, 0, 1.0),
        RuntimeError,
        "^linalg.vector_norm: Expected a floating point or complex tensor as input. Got Long$",
    ),
]


@pytest.mark.parametrize("lib", ["torch", "chainrule"])
@pytest.mark.parametrize("make,exc,msg", ERRORS)
def test_errors_match_torch(make, exc, msg, lib):
    with pytest.raises(exc, match=msg):
        make(torch if lib == "torch" else cr)


def test_norm_nuc_is_not_supported():
    with pytest.raises(NotImplementedError, match="nuc"):
        cr.norm(cr.ones(2, 2), "nuc")


@pytest.mark.parametrize(
    "fn",
    [
        lambda m: m.zeros(0).mean(),
        lambda m: m.zeros(0, 3).mean(0),
        lambda m: m.var(m.tensor([[INF, 1.0, -INF]]), 1),
        lambda m: m.std(m.tensor([INF, 1.0])),
        lambda m: m.logsumexp(m.tensor([-INF, -INF]), 0),
        lambda m: m.norm(m.zeros(3), -1),
        lambda m: m.norm(m.tensor([INF, 1.0]), 0.5),
        lambda m: m.softmax(m.tensor([INF, 1.0]), 0),
        lambda m: m.log_softmax(m.tensor(INF), 0),
    ],
)
def test_no_numpy_floating_point_warnings(fn):
    """Empty means, infinite inputs: torch is silent, and so is chainrule."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = fn(cr)
    np.testing.assert_array_equal(ours.numpy(), fn(torch).numpy())

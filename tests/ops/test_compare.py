"""Comparisons and logic: boolean results that match torch, and never a gradient."""

import numpy as np
import pytest
from harness import Case, case_id, check_case

import chainrule as cr

S = (3, 4)


def ties(r):
    a = r.integers(-2, 3, S).astype(float)
    return [a, np.where(r.uniform(size=S) > 0.5, a, r.integers(-2, 3, S).astype(float))]


def bools(r):
    return [r.uniform(size=S) > 0.5, r.uniform(size=(4,)) > 0.5]


def ints(r):
    return [r.integers(-8, 8, S), r.integers(-8, 8, (4,))]


def special(r):
    return [np.array([1.0, np.inf, -np.inf, np.nan, 0.0])]


CASES = [Case(name, (lambda n: lambda m, a, b: getattr(m, n)(a, b))(name), make=ties, grad=False)
         for name in ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less",
                      "less_equal", "not_equal"]]  # fmt: skip
CASES += [
    Case("eq", lambda m, a, b: a == b, make=ties, grad=False, note="operator"),
    Case("lt", lambda m, a: a < 0.5, [S], grad=False, note="scalar"),
    Case("ge", lambda m, a, b: a >= b, [S, (4,)], grad=False, note="broadcast"),
    Case("isnan", lambda m, a: m.isnan(a), make=special, grad=False),
    Case("isinf", lambda m, a: m.isinf(a), make=special, grad=False),
    Case("isposinf", lambda m, a: m.isposinf(a), make=special, grad=False),
    Case("isneginf", lambda m, a: m.isneginf(a), make=special, grad=False),
    Case("isfinite", lambda m, a: m.isfinite(a), make=special, grad=False),
    Case("logical_and", lambda m, a, b: m.logical_and(a, b), make=bools, grad=False),
    Case("logical_or", lambda m, a, b: m.logical_or(a, b), make=bools, grad=False),
    Case("logical_xor", lambda m, a, b: m.logical_xor(a, b), make=bools, grad=False),
    Case("logical_not", lambda m, a, b: m.logical_not(a), make=bools, grad=False),
    Case(
        "logical_and", lambda m, a, b: m.logical_and(a > 0, b), make=ties, grad=False, note="mixed"
    ),
    Case("bitwise_and", lambda m, a, b: a & b, make=bools, grad=False),
    Case("bitwise_or", lambda m, a, b: m.bitwise_or(a, b), make=ints, grad=False),
    Case("bitwise_xor", lambda m, a, b: a ^ b, make=ints, grad=False),
    Case("bitwise_not", lambda m, a, b: ~a, make=bools, grad=False),
    Case(
        "bitwise_and",
        lambda m, a, b: (b[0] & a.to(m.int32), a.to(m.int32) | b[1], b[2].to(m.uint8) ^ b),
        make=ints,
        grad=False,
        note="0d-int64-with-int32",
    ),
    Case(
        "bitwise_xor",
        lambda m, a, b: (a.to(m.uint8) ^ 300, -1 & a.to(m.int8), m.bitwise_or(True, a > 0) | 7),
        make=ints,
        grad=False,
        note="python-numbers-wrap",
    ),
    Case("isclose", lambda m, a, b: m.isclose(a, b), make=ties, grad=False),
    Case("equal", lambda m, a, b: m.tensor([m.equal(a, b), m.equal(a, a)]), make=ties, grad=False),
    Case(
        "allclose",
        lambda m, a, b: m.tensor([m.allclose(a, b), m.allclose(a, a + 1e-9)]),
        make=ties,
        grad=False,
    ),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


def test_comparisons_never_require_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for r in (x > 1, x == x, cr.isnan(x), cr.logical_not(x > 0)):
        assert r.dtype == cr.bool and not r.requires_grad


def test_equal_and_allclose():
    a = cr.tensor([1.0, 2.0])
    assert cr.equal(a, cr.tensor([1.0, 2.0])) and not cr.equal(a, cr.tensor([1.0]))
    assert cr.allclose(a, a + 1e-9) and not cr.allclose(a, a + 1e-3)


def test_bitwise_on_floats_is_an_error():
    with pytest.raises(NotImplementedError, match="bitwise_and_cpu\" not implemented for 'Float'"):
        cr.tensor([1.0]) & cr.tensor([1.0])


@pytest.mark.parametrize(
    "fn, exc, message",
    [
        (lambda m: m.tensor([1.0], dtype=m.float64) & 1, NotImplementedError, "for 'Double'"),
        (lambda m: m.tensor([1]) | m.tensor(1.0, dtype=m.float64), NotImplementedError, "Double"),
        (lambda m: m.bitwise_xor(m.tensor([True]), 1.5), NotImplementedError, "for 'Float'"),
        (lambda m: m.bitwise_not(m.tensor([1.0], dtype=m.float64)), NotImplementedError, "Double"),
        (lambda m: ~m.tensor([1.0]), TypeError, r"~ \(operator.invert\) is only implemented on"),
    ],
)
def test_bitwise_on_floats_names_the_promoted_dtype(fn, exc, message):
    import torch

    for m in (torch, cr):
        with pytest.raises(exc, match=message):
            fn(m)

"""Number-theoretic and floating-point-bit functions against torch: gcd and lcm (integers,
their in-place forms), nextafter, ldexp (torch's gradients) and frexp (the named tuple, the
mantissa's gradient); then dtypes, edge values and errors."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr


def int_pairs(r):
    return [r.integers(-30, 30, (3, 4)), r.integers(-30, 30, (4,))]


def exponents(r):
    return [r.uniform(-2, 2, (3, 4)), r.integers(-3, 4, (4,))]


CASES = [
    Case("gcd", lambda m, a, b: m.gcd(a, b), make=int_pairs, grad=False),
    Case("gcd", lambda m, a, b: a.gcd(b), make=int_pairs, grad=False, note="method"),
    Case("lcm", lambda m, a, b: m.lcm(a, b), make=int_pairs, grad=False),
    Case("lcm", lambda m, a, b: a.lcm(b), make=int_pairs, grad=False, note="method"),
    Case("nextafter", lambda m, a, b: m.nextafter(a, b), [(3, 4), (4,)]),
    Case("nextafter", lambda m, a, b: a.nextafter(b), [(3,), (3,)], note="method", order2=False),
    # torch's gradient through an integer exponent is an integer power of 2, 0 where the
    # exponent is negative: not the derivative there, so no finite differences
    Case("ldexp", lambda m, a, b: m.ldexp(a, b), make=exponents, fd=False),
    Case(
        "ldexp",
        lambda m, a, b: m.ldexp(a, b),
        make=lambda r: [r.uniform(-2, 2, (3, 4)), r.integers(0, 4, (4,))],
        note="int-exponent-fd",
    ),
    Case("ldexp", lambda m, a, b: m.ldexp(a, b), [(3, 4), (3, 1)], note="float-exponent"),
    Case("ldexp", lambda m, a, b: a.ldexp(b), [(2, 3), (3,)], note="method"),
    Case(
        "ldexp",
        lambda m, a, b: m.ldexp(a, b),
        make=lambda r: [r.integers(-3, 3, (4,)), r.integers(0, 3, (4,))],
        grad=False,
        note="ints",
    ),
    Case("frexp", lambda m, a: m.frexp(a), [(3, 4)], domain=(-50.0, 50.0)),
    Case("frexp", lambda m, a: a.frexp(), [(5,)], note="method"),
]

test_torch_parity, test_finite_differences, test_grad_fn_names = table_tests(CASES)


def _same(ours, theirs):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())


@pytest.mark.parametrize(
    "fn",
    [
        lambda m: m.gcd(m.tensor([12, -18, 0, 7, 0]), m.tensor([8, 12, 5, 0, 0])),
        lambda m: m.lcm(m.tensor([12, -18, 0, 7, 0]), m.tensor([8, 12, 5, 0, 0])),
        lambda m: m.gcd(m.tensor([12, -18], dtype=m.int16), m.tensor([8, 12], dtype=m.int32)),
        lambda m: m.lcm(m.tensor([2**40]), m.tensor([3**20])),  # wraps around, positive
        lambda m: m.lcm(m.tensor([200], dtype=m.uint8), m.tensor([3], dtype=m.uint8)),
        lambda m: m.tensor([12, -18], dtype=m.int32).gcd_(m.tensor([8, 12])),
        lambda m: m.lcm_(m.tensor([12, -18]), m.tensor([8, 12])),
        lambda m: m.gcd_(m.tensor([12, -18]), m.tensor([8, 12])),
        lambda m: m.tensor([12, -18]).lcm_(m.tensor([8, 12])),
        lambda m: m.nextafter(m.tensor([1.0, 0.0, -1.0]), m.tensor([2.0, -1.0, -2.0])),
        lambda m: m.nextafter(m.tensor([1.0, 0.0]), m.tensor([2.0, -1.0], dtype=m.float64)),
        lambda m: m.tensor([1.0, 0.0]).nextafter_(m.tensor([2.0, -1.0])),
        lambda m: m.ldexp(m.tensor([1.0, 2.0]).half(), m.tensor([30, 2])),
        lambda m: m.ldexp(m.tensor([1.0, 2.0]), m.tensor([1, 2], dtype=m.float64)),
        lambda m: m.tensor([1.0, 2.0]).ldexp_(m.tensor([1, 2])),
        lambda m: m.ldexp_(m.tensor([1.0, 2.0]), m.tensor([1.5, 2.0])),
        lambda m: m.frexp(m.tensor([1.5, -3.0, 0.0, 8.0, float("inf"), float("nan"), 1e-40]))[0],
        lambda m: m.frexp(m.tensor([1.5, -3.0, 0.0, 8.0, float("inf"), float("nan"), 1e-40]))[1],
        lambda m: m.frexp(m.tensor([1.5, -3.0, 1e-6]).half()).exponent,
        lambda m: m.frexp(m.tensor([1.5, -3.0, 1e-6], dtype=m.float64)).mantissa,
    ],
)
def test_values_and_dtypes_as_torch(fn):
    _same(fn(cr), fn(torch))


def test_ldexp_gradient_is_zero_for_negative_integer_exponents_as_torch():
    for lib in (torch, cr):
        x = lib.tensor([1.5, 1.5, 1.5], requires_grad=True)
        (g,) = lib.autograd.grad(lib.ldexp(x, lib.tensor([-1, 0, 2])).sum(), [x])
        assert g.tolist() == [0.0, 1.0, 4.0]


def test_frexp_is_a_named_tuple():
    out = cr.frexp(cr.tensor([3.0]))
    assert type(out).__name__ == "frexp" and out._fields == ("mantissa", "exponent")
    assert repr(out).startswith("chainrule.return_types.frexp(\nmantissa=tensor([0.7500])")


def test_gradients_through_integer_exponents_and_nextafter():
    for lib in (torch, cr):
        x = lib.tensor([1.5, -3.0], requires_grad=True)
        y = lib.tensor([0.0, 1.0], requires_grad=True)
        gx, gy = lib.autograd.grad(lib.nextafter(x, y).sum(), [x, y])
        assert gx.tolist() == [1.0, 1.0] and gy.tolist() == [0.0, 0.0]
        (gm,) = lib.autograd.grad(lib.frexp(x).mantissa.sum(), [x])
        assert gm.tolist() == [0.5, 0.25]


ERRORS = [
    lambda m: m.gcd(m.tensor([1, 2]), 4),
    lambda m: m.gcd(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0])),
    lambda m: m.lcm(m.tensor([True]), m.tensor([True])),
    lambda m: m.gcd(m.tensor([1, 2]), m.tensor([1.0, 2.0])),
    lambda m: m.gcd(m.tensor([1, 2, 3]), m.tensor([1, 2])),
    lambda m: m.nextafter(m.tensor([1, 0]), m.tensor([2, -1])),
    lambda m: m.nextafter(m.tensor([1.0, 0.0]), 2.0),
    lambda m: m.ldexp(m.tensor([1.0, 2.0]), 3),
    lambda m: m.ldexp(m.ones(3), m.ones(2)),
    lambda m: m.frexp(m.tensor([1, 2])),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with pytest.raises(Exception) as theirs:
        ERRORS[i](torch)
    with pytest.raises(type(theirs.value)) as ours:
        ERRORS[i](cr)
    assert str(ours.value) == str(theirs.value)


def test_ldexp_in_place_into_integers_is_refused():
    # torch words it "ldexp can't be cast ..."; chainrule gives the generic in-place refusal
    with pytest.raises(RuntimeError, match="can't be cast to the desired output type Long"):
        cr.tensor([1, 2]).ldexp_(cr.tensor([1, 2]))

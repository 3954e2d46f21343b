"""Comparisons and logic: boolean results that match torch, and never a gradient."""

import numpy as np
import pytest
import torch
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
        "bitwise_left_shift",
        lambda m, a, b: m.bitwise_left_shift(a, b.abs() % 8),
        make=ints,
        grad=False,
    ),
    Case("bitwise_right_shift", lambda m, a, b: a >> (b.abs() % 8), make=ints, grad=False),
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


# ----------------------------------------------- comparisons in torch's common dtype

_CMP_VALUES = {
    "int64": [3, 16777217, -2],
    "int32": [3, 16777217, -2],
    "uint8": [3, 200, 0],
    "bool": [True, False, True],
    "float32": [3.0, 16777216.0, 0.1],
    "float64": [3.0, 16777217.0, 0.1],
    "float16": [3.0, 2049.0, 0.1],
}


@pytest.mark.parametrize("dtype", _CMP_VALUES)
@pytest.mark.parametrize("number", [3.0000001, 16777217.0, 0.1, 3, 16777217, 2**33 + 3, True])
def test_compare_with_a_number_in_torch_dtype(dtype, number):
    """An int tensor against a float compares in the default float dtype (3 == 3.0000001);
    a Python int past an integer dtype's range wraps, as torch casts it."""
    got = []
    for m in (torch, cr):
        t = m.tensor(_CMP_VALUES[dtype], dtype=getattr(m, dtype))
        got.append([(t == number).tolist(), (t < number).tolist(), (number >= t).tolist()])
    assert got[1] == got[0]


@pytest.mark.parametrize("other", _CMP_VALUES)
@pytest.mark.parametrize("dtype", _CMP_VALUES)
@pytest.mark.parametrize("zero_d", [False, True])
def test_compare_tensors_in_torch_dtype(dtype, other, zero_d):
    """A 0-d float64 against a float32 tensor compares in float32 (torch's promotion)."""
    got = []
    for m in (torch, cr):
        t = m.tensor(_CMP_VALUES[dtype], dtype=getattr(m, dtype))
        v = _CMP_VALUES[other]
        u = m.tensor(v[2] if zero_d else v, dtype=getattr(m, other))
        got.append([(t == u).tolist(), (t > u).tolist(), (u <= t).tolist()])
    assert got[1] == got[0]


# ----------------------------------------------- shifts


@pytest.mark.parametrize("dtype", ["int64", "int32", "int16", "int8", "uint8"])
@pytest.mark.parametrize("counts", [[0, 1, 3], [7, 8, 9], [31, 32, 63], [64, 70, -1]])
def test_shifts_as_torch(dtype, counts):
    """torch's shifts: a count out of [0, width) gives 0 (-1 for a negative number shifted
    right), where C and NumPy leave it undefined."""
    values = [1, -8, 5] if dtype != "uint8" else [1, 200, 5]
    got = []
    for m in (torch, cr):
        x = m.tensor(values, dtype=getattr(m, dtype))
        c = m.tensor(counts, dtype=getattr(m, dtype)) if max(counts) < 128 else None
        row = [(x << counts[1]).tolist(), (x >> counts[2]).tolist()]
        row += [m.bitwise_left_shift(x, c).tolist(), m.bitwise_right_shift(x, c).tolist()]
        row += [(3 << x.abs().clamp(max=6)).tolist(), (100 >> x.abs().clamp(max=6)).tolist()]
        y = x.clone()
        y <<= 2
        z = x.clone()
        z >>= 1
        row += [y.tolist(), z.tolist(), str(y.dtype).split(".")[-1]]
        got.append(row)
    assert got[1] == got[0]


@pytest.mark.parametrize("value", [1.5, True])
def test_shift_refusals_as_torch(value):
    """Floats have no shift; nor two bools (a bool and a Python int shift as int64)."""
    errors = []
    for m in (torch, cr):
        by = m.tensor([True]) if value is True else 1
        for fn in (lambda x, by=by: x << by, lambda x, by=by: x >> by):
            with pytest.raises(NotImplementedError) as e:
                fn(m.tensor([value]))
            errors.append(str(e.value))
        assert (m.tensor([True]) << 1).tolist() == [2]
    assert errors[2:] == errors[:2]


def test_round_decimals_of_an_integer_tensor_is_refused_as_torch():
    errors = []
    for m in (torch, cr):
        assert m.tensor([15]).round().tolist() == [15]
        with pytest.raises(NotImplementedError) as e:
            m.tensor([15]).round(decimals=-1)
        errors.append(str(e.value))
    assert errors[1] == errors[0]


@pytest.mark.parametrize("number", [2**40, 2**33 + 1, -300, 2**63 - 1, 2**64 - 1, 2**70, -(2**64)])
@pytest.mark.parametrize("dtype", ["int32", "uint8", "int8", "int64"])
def test_a_python_int_past_the_dtype_wraps_as_torch(dtype, number):
    """torch casts the number to the tensor's dtype (it wraps); past 64 bits it raises."""
    got = []
    for m in (torch, cr):
        x = m.tensor([3, 100], dtype=getattr(m, dtype))
        try:
            got.append([(x + number).tolist(), (x * number).tolist(), (number - x).tolist()])
        except OverflowError:  # (torch's text varies with the dtype and the op)
            got.append("OverflowError")
    assert got[1] == got[0]


@pytest.mark.parametrize(
    "program",
    [
        lambda m: m.addcmul(m.tensor([1]), m.tensor([3]), m.tensor([5]), value=0.5),
        lambda m: m.addcmul(m.tensor([1]), m.tensor([3]), m.tensor([5]), value=True),
        lambda m: m.addcdiv(m.tensor([1.0]), m.tensor([3]), m.tensor([5])),
        lambda m: m.addcdiv(m.tensor([1]), m.tensor([3.0]), m.tensor([5])),
        lambda m: m.tensor([1]).addcmul_(m.tensor([1.5]), m.tensor([2.0])),
        lambda m: m.addcmul(m.ones(3, dtype=m.float32), m.ones(3, dtype=m.float64), m.ones(3)),
    ],
)
def test_addc_dtypes_and_refusals_as_torch(program):
    """An integer result reads value as an integer; integer addcdiv is refused."""
    _same_values_or_error(program)


def _same_values_or_error(program):
    out = []
    for m in (torch, cr):
        try:
            r = program(m)
            out.append((r.tolist(), str(r.dtype).split(".")[-1]))
        except (RuntimeError, NotImplementedError) as e:
            out.append(str(e))
    assert out[1] == out[0]


@pytest.mark.parametrize(
    "program",
    [
        lambda m: m.fliplr(m.ones(3)),
        lambda m: m.diff(m.tensor(1.0)),
        lambda m: m.diff(m.ones(2, 3), -1),
        lambda m: m.diff(m.ones(2, 3), 1, 0, m.zeros(3)),
        lambda m: m.diff(m.tensor([True, False, False])),
        lambda m: m.diff(m.tensor([1, 5, 2]), n=4),
        lambda m: m.count_nonzero(m.tensor([[0, 1.5], [2, 0]]), 1),
        lambda m: m.count_nonzero(m.tensor([[0, 1.5], [2, 0]]), (0, 1)),
        lambda m: m.deg2rad(m.tensor([180])),
        lambda m: m.fmax(m.tensor([1, 2]), m.tensor([3, 0])),
        lambda m: m.fmin(m.tensor([1.0, float("nan")]), m.tensor([float("nan"), 2.0])),
        lambda m: m.hypot(m.tensor([1, 2]), m.tensor([3, 4])),
        lambda m: m.logaddexp2(m.tensor([1, 2]), m.tensor([3, 4])),
        lambda m: m.tensor([3.0]).hypot_(m.tensor([4.0])),
        lambda m: m.flipud(m.tensor(1.0)),
        lambda m: m.nan_to_num(m.tensor([1, 2])),
        lambda m: m.nan_to_num(m.tensor([float("nan"), float("inf"), -float("inf")]).half()),
        lambda m: m.nan_to_num(m.tensor([float("nan"), float("inf")]).bfloat16(), posinf=5.0),
    ],
)
def test_new_ops_edges_as_torch(program):
    """diff, count_nonzero, fmax/fmin, hypot, logaddexp2, flips, nan_to_num: dtypes,
    edge values and errors."""
    _same_values_or_error(program)

"""Running extremes and log-sum-exp against torch: cummax, cummin (values, indices with
ties and nans, gradients scattered to the indices), logcumsumexp (stable, gradient)."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

M = (2, 3, 5)
N, INF = float("nan"), float("inf")


def spread(r):
    return [r.permutation(30).reshape(M) / 4.0 - 3.0]


def ties(r):
    return [np.array([[1.0, 3, 3, 2, 3], [4, 4, 1, 1, 0], [2, 2, 2, 2, 2]])]


def nans(r):
    return [np.array([[1.0, 3, N, 2, N, 5], [N, 0, 1, -1, -1, 2]])]


def ints(r):
    return [r.integers(0, 4, (3, 6))]


CASES = [
    Case("cummax", lambda m, a: m.cummax(a, 2), make=spread),
    Case("cummax", lambda m, a: a.cummax(0), make=spread, note="dim0"),
    Case("cummax", lambda m, a: m.cummax(a, -1), make=ties, fd=False, note="ties"),
    Case("cummax", lambda m, a: m.cummax(a, 1), make=nans, fd=False, note="nan"),
    Case("cummax", lambda m, a: m.cummax(a, 0), [()], note="0d"),
    Case("cummax", lambda m, a: m.cummax(a, 0), make=lambda r: [np.zeros((0, 2))], note="empty"),
    Case("cummax", lambda m, a: m.cummax(a, 1), make=ints, grad=False, note="int"),
    Case("cummin", lambda m, a: m.cummin(a, 1), make=spread),
    Case("cummin", lambda m, a: a.cummin(dim=1), make=ties, fd=False, note="ties"),
    Case("cummin", lambda m, a: m.cummin(a, 1), make=nans, fd=False, note="nan"),
    Case(
        "cummin",
        lambda m, a: m.cummin(a, 0),
        make=lambda r: [r.uniform(size=5) > 0.5],
        grad=False,
        note="bool",
    ),  # fmt: skip
    Case("logcumsumexp", lambda m, a: m.logcumsumexp(a, 2), [M]),
    Case("logcumsumexp", lambda m, a: a.logcumsumexp(0), [M], note="dim0"),
    Case(
        "logcumsumexp",
        lambda m, a: m.logcumsumexp(a, -1),
        [(3, 4)],
        domain=(-300.0, 300.0),
        rtol=1e-5,
        note="large",
    ),  # fmt: skip
    Case("logcumsumexp", lambda m, a: m.logcumsumexp(a, 0), [()], note="0d"),
    Case(
        "logcumsumexp",
        lambda m, a: m.logcumsumexp(a, 0),
        make=lambda r: [np.array([-INF, -INF, 1.0, 2.0])],
        fd=False,
        note="neg-inf",
    ),
]


test_torch_parity, test_finite_differences, test_grad_fn_names = table_tests(CASES)


def test_logcumsumexp_is_stable_where_the_naive_formula_overflows():
    a = np.array([1000.0, 1000.0, -1000.0, 999.0])
    ours = cr.tensor(a).logcumsumexp(0).numpy()
    np.testing.assert_allclose(ours, torch.tensor(a).logcumsumexp(0).numpy(), rtol=1e-12)
    assert np.isfinite(ours).all()
    with np.errstate(over="ignore"):
        assert not np.isfinite(np.log(np.cumsum(np.exp(a)))).all()


def _outcome(fn, lib):
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    outs = out if isinstance(out, tuple) else (out,)
    return "ok", [(str(o.dtype).split(".")[-1], tuple(o.shape), repr(o.tolist())) for o in outs]


ERRORS = {
    "cummax-complex": lambda m: m.tensor([1 + 1j]).cummax(0),
    "cummin-complex": lambda m: m.tensor([1 + 1j]).cummin(0),
    "cummax-range": lambda m: m.ones(3).cummax(1),
    "logcumsumexp-int": lambda m: m.tensor([1, 3]).logcumsumexp(0),
    "logcumsumexp-bool": lambda m: m.tensor([True]).logcumsumexp(0),
    "logcumsumexp-range": lambda m: m.ones(3).logcumsumexp(-2),
    "logcumsumexp-inf": lambda m: m.tensor([INF, INF, 1.0]).logcumsumexp(0),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_and_edges_like_torch(name):
    assert _outcome(ERRORS[name], cr) == _outcome(ERRORS[name], torch)


def test_return_types():
    r = cr.tensor([1.0, 3.0, 2.0]).cummin(0)
    assert type(r).__name__ == "cummin" and r._fields == ("values", "indices")
    assert repr(r).startswith("chainrule.return_types.cummin(\nvalues=")


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_complex_logcumsumexp_values_and_gradients_are_torch_s(dtype):
    rng = np.random.default_rng(3)
    a = (rng.standard_normal((3, 6)) * 2 + 1j * rng.standard_normal((3, 6)) * 3).astype(dtype)
    g = (rng.standard_normal((3, 6)) + 1j * rng.standard_normal((3, 6))).astype(dtype)
    tol = 1e-5 if dtype == "complex64" else 1e-12
    for dim in (0, 1, -1):
        x, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, yt = x.logcumsumexp(dim), xt.logcumsumexp(dim)
        np.testing.assert_allclose(y.detach().numpy(), yt.detach().numpy(), rtol=tol, atol=tol)
        (gx,) = cr.autograd.grad(y, x, cr.tensor(g), create_graph=True)
        (gxt,) = torch.autograd.grad(yt, xt, torch.tensor(g), create_graph=True)
        np.testing.assert_allclose(gx.detach().numpy(), gxt.detach().resolve_conj().numpy(),
                                   rtol=tol * 10, atol=tol * 10)  # fmt: skip
        (g2,) = cr.autograd.grad((gx.abs() ** 2).sum(), x)
        (g2t,) = torch.autograd.grad((gxt.abs() ** 2).sum(), xt)
        np.testing.assert_allclose(g2.numpy(), g2t.resolve_conj().numpy(), rtol=tol * 100,
                                   atol=tol * 100)  # fmt: skip


def test_complex_logcumsumexp_special_values_are_torch_s():
    i, n = float("inf"), float("nan")
    for xs in [
        [complex(-i, 0), 1 + 1j],
        [complex(n, 0), 1 + 1j],
        [1 + 1j, complex(0, n), 2],
        [complex(i, 1), complex(i, 2), 1],
        [complex(-i, 1), complex(-i, 2), 1],
        [3 + 3j, 3 - 3j, 3 + 1j],  # ties: the imaginary part is not wrapped
        [1 + 3j, 2 - 3j, 0.5 + 3j, 4 + 3.1j],
    ]:
        ours = cr.tensor(xs).logcumsumexp(0).numpy()
        theirs = torch.tensor(xs).logcumsumexp(0).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, equal_nan=True)


# --------------------------------------------------------------------------- trapezoid


def samples(r):  # y (3, 5) and increasing sample points x (5,)
    return [r.uniform(-2, 2, (3, 5)), np.sort(r.uniform(-2, 2, 5))]


INTEGRALS = [
    Case("trapezoid", lambda m, y: m.trapezoid(y), [(3, 5)]),
    Case("trapezoid", lambda m, y: m.trapezoid(y, dx=0.5, dim=0), [(3, 5)], note="dx-dim0"),
    Case("trapezoid", lambda m, y: m.trapezoid(y, dx=2), [(4,)], note="int-dx"),
    Case("trapezoid", lambda m, y, x: m.trapezoid(y, x), make=samples, note="x"),
    Case("trapezoid", lambda m, y, x: m.trapezoid(y, x.t(), dim=0), [(4, 2), (2, 4)], note="x-nd"),
    Case("trapezoid", lambda m, y, x: m.trapezoid(y, x), [(2, 3, 4), (3, 4)], note="x-padded"),
    Case(
        "trapezoid",
        lambda m, y: m.trapezoid(y),
        make=lambda r: [r.integers(0, 5, (2, 3))],
        grad=False,
        note="int",
    ),
    Case("trapezoid", lambda m, y: m.trapezoid(y), [(3, 1)], note="one-sample"),
    Case("trapz", lambda m, y: m.trapz(y, dx=1.5), [(3, 5)]),
    Case("trapz", lambda m, y, x: m.trapz(y, x, dim=-1), make=samples, note="x"),
    Case("cumulative_trapezoid", lambda m, y: m.cumulative_trapezoid(y), [(3, 5)]),
    Case(
        "cumulative_trapezoid",
        lambda m, y: m.cumulative_trapezoid(y, dx=0.25, dim=0),
        [(3, 5)],
        note="dx-dim0",
    ),
    Case(
        "cumulative_trapezoid",
        lambda m, y, x: m.cumulative_trapezoid(y, x),
        make=samples,
        note="x",
    ),
    Case(
        "cumulative_trapezoid",
        lambda m, y, x: m.cumulative_trapezoid(y, x, dim=1),
        [(2, 3, 4), (2, 3, 1)],
        note="x-nd",
    ),
    Case(
        "cumulative_trapezoid",
        lambda m, y, x: m.cumulative_trapezoid(y, x),
        make=lambda r: [r.integers(0, 5, (2, 3)), r.integers(0, 5, (3,))],
        grad=False,
        note="int",
    ),
]
CASES += INTEGRALS

(
    test_integral_torch_parity,
    test_integral_finite_differences,
    test_integral_grad_fn_names,
) = table_tests(INTEGRALS)


def test_trapezoid_of_no_samples_is_zeros_without_a_graph():
    for lib in (torch, cr):
        y = lib.zeros(3, 0, requires_grad=True)
        for out in (lib.trapezoid(y), lib.trapezoid(y, lib.zeros(0))):
            assert tuple(out.shape) == (3,) and not out.requires_grad
            assert float(out.abs().sum()) == 0.0
        assert tuple(lib.cumulative_trapezoid(y).shape) == (3, 0)


INTEGRAL_ERRORS = [
    lambda m: m.trapezoid(m.ones(3, 4), m.ones(4), dx=1.0),
    lambda m: m.trapezoid(m.ones(3, 4), 2),
    lambda m: m.trapezoid(m.ones(3, 4), dx="a"),
    lambda m: m.trapz(m.ones(3, 4), m.ones(4), dx=1.0),
    lambda m: m.trapz(m.ones(3, 4), dx=1j),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4), 2.5),
    lambda m: m.trapezoid(m.ones(3, 4), m.ones(3)),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4), m.ones(3)),
    lambda m: m.trapezoid(m.ones(3, 4), dx=1j),
    lambda m: m.trapezoid(m.ones(3, 4), dx=True),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4), dx=True),
    lambda m: m.trapezoid(m.ones(3, 4) > 0),
    lambda m: m.trapezoid(m.ones(3, 4), m.ones(4) > 0),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4) > 0),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4) > 0, m.ones(4)),
    lambda m: m.trapezoid(m.ones(3, 4), dim=2),
    lambda m: m.trapezoid(m.tensor(1.0)),
    lambda m: m.trapezoid(m.tensor(1.0), m.tensor([1.0])),
    lambda m: m.cumulative_trapezoid(m.tensor(1.0)),
    lambda m: m.trapezoid(m.ones(3, 4), m.ones(5, 4)),
    lambda m: m.cumulative_trapezoid(m.ones(3, 4), m.ones(5, 4)),
    lambda m: m.trapezoid(m.tensor(1.0), m.ones(2, 2)),
    lambda m: m.cumulative_trapezoid(m.tensor(1.0), m.ones(2, 2)),
    lambda m: m.cumulative_trapezoid(m.tensor(1.0), m.ones(2)),
    lambda m: m.trapezoid(m.tensor(1.0), dim=0),
]


@pytest.mark.parametrize("i", range(len(INTEGRAL_ERRORS)))
def test_integral_errors_match_torch(i):
    with pytest.raises(Exception) as theirs:
        INTEGRAL_ERRORS[i](torch)
    with pytest.raises(type(theirs.value)) as ours:
        INTEGRAL_ERRORS[i](cr)
    assert str(ours.value) == str(theirs.value)

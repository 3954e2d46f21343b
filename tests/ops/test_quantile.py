"""quantile and nanquantile against torch: q a number or a 1-D tensor, dim, keepdim, the
five interpolations, nans, gradients (to the two elements interpolated), errors."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

M = (2, 3, 5)
N = float("nan")
MODES = ["linear", "lower", "higher", "midpoint", "nearest"]


def spread(r):
    return [r.permutation(30).reshape(M) / 4.0 - 3.0]


def nans(r):
    a = r.permutation(30).reshape(M) / 4.0 - 3.0
    a[0, 1, 2], a[1, 2, :] = N, N
    return [a]


def with_q(values):
    return lambda r: [*spread(r), np.array(values)]


CASES = [
    Case("quantile", lambda m, a: m.quantile(a, 0.3), make=spread),
    Case("quantile", lambda m, a: a.quantile(0.5, dim=1), make=spread, note="dim"),
    Case("quantile", lambda m, a: m.quantile(a, 0.75, -1, True), make=spread, note="keepdim"),
    Case(
        "quantile", lambda m, a: m.quantile(a, 0.4, keepdim=True), make=spread, note="all-keepdim"
    ),  # fmt: skip
    Case("quantile", lambda m, a: m.quantile(a, 1.0, 0), make=spread, note="q1"),
    Case("quantile", lambda m, a: m.quantile(a, 0, 2), make=spread, note="q0"),
    Case("quantile", lambda m, a: m.quantile(a, 0.3, 2), make=nans, fd=False, note="nan"),
    Case("quantile", lambda m, a: m.quantile(a, 0.3), [()], note="0d"),
    *[
        Case(
            "quantile",
            lambda m, a, mode=mode: m.quantile(a, 0.35, 1, interpolation=mode),
            make=spread,
            note=f"{mode}",
        )  # fmt: skip
        for mode in MODES
    ],
    Case(
        "quantile",
        lambda m, a: m.quantile(a, 0.625, 1, interpolation="nearest"),
        make=spread,
        note="nearest-half",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: m.quantile(a, q.to(a.dtype) / 10, dim=1),
        make=lambda r: [*spread(r), np.array([0, 3, 6, 10])],
        note="q-tensor",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: a.quantile(q.to(a.dtype) / 10, dim=0, keepdim=True),
        make=lambda r: [*spread(r), np.array([1, 9])],
        note="q-tensor-keepdim",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: m.quantile(a, q.to(a.dtype) / 4, interpolation="midpoint"),
        make=lambda r: [*spread(r), np.array([1, 3])],
        note="q-tensor-all",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: m.quantile(a, q.to(a.dtype) / 2, dim=2),
        make=lambda r: [*spread(r), np.array(1)],
        note="q-0d-tensor",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: m.quantile(a, q, dim=1),
        make=lambda r: [*spread(r), np.array([0.15, 0.4, 0.8])],
        note="q-grad",
    ),  # fmt: skip
    Case(
        "quantile",
        lambda m, a, q: m.quantile(a, q, interpolation="midpoint"),
        make=lambda r: [*spread(r), np.array([0.15, 0.4])],
        note="q-grad-midpoint",
    ),
    Case("nanquantile", lambda m, a: m.nanquantile(a, 0.3), make=nans, fd=False),
    Case(
        "nanquantile",
        lambda m, a: a.nanquantile(0.6, dim=2),
        make=nans,
        fd=False,
        note="dim-all-nan-row",
    ),  # fmt: skip
    Case(
        "nanquantile",
        lambda m, a: m.nanquantile(a, 0.5, 0, keepdim=True),
        make=spread,
        note="no-nan",
    ),  # fmt: skip
    *[
        Case(
            "nanquantile",
            lambda m, a, mode=mode: m.nanquantile(a, 0.7, 1, interpolation=mode),
            make=nans,
            fd=False,
            note=f"{mode}",
        )  # fmt: skip
        for mode in MODES
    ],
    Case(
        "nanquantile",
        lambda m, a, q: m.nanquantile(a, q.to(a.dtype) / 10, dim=-1),
        make=lambda r: [*nans(r), np.array([2, 5, 8])],
        fd=False,
        note="q-tensor",
    ),  # fmt: skip
]


test_torch_parity, test_finite_differences = table_tests(CASES, names=False)


def test_gradient_goes_to_the_two_elements_interpolated():
    x = cr.tensor([4.0, 1.0, 3.0, 2.0], requires_grad=True)
    x.quantile(0.5).backward()  # rank 1.5: between 2 (index 3) and 3 (index 2)
    assert x.grad.tolist() == [0.0, 0.0, 0.5, 0.5]


def test_q_gradient_with_nans_is_torch_s():
    """q's gradient where slices hold nans (reverse mode; forward mode there is nan in
    both libraries: a zero tangent times the nan difference of the values)."""
    a = nans(np.random.default_rng(0))[0]
    for name in ("quantile", "nanquantile"):
        grads = []
        for lib in (cr, torch):
            q = lib.tensor([0.15, 0.7], dtype=lib.float64, requires_grad=True)
            y = getattr(lib.tensor(a), name)(q, dim=2)
            w = lib.tensor(np.random.default_rng(1).standard_normal(tuple(y.shape)))
            (lib.nan_to_num(y) * w).sum().backward()
            grads.append(q.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)
        assert np.isfinite(grads[0]).all()


def _outcome(fn, lib):
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    return "ok", (str(out.dtype).split(".")[-1], tuple(out.shape), repr(out.tolist()))


Q = [1.0, 2.0, 3.0, 4.0]
ERRORS = {
    "q-number-range": lambda m: m.tensor(Q).quantile(1.5),
    "q-negative": lambda m: m.tensor(Q).nanquantile(-0.1),
    "q-tensor-range": lambda m: m.tensor(Q).quantile(m.tensor([0.5, 1.5])),
    "q-dtype": lambda m: m.tensor(Q).quantile(m.tensor([0.5], dtype=m.float64)),
    "q-2d": lambda m: m.tensor(Q).quantile(m.tensor([[0.5]])),
    "q-list": lambda m: m.tensor(Q).quantile([0.5]),
    "nan-q-list": lambda m: m.tensor(Q).nanquantile([0.5]),
    "int-input": lambda m: m.tensor([1, 2]).quantile(0.5),
    "half-input": lambda m: m.tensor(Q).half().quantile(0.5),
    "interpolation": lambda m: m.tensor(Q).quantile(0.5, interpolation="cubic"),
    "nan-interpolation": lambda m: m.tensor(Q).nanquantile(0.5, interpolation="cubic"),
    "empty": lambda m: m.zeros(0).quantile(0.5),
    "empty-dim": lambda m: m.zeros(2, 0).quantile(0.5, dim=0),
    "dim-range": lambda m: m.tensor(Q).quantile(0.5, dim=2),
    "0d-dim": lambda m: m.tensor(3.0).quantile(0.3, dim=0),
    "0d-q-tensor-keepdim": lambda m: m.tensor(3.0).quantile(m.tensor([0.3, 0.6]), keepdim=True),
    "q-0d-keepdim": lambda m: m.tensor(Q).quantile(m.tensor(0.3), keepdim=True),
    "keepdim-shape": lambda m: m.ones(2, 3).quantile(m.tensor([0.3, 0.5]), dim=1, keepdim=True),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_and_edges_like_torch(name):
    assert _outcome(ERRORS[name], cr) == _outcome(ERRORS[name], torch)

"""bincount and histc against torch: counts, weights and their dtypes, minlength, the data's
range, edges, nans and values outside, errors (no derivative)."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

N, INF = float("nan"), float("inf")


def idx(r):
    return [r.integers(0, 6, 20)]


CASES = [
    Case("bincount", lambda m, i: m.bincount(i), make=idx, grad=False),
    Case(
        "bincount", lambda m, i: i.bincount(minlength=9), make=idx, grad=False, note="minlength"
    ),  # fmt: skip
    Case(
        "bincount",
        lambda m, i, w: m.bincount(i, w),
        make=lambda r: [*idx(r), r.standard_normal(20)],
        grad=False,
        note="weights",
    ),  # fmt: skip
    Case(
        "bincount",
        lambda m, i, w: m.bincount(i, weights=w.to(m.int32), minlength=8),
        make=lambda r: [*idx(r), r.standard_normal(20) * 5],
        grad=False,
        note="int-weights",
    ),  # fmt: skip
    Case(
        "bincount", lambda m, i: m.bincount(i.to(m.uint8)), make=idx, grad=False, note="uint8"
    ),  # fmt: skip
    Case(
        "bincount",
        lambda m, i: m.bincount(i, minlength=3),
        make=lambda r: [np.zeros(0, np.int64)],
        grad=False,
        note="empty",
    ),  # fmt: skip
    Case("histc", lambda m, a: m.histc(a), [(50,)], grad=False),
    Case(
        "histc", lambda m, a: a.histc(bins=7, min=-1, max=1), [(4, 25)], grad=False, note="range"
    ),  # fmt: skip
    Case(
        "histc",
        lambda m, a: m.histc(a, 4, 0, 3),
        make=lambda r: [np.array([1.0, 2, 1, 5, -1, N, 3, 0])],
        grad=False,
        note="outside-nan",
    ),  # fmt: skip
    Case(
        "histc",
        lambda m, a: m.histc(a, 10, 0, 1),
        make=lambda r: [np.array([0.0, 0.1, 0.2, 0.3, 0.7, 0.9, 1.0])],
        grad=False,
        note="edges",
    ),  # fmt: skip
    Case(
        "histc",
        lambda m, a: m.histc(a, 5),
        make=lambda r: [np.array([2.0, 2.0])],
        grad=False,
        note="one-value",
    ),  # fmt: skip
    Case(
        "histc",
        lambda m, a: m.histc(a, 3, min=2, max=2),
        make=lambda r: [np.array([2.0, 3])],
        grad=False,
        note="min-eq-max",
    ),  # fmt: skip
    Case(
        "histc", lambda m, a: m.histc(a, 3), make=lambda r: [np.zeros(0)], grad=False, note="empty"
    ),  # fmt: skip
    Case(
        "histc",
        lambda m, a: m.histc(a, 20),
        make=lambda r: [np.round(r.standard_normal(99) * 4) / 4],
        grad=False,
        note="quarters",
    ),  # fmt: skip
]


(test_torch_parity,) = table_tests(CASES, grad=False, names=False)


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_histc_counts_are_torch_s_at_the_edges(dtype):
    """Values on and near bin edges, random ranges and bin counts: torch's kernel's bins
    (its arithmetic in the input's dtype), every time."""
    rng = np.random.default_rng(7)
    for trial in range(150):
        a = rng.standard_normal(int(rng.integers(1, 120))).astype(dtype)
        if trial % 2:
            a = (np.round(a * 4) / 4).astype(dtype)
        bins = int(rng.integers(1, 40))
        kw = {} if trial % 3 else {"min": float(rng.uniform(-2, 0)), "max": 1.5}
        ours = cr.histc(cr.tensor(a), bins, **kw).numpy()
        theirs = torch.histc(torch.tensor(a), bins, **kw).numpy()
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)


def test_weighted_bincount_dtypes_and_node_like_torch():
    i = [1, 3, 3, 0]
    for w, want in [([0.5, 1, 2, 3], "float32"), ([1, 1, 2, 3], "float64"),
                    ([True, False, True, True], "float64")]:  # fmt: skip
        for lib in (cr, torch):
            out = lib.bincount(lib.tensor(i), weights=lib.tensor(w))
            assert str(out.dtype).split(".")[-1] == want
    out = cr.bincount(cr.tensor(i), weights=cr.tensor([0.5, 1, 2, 3], dtype=cr.float16))
    assert out.dtype == cr.float64
    w = cr.tensor([0.5, 1.0, 2.0, 3.0], requires_grad=True)
    wt = torch.tensor([0.5, 1.0, 2.0, 3.0], requires_grad=True)
    y, yt = cr.bincount(cr.tensor(i), w), torch.bincount(torch.tensor(i), wt)
    assert y.requires_grad and y.grad_fn.name() == yt.grad_fn.name()
    for v in (y, yt):
        with pytest.raises(RuntimeError, match="derivative for aten::bincount is not implemented"):
            v.sum().backward()
    assert not cr.histc(cr.ones(3, requires_grad=True)).requires_grad


def _outcome(fn, lib):
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    return "ok", (str(out.dtype).split(".")[-1], tuple(out.shape), repr(out.tolist()))


ERRORS = {
    "bincount-negative": lambda m: m.bincount(m.tensor([-1, 2])),
    "bincount-2d": lambda m: m.bincount(m.tensor([[1, 2]])),
    "bincount-0d": lambda m: m.bincount(m.tensor(2)),
    "bincount-float": lambda m: m.bincount(m.tensor([1.0, 2])),
    "bincount-bool": lambda m: m.bincount(m.tensor([True, False])),
    "bincount-minlength": lambda m: m.bincount(m.tensor([1, 2]), minlength=-1),
    "bincount-weights": lambda m: m.bincount(m.tensor([1, 2]), weights=m.tensor([1.0])),
    "bincount-empty-weights": lambda m: m.bincount(m.zeros(0, dtype=m.int64), m.zeros(0)),
    "histc-int": lambda m: m.histc(m.tensor([1, 2])),
    "histc-bins": lambda m: m.histc(m.tensor([1.0, 2]), bins=0),
    "histc-order": lambda m: m.histc(m.tensor([1.0, 2]), bins=3, min=3, max=1),
    "histc-nan-min": lambda m: m.histc(m.tensor([1.0, 2]), bins=3, min=N, max=1),
    "histc-inf-data": lambda m: m.histc(m.tensor([1.0, INF])),
    "histc-nan-data": lambda m: m.histc(m.tensor([1.0, N])),
    "histc-inf-max": lambda m: m.histc(m.tensor([1.0]), min=0.5, max=INF),
    "histc-2d": lambda m: m.histc(m.tensor([[1.0, 2], [0, 3]]), bins=3),
    "histc-float-bounds": lambda m: m.histc(m.tensor([1.0, 2]), bins=3, min=1, max=2.0),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_and_edges_like_torch(name):
    assert _outcome(ERRORS[name], cr) == _outcome(ERRORS[name], torch)

"""Order statistics against torch: median, nanmedian, kthvalue, mode (values, indices
including torch's choice among ties, gradients to the index returned, errors)."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

M = (2, 3, 5)
N = float("nan")
NANS = np.array([[1.0, N, 3.0, N, 0.5], [0.5, 2.0, -1.0, 2.0, 4.0], [N, N, N, N, N]])


def spread(r):  # distinct values: finite differences never cross a tie
    return [r.permutation(30).reshape(M) / 4.0 - 3.0]


def ties(r):
    return [np.array([[1.0, 2, 2, 2, 3], [5, 1, 5, 1, 0], [3, 3, 3, 3, 3], [4, 1, 4, 1, 9]])]


def ints(r):
    return [r.integers(0, 4, (4, 7))]


CASES = [
    Case("median", lambda m, a: m.median(a), make=spread),
    Case("median", lambda m, a: a.median(), make=ties, fd=False, note="ties-all"),
    Case("median", lambda m, a: m.median(a), make=lambda r: [NANS], fd=False, note="nan-all"),
    Case("median", lambda m, a: m.median(a), [()], note="0d"),
    Case("median", lambda m, a: m.median(a, 1), make=spread, note="dim"),
    Case("median", lambda m, a: a.median(-1, keepdim=True), make=spread, note="keepdim"),
    Case("median", lambda m, a: m.median(a, dim=1), make=ties, fd=False, note="ties-dim"),
    Case("median", lambda m, a: m.median(a, 1), make=lambda r: [NANS], fd=False, note="nan-dim"),
    Case("median", lambda m, a: m.median(a, 0, True), [()], note="0d-dim"),
    Case("median", lambda m, a: m.median(a, 0), make=ints, grad=False, note="int"),
    Case("median", lambda m, a: m.median(a), make=ints, grad=False, note="int-all"),
    Case("nanmedian", lambda m, a: m.nanmedian(a), make=spread),
    Case(
        "nanmedian", lambda m, a: m.nanmedian(a), make=lambda r: [NANS], fd=False, note="nan-all"
    ),  # fmt: skip
    Case(
        "nanmedian",
        lambda m, a: a.nanmedian(1),
        make=lambda r: [NANS[:2]],
        fd=False,
        note="nan-dim",
    ),  # fmt: skip
    Case(
        "nanmedian", lambda m, a: m.nanmedian(a, 0, keepdim=True), make=ties, fd=False, note="ties"
    ),  # fmt: skip
    Case("nanmedian", lambda m, a: m.nanmedian(a, 2), make=spread, note="dim"),
    Case(
        "nanmedian",
        lambda m, a: m.nanmedian(a),
        make=lambda r: [np.full(3, N)],
        fd=False,
        note="all-nan",
    ),  # fmt: skip
    Case("kthvalue", lambda m, a: m.kthvalue(a, 2), make=spread),
    Case("kthvalue", lambda m, a: a.kthvalue(3, 1, True), make=spread, note="dim-keepdim"),
    Case("kthvalue", lambda m, a: m.kthvalue(a, 4, dim=1), make=ties, fd=False, note="ties"),
    Case("kthvalue", lambda m, a: m.kthvalue(a, 2, 0), make=ties, fd=False, note="ties-dim0"),
    Case(
        "kthvalue", lambda m, a: m.kthvalue(a, 5), make=lambda r: [NANS], fd=False, note="nan"
    ),  # fmt: skip
    Case("kthvalue", lambda m, a: m.kthvalue(a, 1), [()], note="0d"),
    Case("kthvalue", lambda m, a: m.kthvalue(a, 3), make=ints, grad=False, note="int"),
    Case("mode", lambda m, a: m.mode(a), make=spread),
    Case("mode", lambda m, a: a.mode(0, keepdim=True), make=ties, fd=False, note="ties"),
    Case("mode", lambda m, a: m.mode(a, 1), make=ties, fd=False, note="ties-dim1"),
    Case("mode", lambda m, a: m.mode(a), make=lambda r: [NANS], fd=False, note="nan"),
    Case("mode", lambda m, a: m.mode(a), [()], note="0d"),
    Case("mode", lambda m, a: m.mode(a), make=ints, grad=False, note="int"),
    Case(
        "mode",
        lambda m, a: m.mode(a),
        make=lambda r: [r.uniform(size=4) > 0.5],
        grad=False,
        note="bool",
    ),  # fmt: skip
]


test_torch_parity, test_finite_differences, test_grad_fn_names = table_tests(CASES)


@pytest.mark.parametrize("name", ["median", "nanmedian", "kthvalue", "mode"])
def test_indices_among_ties_are_torch_s(name):
    """Many ties and nans, slices of 1 to 70 elements (past std::sort's 16): every index is
    torch's, not only the values."""
    rng = np.random.default_rng(5)
    for trial in range(150):
        n = int(rng.integers(1, 70))
        a = rng.integers(0, int(rng.integers(1, 6)), (3, n)).astype(float)
        if trial % 3 == 0:
            a[rng.uniform(size=a.shape) < 0.2] = N
        k = int(rng.integers(1, n + 1))
        args = (k, 1) if name == "kthvalue" else (1,)
        ours = getattr(cr.tensor(a), name)(*args)
        theirs = getattr(torch.tensor(a), name)(*args)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_mode_of_long_slices_and_many_rows_is_torch_s():
    """Both ways to the index: rows of up to 16 elements or with a mode seen once
    (vectorized), and longer rows with ties or nans (std::sort re-run)."""
    rng = np.random.default_rng(11)
    for n, hi in [(5, 3), (16, 4), (17, 4), (40, 1000), (200, 6), (33, 2)]:
        a = rng.integers(0, hi, (50, n)).astype(float)
        a[rng.uniform(size=a.shape) < 0.02] = N
        for lib_a in (a, a[:, ::-1].copy(), np.round(a / 2)):
            ours, theirs = cr.tensor(lib_a).mode(1), torch.tensor(lib_a).mode(1)
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_gradient_goes_to_the_index_returned():
    a = np.array([[5.0, 1, 5, 1, 0], [2, 2, 2, 7, 7]])
    for name, args in [("median", (1,)), ("kthvalue", (4, 1)), ("mode", (1,))]:
        x, xt = cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        getattr(x, name)(*args).values.sum().backward()
        getattr(xt, name)(*args).values.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), xt.grad.numpy())
        assert np.count_nonzero(x.grad.numpy()) == 2


def test_nanmedian_of_a_slice_all_nan_is_nan_at_one_of_them():
    """torch's index there comes from its sort running past the slice (its comparator
    orders no two nans): not reproducible, so chainrule gives the first."""
    v, i = cr.full((2, 5), N).nanmedian(1)
    assert np.isnan(v.numpy()).all() and i.tolist() == [0, 0]
    assert torch.isnan(torch.full((2, 5), N).nanmedian(1).values).all()


def _outcome(fn, lib):
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e)
    outs = out if isinstance(out, tuple) else (out,)
    return "ok", [(str(o.dtype).split(".")[-1], tuple(o.shape), repr(o.tolist())) for o in outs]


ERRORS = {
    "median-bool": lambda m: m.tensor([True]).median(),
    "median-bool-dim": lambda m: m.tensor([True]).median(0),
    "median-complex": lambda m: m.tensor([1 + 1j]).median(),
    "median-complex-dim": lambda m: m.tensor([1 + 1j]).median(0),
    "nanmedian-bool": lambda m: m.tensor([True]).nanmedian(),
    "median-empty": lambda m: m.zeros(0).median(),
    "nanmedian-empty": lambda m: m.zeros(0).nanmedian(),
    "median-empty-dim": lambda m: m.zeros(0, 3).median(0),
    "median-empty-other": lambda m: m.zeros(0, 3).median(1),
    "median-range": lambda m: m.zeros(3).median(1),
    "kthvalue-k-big": lambda m: m.ones(3).kthvalue(4),
    "kthvalue-k0": lambda m: m.ones(3).kthvalue(0),
    "kthvalue-0d-k2": lambda m: m.tensor(3.0).kthvalue(2),
    "kthvalue-empty": lambda m: m.zeros(3, 0).kthvalue(1),
    "kthvalue-empty-other": lambda m: m.zeros(2, 0).kthvalue(1, 0),
    "kthvalue-bool": lambda m: m.tensor([True]).kthvalue(1),
    "kthvalue-complex": lambda m: m.tensor([1 + 1j]).kthvalue(1),
    "mode-empty": lambda m: m.zeros(0).mode(),
    "mode-empty-other": lambda m: m.zeros(0, 3).mode(1),
    "mode-complex": lambda m: m.tensor([1 + 1j]).mode(),
    "median-0d-keepdim": lambda m: m.tensor(3.0).median(0, keepdim=True),
    "kthvalue-int-keepdim": lambda m: m.tensor([[2, 1]]).kthvalue(1, keepdim=True),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_and_edges_like_torch(name):
    assert _outcome(ERRORS[name], cr) == _outcome(ERRORS[name], torch)


def test_return_types_print_as_torch_s():
    x = cr.tensor([1.0, 3.0, 2.0])
    for name in ("median", "nanmedian", "mode"):
        r = getattr(x, name)(0)
        assert type(r).__name__ == name and r._fields == ("values", "indices")
        assert repr(r).startswith(f"chainrule.return_types.{name}(\nvalues=")
    assert type(x.kthvalue(1)).__name__ == "kthvalue"

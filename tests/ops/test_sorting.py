"""Sorting ops against torch: values (differentiable), indices, ties, nan, errors."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

S = (3, 5)


def ties(r):
    return [r.integers(0, 3, S).astype(float)]


CASES = [
    Case("sort", lambda m, a: m.sort(a), [S]),
    Case("sort", lambda m, a: a.sort(0, descending=True), [S], note="dim0-desc"),
    Case("sort", lambda m, a: m.sort(a, stable=True), make=ties, note="ties", fd=False),
    Case(
        "sort",
        lambda m, a: m.sort(a, descending=True, stable=True),
        make=ties,
        fd=False,
        note="ties-desc",
    ),
    Case("sort", lambda m, a: m.sort(a), [()], note="0d"),
    Case("argsort", lambda m, a: m.argsort(a, dim=0), [S], grad=False),
    Case(
        "argsort",
        lambda m, a: a.argsort(descending=True, stable=True),
        make=ties,
        grad=False,
        note="ties",
    ),
    Case(
        "argsort",
        lambda m, a: m.argsort(a),
        grad=False,
        note="nan",
        make=lambda r: [np.array([2.0, np.nan, -1.0, np.nan, 0.5])],
    ),
    Case("msort", lambda m, a: m.msort(a), [S]),
    Case("topk", lambda m, a: m.topk(a, 2), [S]),
    Case("topk", lambda m, a: a.topk(2, dim=0, largest=False), [S], note="smallest"),
    Case("topk", lambda m, a: m.topk(a, 0), [S], note="k0"),
]


test_torch_parity, test_finite_differences = table_tests(CASES, names=False)


def test_topk_error_and_new_methods_like_torch():
    for lib in (cr, torch):
        with pytest.raises(RuntimeError, match="selected index k out of range"):
            lib.ones(3).topk(4)
    x, xt = cr.ones(2, 3, dtype=cr.float64), torch.ones(2, 3, dtype=torch.float64)
    for ours, theirs in [
        (x.new_zeros(4), xt.new_zeros(4)),
        (x.new_ones((2, 2)), xt.new_ones((2, 2))),
        (x.new_full((3,), 7), xt.new_full((3,), 7)),
        (x.new_tensor([1, 2]), xt.new_tensor([1, 2])),
        (x.select(1, 2), xt.select(1, 2)),
    ]:
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())

"""Indexing ops: the table, torch parity, finite differences, second order; errors; views."""

import warnings

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences

import chainrule as cr

S, M, W = (3, 4), (2, 3, 4), (5, 6, 7, 8)


def _x(shape):
    return lambda r: [r.uniform(-2, 2, shape)]


def _xi(shape, *ints):
    """A float input and constant integer / bool arrays (made by ``ints``: rng -> array)."""
    return lambda r: [r.uniform(-2, 2, shape), *[f(r) for f in ints]]


def _ints(lo, hi, size):
    return lambda r: r.integers(lo, hi, size)


def _mask(shape, p=0.5):
    return lambda r: r.uniform(size=shape) < p


def _gi(note, fn, shape=S, make=None, **kw):
    """A ``__getitem__`` case; ``fn(x, *consts)`` is the same code for both libraries."""
    return Case(
        "__getitem__",
        lambda m, *a: fn(*a),
        [shape] if make is None else [],
        make=make,
        note=note,
        **kw,
    )


def _sq(t):  # a nonlinearity after indexing, so second order runs through the index backward
    return t * t


CASES = [
    # ints (negative too) and 0-d results
    _gi("int", lambda x: x[1]),
    _gi("neg-int", lambda x: x[-1]),
    _gi("int-int-0d", lambda x: x[0, -2]),
    _gi("int-0d-sq", lambda x: _sq(x[2, 1])),
    _gi("np-int", lambda x: x[np.int64(1), -1]),
    _gi("int-tensor-0d", lambda x, i: x[i], make=_xi(S, lambda r: np.array(2))),
    # slices, steps, empty slices
    _gi("slice", lambda x: x[1:]),
    _gi("slice-step", lambda x: x[::2]),
    _gi("slice-2d", lambda x: x[:, 1:3]),
    _gi("slice-neg", lambda x: x[-2:, -3:-1]),
    _gi("slice-step3", lambda x: _sq(x[:, ::3])),
    _gi("slice-empty", lambda x: x[1:1]),
    _gi("slice-out", lambda x: x[10:]),
    _gi("slice-big", lambda x: x[-10:10:2]),
    _gi("int-slice", lambda x: _sq(x[1, 1:])),
    _gi("slice-int", lambda x: x[1:, 0], shape=M),
    # None and Ellipsis
    _gi("none", lambda x: x[None]),
    _gi("none-mid", lambda x: x[:, None]),
    _gi("none-ellipsis", lambda x: _sq(x[None, ..., None]), shape=M),
    _gi("ellipsis", lambda x: x[...]),
    _gi("ellipsis-int", lambda x: x[..., 1], shape=M),
    _gi("int-ellipsis", lambda x: x[0, ..., 1:], shape=M),
    _gi("empty-tuple", lambda x: x[()]),
    _gi("0d-none", lambda x: x[None], shape=()),
    _gi("0d-ellipsis", lambda x: x[...], shape=()),
    _gi("0d-true", lambda x: _sq(x[True]), shape=()),
    # Python bools
    _gi("true", lambda x: x[True]),
    _gi("false", lambda x: x[False]),
    _gi("slice-true", lambda x: x[:, True]),
    # bool masks: full, partial, lists, 0-d, all False (empty selection)
    _gi("mask-full", lambda x, k: _sq(x[k]), make=_xi(S, _mask(S))),
    _gi("mask-rows", lambda x, k: x[k], make=_xi(M, _mask((2,), 1.0))),
    _gi("mask-cols", lambda x, k: _sq(x[:, k]), make=_xi(M, lambda r: np.array([1, 0, 1]) > 0)),
    _gi("mask-2d-lead", lambda x, k: x[k], make=_xi(M, _mask((2, 3)))),
    _gi("mask-list", lambda x: x[[True, False, True]]),
    _gi("mask-empty", lambda x, k: x[k], make=_xi(S, _mask(S, 0.0))),
    _gi("mask-0d", lambda x, k: x[k], make=_xi(S, lambda r: np.array(True))),
    _gi("mask-0d-false", lambda x, k: x[k], make=_xi(S, lambda r: np.array(False))),
    _gi("mask-int", lambda x, k: _sq(x[k, [0, 0, 1]]), make=_xi(M, lambda r: np.array([1, 0]) > 0)),
    # integer arrays: duplicates, negatives, n-d index, empty
    _gi("dup-list", lambda x: _sq(x[[0, 0, 1]])),
    _gi("neg-list", lambda x: _sq(x[[-1, 0, -1]])),
    _gi("list-2d", lambda x: x[[0, 2], [1, 1]]),
    _gi("tensor-2d", lambda x, i: _sq(x[i]), make=_xi(S, lambda r: np.array([[0, 1], [1, 0]]))),
    _gi("empty-list", lambda x: x[[]]),
    _gi("empty-tensor", lambda x, i: x[i], make=_xi(S, lambda r: np.zeros((0,), np.int64))),
    _gi("empty-2d", lambda x, i: x[:, i], make=_xi(S, lambda r: np.zeros((2, 0), np.int64))),
    _gi("int32", lambda x, i: x[i], make=_xi(S, lambda r: np.array([2, 0, 2], np.int32))),
    _gi("np-array", lambda x: x[np.array([[1, 2], [0, 0]])]),
    _gi("dup-many-1d", lambda x, i: _sq(x[i]), make=_xi((50,), _ints(-50, 50, (300,)))),
    _gi("dup-many-rows", lambda x, i: _sq(x[i]), make=_xi((20, 3), _ints(0, 20, (100,)))),
    _gi("dup-many-2idx", lambda x, i, j: _sq(x[i, j]), make=_xi((9, 8), _ints(0, 9, (90,)), _ints(-8, 8, (90,)))),  # fmt: skip
    # mixing: adjacent advanced dims stay in place, separated ones go first (NumPy/torch)
    _gi("adjacent", lambda x: _sq(x[:, [0, 1], [1, 2]]), shape=M),
    _gi("separated", lambda x: _sq(x[[0, 1], :, [1, 3]]), shape=M),
    _gi("separated-none", lambda x: x[:, [0, 1], None, [1, 2]], shape=W),
    _gi("int-adv", lambda x: _sq(x[1, :, [0, 3, 3]]), shape=M),
    _gi("adv-int-torch", lambda x: _sq(x[:, [0, 1], :, 0]), shape=W),
    _gi("adv-slice", lambda x: x[[1, 0], 1:3], shape=M),
    _gi("slice-adv-slice", lambda x: _sq(x[1:, [2, 2], ::2]), shape=M),
    _gi("broadcast", lambda x: x[[[0], [1]], :, [1, 2, 3]], shape=M),
    _gi("ellipsis-adv", lambda x: x[..., [0, 0]], shape=M),
    _gi("adv-true", lambda x: x[:, [0, 1], True], shape=W),
    _gi("tuple-list", lambda x: x[[1, 2],]),
    _gi("list-as-tuple", lambda x: x[[[0, 1], [1, 2]]], shape=M),
    # gather / scatter / scatter_add
    Case("gather", lambda m, x, i: _sq(m.gather(x, 1, i)), make=_xi(S, _ints(0, 4, (3, 5)))),
    Case("gather", lambda m, x, i: x.gather(0, i), make=_xi(S, _ints(0, 3, (2, 3))), note="small"),
    Case("gather", lambda m, x, i: _sq(x.gather(-1, i)), make=_xi(M, _ints(0, 4, (2, 3, 6))), note="neg-dim"),  # fmt: skip
    Case("gather", lambda m, x, i: x.gather(0, i), make=_xi((), lambda r: np.array(0)), note="0d"),
    Case("gather", lambda m, x, i: x.gather(1, i), make=_xi(S, _ints(0, 4, (0, 2))), note="empty"),
    Case("gather", lambda m, x, i: x.gather(1, i), make=_xi(S, lambda r: r.integers(0, 4, (3, 2)).astype(np.int32)), note="int32"),  # fmt: skip
    Case("scatter_add", lambda m, x, i, s: _sq(m.scatter_add(x, 1, i, s)), make=lambda r: [r.uniform(-2, 2, S), r.integers(0, 4, (3, 5)), r.uniform(-2, 2, (3, 5))]),  # fmt: skip
    Case("scatter_add", lambda m, x, i, s: x.scatter_add(0, i, s), make=lambda r: [r.uniform(-2, 2, S), r.integers(0, 3, (2, 2)), r.uniform(-2, 2, (2, 2))], note="small"),  # fmt: skip
    Case("scatter_add", lambda m, x, i, s: _sq(x.scatter_add(-1, i, s)), make=lambda r: [r.uniform(-2, 2, (80,)), r.integers(0, 80, (200,)), r.uniform(-2, 2, (200,))], note="dup-many"),  # fmt: skip
    Case("scatter_add", lambda m, x, i, s: x.scatter_add(0, i, s), make=lambda r: [r.uniform(-2, 2, ()), np.array([0, 0]), r.uniform(-2, 2, (2,))], note="0d"),  # fmt: skip
    Case("scatter", lambda m, x, i, s: _sq(m.scatter(x, 1, i, s)), make=lambda r: [r.uniform(-2, 2, S), np.array([[0, 2], [3, 1]]), r.uniform(-2, 2, (2, 2))]),  # fmt: skip
    Case("scatter", lambda m, x, i: _sq(x.scatter(0, i, 1.5)), make=_xi(S, lambda r: np.array([[2, 0, 1, 1]])), note="value"),  # fmt: skip
    Case("scatter", lambda m, x, i: m.scatter(x, 0, i, value=-1.0), make=_xi(S, lambda r: np.array([[2, 0]])), note="value-kw"),  # fmt: skip
    Case("scatter", lambda m, x, i, s: m.scatter(x, 1, i, s, reduce="add"), make=lambda r: [r.uniform(-2, 2, S), np.array([[0, 0]]), r.uniform(-2, 2, (1, 2))], grad=False, note="reduce-add"),  # fmt: skip
    Case("scatter", lambda m, x, i: m.scatter(x, 1, i, 2.0, reduce="multiply"), make=_xi(S, lambda r: np.array([[0, 0]])), grad=False, note="reduce-mul"),  # fmt: skip
    # index_select / index_add
    Case("index_select", lambda m, x, i: _sq(m.index_select(x, 1, i)), make=_xi(S, lambda r: np.array([0, 3, 3, 1]))),  # fmt: skip
    Case("index_select", lambda m, x, i: x.index_select(0, i), make=_xi(M, lambda r: np.array(1)), note="0d-index"),  # fmt: skip
    Case("index_select", lambda m, x, i: _sq(x.index_select(-1, i)), make=_xi(M, lambda r: np.array([2, 2], np.int32)), note="int32"),  # fmt: skip
    Case("index_select", lambda m, x, i: x.index_select(0, i), make=_xi((), lambda r: np.array([0])), note="0d"),  # fmt: skip
    Case("index_select", lambda m, x, i: x.index_select(1, i), make=_xi(S, lambda r: np.zeros(0, np.int64)), note="empty"),  # fmt: skip
    Case("index_add", lambda m, x, i, s: _sq(m.index_add(x, 1, i, s)), make=lambda r: [r.uniform(-2, 2, S), np.array([0, 0, 2]), r.uniform(-2, 2, (3, 3))]),  # fmt: skip
    Case("index_add", lambda m, x, i, s: _sq(x.index_add(0, i, s, alpha=2.5)), make=lambda r: [r.uniform(-2, 2, M), np.array([1, 1, 0]), r.uniform(-2, 2, (3, 3, 4))], note="alpha"),  # fmt: skip
    Case("index_add", lambda m, x, i, s: x.index_add(0, i, s), make=lambda r: [r.uniform(-2, 2, ()), np.array(0), r.uniform(-2, 2, ())], note="0d"),  # fmt: skip
    # take / take_along_dim
    Case("take", lambda m, x, i: _sq(m.take(x, i)), make=_xi(S, lambda r: np.array([[0, 11], [-1, -12], [0, 0]]))),  # fmt: skip
    Case("take", lambda m, x, i: x.take(i), make=_xi(M, lambda r: np.array(5)), note="0d-index"),
    Case("take", lambda m, x, i: x.take(i), make=_xi((), lambda r: np.array([0, 0, -1])), note="0d"),  # fmt: skip
    Case("take_along_dim", lambda m, x, i: _sq(m.take_along_dim(x, i)), make=_xi(S, lambda r: np.array([[0, 11, 5, 5]]))),  # fmt: skip
    Case("take_along_dim", lambda m, x, i: _sq(m.take_along_dim(x, i, 1)), make=_xi(S, lambda r: np.array([[0, 1, 3, 3]])), note="bcast-index"),  # fmt: skip
    Case("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, dim=-1), make=_xi((3, 1, 4), lambda r: r.integers(0, 4, (1, 2, 5))), note="bcast-both"),  # fmt: skip
    Case("take_along_dim", lambda m, x, i: x.take_along_dim(i, 1), make=_xi(S, lambda r: np.array([[5, -1, -5, 9]])), note="wrap"),  # fmt: skip
    # masks
    Case("masked_fill", lambda m, x, k: _sq(m.masked_fill(x, k, 2.5)), make=_xi(S, _mask(S))),
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, float("-inf")).exp(), make=_xi(S, _mask((4,))), note="bcast-mask"),  # fmt: skip
    Case("masked_fill", lambda m, x, k: _sq(x.masked_fill(k, 0)), make=_xi((4,), _mask((2, 3, 4))), note="bcast-input"),  # fmt: skip
    Case("masked_fill", lambda m, x, k, v: _sq(m.masked_fill(x, k, v)), make=lambda r: [r.uniform(-2, 2, S), r.uniform(size=(3, 1)) < 0.5, r.uniform(-2, 2, ())], note="tensor-value"),  # fmt: skip
    Case("masked_fill", lambda m, x, k: x.masked_fill(k, 1.0), make=_xi((), lambda r: np.array(True)), note="0d"),  # fmt: skip
    Case("masked_select", lambda m, x, k: _sq(m.masked_select(x, k)), make=_xi(S, _mask(S))),
    Case("masked_select", lambda m, x, k: _sq(x.masked_select(k)), make=_xi(S, _mask((4,))), note="bcast-mask"),  # fmt: skip
    Case("masked_select", lambda m, x, k: x.masked_select(k), make=_xi((3, 1), _mask((2, 3, 4))), note="bcast-input"),  # fmt: skip
    Case("masked_select", lambda m, x, k: x.masked_select(k), make=_xi(S, _mask(S, 0.0)), note="empty"),  # fmt: skip
    Case("masked_select", lambda m, x, k: x.masked_select(k), make=_xi((), lambda r: np.array(True)), note="0d"),  # fmt: skip
    # index finders (integer results, no gradient)
    Case("nonzero", lambda m, x: m.nonzero(x > 0), [M], grad=False),
    Case("nonzero", lambda m, x: m.nonzero(x > 0, as_tuple=True), [M], grad=False, note="tuple"),
    Case("nonzero", lambda m, x: x.nonzero(), [()], grad=False, note="0d"),
    Case("nonzero", lambda m, x: m.nonzero(x, as_tuple=True), [()], grad=False, note="0d-tuple"),
    Case("nonzero", lambda m, x: (x > 5).nonzero(), [S], grad=False, note="none"),
    Case("argwhere", lambda m, x: m.argwhere(x > 0), [M], grad=False),
    Case("argwhere", lambda m, x: x.argwhere(), [()], grad=False, note="0d"),
    Case("nonzero", lambda m, x: m.where(x > 0), [S], grad=False, note="where-1arg"),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)

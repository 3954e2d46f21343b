"""Indexing ops: the table, torch parity, finite differences, second order; errors; views."""

import warnings

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences

import chainrule as cr

S, M, W = (3, 4), (2, 3, 4), (5, 6, 7, 8)

# torch and chainrule both warn here; test_warnings_match_torch checks ours
pytestmark = [
    pytest.mark.filterwarnings("ignore:Using a non-tuple sequence:UserWarning"),
    pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter:UserWarning"),
]


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
    _gi("empty-result-oob", lambda x: x[1:1, [5, -7]]),
    _gi("empty-tensor", lambda x, i: x[i], make=_xi(S, lambda r: np.zeros((0,), np.int64))),
    _gi("empty-2d", lambda x, i: x[:, i], make=_xi(S, lambda r: np.zeros((2, 0), np.int64))),
    _gi("int32", lambda x, i: x[i], make=_xi(S, lambda r: np.array([2, 0, 2], np.int32))),
    _gi("float-list", lambda x: x[[2.9, 0.2, -1.5]]),
    _gi("np-array", lambda x: x[np.array([[1, 2], [0, 0]])]),
    _gi("dup-many-1d", lambda x, i: _sq(x[i]), make=_xi((50,), _ints(-50, 50, (300,)))),
    _gi("dup-many-rows", lambda x, i: _sq(x[i]), make=_xi((20, 3), _ints(0, 20, (100,)))),
    _gi("dup-bincount", lambda x, i: _sq(x[i]), make=_xi((1000,), _ints(-1000, 1000, (5000,)))),
    _gi("dup-sparse-rows", lambda x, i: _sq(x[i]), make=_xi((400, 3), _ints(0, 400, (60,)))),
    _gi(
        "unique-sparse-rows",
        lambda x, i: _sq(x[:, i]),
        make=_xi((2, 400, 3), lambda r: r.permutation(400)[:50]),
    ),
    _gi(
        "dup-many-2idx",
        lambda x, i, j: _sq(x[i, j]),
        make=_xi((9, 8), _ints(0, 9, (90,)), _ints(-8, 8, (90,))),
    ),  # fmt: skip
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
    Case(
        "gather",
        lambda m, x, i: _sq(x.gather(-1, i)),
        make=_xi(M, _ints(0, 4, (2, 3, 6))),
        note="neg-dim",
    ),  # fmt: skip
    Case("gather", lambda m, x, i: x.gather(0, i), make=_xi((), lambda r: np.array(0)), note="0d"),
    Case("gather", lambda m, x, i: x.gather(1, i), make=_xi(S, _ints(0, 4, (0, 2))), note="empty"),
    Case(
        "gather",
        lambda m, x, i: x.gather(1, i),
        make=_xi(S, lambda r: r.integers(0, 4, (3, 2)).astype(np.int32)),
        note="int32",
    ),  # fmt: skip
    Case(
        "scatter_add",
        lambda m, x, i, s: _sq(m.scatter_add(x, 1, i, s)),
        make=lambda r: [r.uniform(-2, 2, S), r.integers(0, 4, (3, 5)), r.uniform(-2, 2, (3, 5))],
    ),  # fmt: skip
    Case(
        "scatter_add",
        lambda m, x, i, s: x.scatter_add(0, i, s),
        make=lambda r: [r.uniform(-2, 2, S), r.integers(0, 3, (2, 2)), r.uniform(-2, 2, (2, 2))],
        note="small",
    ),  # fmt: skip
    Case(
        "scatter_add",
        lambda m, x, i, s: _sq(x.scatter_add(-1, i, s)),
        make=lambda r: [
            r.uniform(-2, 2, (80,)),
            r.integers(0, 80, (200,)),
            r.uniform(-2, 2, (200,)),
        ],
        note="dup-many",
    ),  # fmt: skip
    Case(
        "scatter_add",
        lambda m, x, i, s: x.scatter_add(0, i, s),
        make=lambda r: [r.uniform(-2, 2, ()), np.array([0, 0]), r.uniform(-2, 2, (2,))],
        note="0d",
    ),  # fmt: skip
    Case(
        "scatter_add",
        lambda m, x, i: m.scatter_add((x * 10).long(), 0, i, i),
        make=_xi((50,), _ints(0, 50, (80,))),
        grad=False,
        note="int64",
    ),
    Case(
        "scatter_add",
        lambda m, x, i, s: _sq(m.scatter_add(x, 0, i, s)),
        make=lambda r: [
            r.uniform(-2, 2, (3000,)),
            r.integers(0, 3000, (6000,)),
            r.uniform(-2, 2, (6000,)),
        ],
        note="dense-large",
    ),
    Case(
        "scatter",
        lambda m, x, i, s: _sq(m.scatter(x, 1, i, s)),
        make=lambda r: [r.uniform(-2, 2, S), np.array([[0, 2], [3, 1]]), r.uniform(-2, 2, (2, 2))],
    ),  # fmt: skip
    Case(
        "scatter",
        lambda m, x, i: _sq(x.scatter(0, i, 1.5)),
        make=_xi(S, lambda r: np.array([[2, 0, 1, 1]])),
        note="value",
    ),  # fmt: skip
    Case(
        "scatter",
        lambda m, x, i: m.scatter(x, 0, i, value=-1.0),
        make=_xi(S, lambda r: np.array([[2, 0]])),
        note="value-kw",
    ),  # fmt: skip
    Case(
        "scatter",
        lambda m, x, i, s: m.scatter(x, 1, i, s, reduce="add"),
        make=lambda r: [r.uniform(-2, 2, S), np.array([[0, 0]]), r.uniform(-2, 2, (1, 2))],
        grad=False,
        note="reduce-add",
    ),  # fmt: skip
    Case(
        "scatter",
        lambda m, x, i: m.scatter(x, 1, i, 2.0, reduce="multiply"),
        make=_xi(S, lambda r: np.array([[0, 0]])),
        grad=False,
        note="reduce-mul",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "sum")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="sum",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "sum", include_self=False)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="sum-exclude-self",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "prod")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="prod",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "prod", include_self=False)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="prod-exclude-self",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "mean")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="mean",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "mean", include_self=False)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="mean-exclude-self",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "amax")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="amax",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "amax", include_self=False)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="amax-exclude-self",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "amin")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="amin",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(m.scatter_reduce(x, 1, i, s, "amin", include_self=False)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 0, 3], [2, 2, 2]]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="amin-exclude-self",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(x.clone().scatter_reduce_(0, i, s, "amax")) + x,
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, 2, 2, 1], [0, 0, 2, 1]]),
            r.uniform(-2, 2, (2, 4)),
        ],
        note="inplace",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: x.scatter_reduce(0, i, s, "mean", include_self=False),
        make=lambda r: [r.uniform(-2, 2, ()), np.array([0, 0]), r.uniform(-2, 2, (2,))],
        note="0d",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: x.scatter_reduce(1, i, s, "prod"),
        make=lambda r: [r.uniform(-2, 2, S), np.zeros((3, 0), np.int64), r.uniform(-2, 2, (3, 0))],
        note="empty",
    ),  # fmt: skip
    Case(
        "scatter_reduce",
        lambda m, x, i, s: _sq(x.scatter_reduce(-1, i, s, "sum")),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[1, 1]], np.int32),
            r.uniform(-2, 2, (1, 2)),
        ],
        note="int32",
    ),  # fmt: skip
    # index_select / index_add
    Case(
        "index_select",
        lambda m, x, i: _sq(m.index_select(x, 1, i)),
        make=_xi(S, lambda r: np.array([0, 3, 3, 1])),
    ),  # fmt: skip
    Case(
        "index_select",
        lambda m, x, i: x.index_select(0, i),
        make=_xi(M, lambda r: np.array(1)),
        note="0d-index",
    ),  # fmt: skip
    Case(
        "index_select",
        lambda m, x, i: _sq(x.index_select(-1, i)),
        make=_xi(M, lambda r: np.array([2, 2], np.int32)),
        note="int32",
    ),  # fmt: skip
    Case(
        "index_select",
        lambda m, x, i: x.index_select(0, i),
        make=_xi((), lambda r: np.array([0])),
        note="0d",
    ),  # fmt: skip
    Case(
        "index_select",
        lambda m, x, i: x.index_select(1, i),
        make=_xi(S, lambda r: np.zeros(0, np.int64)),
        note="empty",
    ),  # fmt: skip
    Case(
        "index_add",
        lambda m, x, i, s: _sq(m.index_add(x, 1, i, s)),
        make=lambda r: [r.uniform(-2, 2, S), np.array([0, 0, 2]), r.uniform(-2, 2, (3, 3))],
    ),  # fmt: skip
    Case(
        "index_add",
        lambda m, x, i, s: _sq(x.index_add(0, i, s, alpha=2.5)),
        make=lambda r: [r.uniform(-2, 2, M), np.array([1, 1, 0]), r.uniform(-2, 2, (3, 3, 4))],
        note="alpha",
    ),  # fmt: skip
    Case(
        "index_add",
        lambda m, x, i, s: x.index_add(0, i, s),
        make=lambda r: [r.uniform(-2, 2, ()), np.array(0), r.uniform(-2, 2, ())],
        note="0d",
    ),  # fmt: skip
    # index_copy
    Case(
        "index_copy",
        lambda m, x, i, s: _sq(m.index_copy(x, 1, i, s)),
        make=lambda r: [r.uniform(-2, 2, S), np.array([3, 0]), r.uniform(-2, 2, (3, 2))],
    ),  # fmt: skip
    Case(
        "index_copy",
        lambda m, x, i, s: _sq(x.index_copy(-3, i, s)),
        make=lambda r: [r.uniform(-2, 2, M), np.array(1), r.uniform(-2, 2, (1, 3, 4))],
        note="0d-index",
    ),  # fmt: skip
    Case(
        "index_copy",
        lambda m, x, i, s: _sq(x.clone().index_copy_(0, i, s)) * x,
        make=lambda r: [r.uniform(-2, 2, (4,)), np.array([2]), r.uniform(-2, 2, ())],
        note="inplace-0d-source",
    ),  # fmt: skip
    Case(
        "index_copy",
        lambda m, x, i, s: x.index_copy(0, i, s),
        make=lambda r: [r.uniform(-2, 2, ()), np.array([0]), r.uniform(-2, 2, (1,))],
        note="0d",
    ),  # fmt: skip
    Case(
        "index_copy",
        lambda m, x, i, s: x.index_copy(1, i, s),
        make=lambda r: [r.uniform(-2, 2, S), np.zeros(0, np.int64), r.uniform(-2, 2, (3, 0))],
        note="empty",
    ),  # fmt: skip
    # take / take_along_dim
    Case(
        "take",
        lambda m, x, i: _sq(m.take(x, i)),
        make=_xi(S, lambda r: np.array([[0, 11], [-1, -12], [0, 0]])),
    ),  # fmt: skip
    Case("take", lambda m, x, i: x.take(i), make=_xi(M, lambda r: np.array(5)), note="0d-index"),
    Case(
        "take", lambda m, x, i: x.take(i), make=_xi((), lambda r: np.array([0, 0, -1])), note="0d"
    ),  # fmt: skip
    Case(
        "take_along_dim",
        lambda m, x, i: _sq(m.take_along_dim(x, i)),
        make=_xi(S, lambda r: np.array([[0, 11, 5, 5]])),
    ),  # fmt: skip
    Case(
        "take_along_dim",
        lambda m, x, i: _sq(m.take_along_dim(x, i, 1)),
        make=_xi(S, lambda r: np.array([[0, 1, 3, 3]])),
        note="bcast-index",
    ),  # fmt: skip
    Case(
        "take_along_dim",
        lambda m, x, i: m.take_along_dim(x, i, dim=-1),
        make=_xi((3, 1, 4), lambda r: r.integers(0, 4, (1, 2, 5))),
        note="bcast-both",
    ),  # fmt: skip
    Case(
        "take_along_dim",
        lambda m, x, i: x.take_along_dim(i, 1),
        make=_xi(S, lambda r: np.array([[5, -1, -5, 9]])),
        note="wrap",
    ),  # fmt: skip
    Case(
        "take_along_dim",
        lambda m, x, i: x.take_along_dim(i),
        make=_xi(S, lambda r: np.array([[5, 1]], np.int32)),
        note="int32-flat",
    ),  # fmt: skip
    # put
    Case(
        "put",
        lambda m, x, i, s: _sq(m.put(x, i, s)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[0, -11], [5, 11]]),
            r.uniform(-2, 2, (2, 2)),
        ],
    ),  # fmt: skip
    Case(
        "put",
        lambda m, x, i, s: _sq(x.put(i, s, accumulate=True)),
        make=lambda r: [r.uniform(-2, 2, M), np.array([3, 3, -21, 7]), r.uniform(-2, 2, (4,))],
        note="accumulate",
    ),  # fmt: skip
    Case(
        "put",
        lambda m, x, i, s: _sq(x.clone().put_(i, s, True)) * x,
        make=lambda r: [r.uniform(-2, 2, S), np.array([1, 1, 2]), r.uniform(-2, 2, (3, 1))],
        note="inplace-accumulate",
    ),  # fmt: skip
    Case(
        "put",
        lambda m, x, i, s: _sq(x.clone().put_(i, s)) * x,
        make=lambda r: [r.uniform(-2, 2, S), np.array(4), r.uniform(-2, 2, ())],
        note="inplace-0d-index",
    ),  # fmt: skip
    Case(
        "put",
        lambda m, x, i, s: x.put(i, s),
        make=lambda r: [r.uniform(-2, 2, ()), np.array([-1]), r.uniform(-2, 2, (1,))],
        note="0d",
    ),  # fmt: skip
    Case(
        "put",
        lambda m, x, i, s: x.put(i, s, accumulate=True),
        make=lambda r: [r.uniform(-2, 2, S), np.zeros(0, np.int64), r.uniform(-2, 2, (0,))],
        note="empty",
    ),  # fmt: skip
    # masks
    Case("masked_fill", lambda m, x, k: _sq(m.masked_fill(x, k, 2.5)), make=_xi(S, _mask(S))),
    Case(
        "masked_fill",
        lambda m, x, k: x.masked_fill(k, float("-inf")).exp(),
        make=_xi(S, _mask((4,))),
        note="bcast-mask",
    ),  # fmt: skip
    Case(
        "masked_fill",
        lambda m, x, k: _sq(x.masked_fill(k, 0)),
        make=_xi((4,), _mask((2, 3, 4))),
        note="bcast-input",
    ),  # fmt: skip
    Case(
        "masked_fill",
        lambda m, x, k, v: _sq(m.masked_fill(x, k, v)),
        make=lambda r: [r.uniform(-2, 2, S), r.uniform(size=(3, 1)) < 0.5, r.uniform(-2, 2, ())],
        note="tensor-value",
    ),  # fmt: skip
    Case(
        "masked_fill",
        lambda m, x, k: x.masked_fill(k, 1.0),
        make=_xi((), lambda r: np.array(True)),
        note="0d",
    ),  # fmt: skip
    Case(
        "index_fill",
        lambda m, x, i: _sq(x.index_fill(1, i, -1.5)),
        make=_xi(S, lambda r: np.array([0, 2, 2])),
    ),  # fmt: skip
    Case(
        "index_fill",
        lambda m, x, i, v: _sq(m.index_fill(x, -1, i, v)),
        make=lambda r: [r.uniform(-2, 2, S), np.array([3, 0]), r.uniform(-2, 2, ())],
        note="tensor-value",
    ),  # fmt: skip
    # index_put (x[indices] = values out of place; accumulate adds, repeats adding up)
    Case(
        "index_put",
        lambda m, x, i, j, v: _sq(m.index_put(x, (i, j), v)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([0, 2, 1]),
            np.array([3, -1, 0]),
            r.uniform(-2, 2, (3,)),
        ],
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, i, v: _sq(x.index_put([i], v, accumulate=True)),
        make=lambda r: [r.uniform(-2, 2, S), np.array([0, 2, 0, 0]), r.uniform(-2, 2, (4, 4))],
        note="accumulate",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, i, v: _sq(m.index_put(x, (i,), v, True)),
        make=lambda r: [r.uniform(-2, 2, M), np.array([1, 1, 0], np.int32), r.uniform(-2, 2, (4,))],
        note="accumulate-bcast-int32",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, k, v: _sq(x.index_put((k,), v)),
        make=lambda r: [r.uniform(-2, 2, S), r.uniform(size=S) < 0.5, r.uniform(-2, 2, ())],
        note="mask",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, k, v: _sq(x.index_put((k,), v, accumulate=True)),
        make=lambda r: [r.uniform(-2, 2, M), r.uniform(size=(2, 3)) < 0.5, r.uniform(-2, 2, (4,))],
        note="mask-accumulate",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, i, v: _sq(x.clone().index_put_((i,), v)) + x,
        make=lambda r: [r.uniform(-2, 2, S), np.array([2, 0]), r.uniform(-2, 2, (2, 4))],
        note="inplace",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, i, j, v: _sq(x.clone().index_put_((i, j), v, accumulate=True)),
        make=lambda r: [
            r.uniform(-2, 2, S),
            np.array([[2], [2]]),
            np.array([1, 1, 3]),
            r.uniform(-2, 2, (2, 3)),
        ],
        note="inplace-accumulate",
    ),  # fmt: skip
    Case(
        "index_put",
        lambda m, x, i, v: x.index_put((i,), v, accumulate=True),
        make=lambda r: [r.uniform(-2, 2, S), np.zeros(0, np.int64), r.uniform(-2, 2, (4,))],
        note="empty",
    ),  # fmt: skip
    Case(
        "masked_scatter",
        lambda m, x, k, s: _sq(m.masked_scatter(x, k, s)),
        make=lambda r: [r.uniform(-2, 2, S), r.uniform(size=S) < 0.5, r.uniform(-2, 2, (4, 4))],
    ),  # fmt: skip
    Case(
        "masked_scatter",
        lambda m, x, k, s: _sq(x.masked_scatter(k, s)),
        make=lambda r: [
            r.uniform(-2, 2, (4,)),
            r.uniform(size=(3, 4)) < 0.5,
            r.uniform(-2, 2, (12,)),
        ],
        note="bcast-input",
    ),  # fmt: skip
    Case(
        "masked_scatter",
        lambda m, x, k, s: _sq(x.clone().masked_scatter_(k, s)) * x,
        make=lambda r: [
            r.uniform(-2, 2, M),
            r.uniform(size=(3, 1)) < 0.5,
            r.uniform(-2, 2, (5, 5)),
        ],
        note="inplace-bcast-mask",
    ),  # fmt: skip
    Case(
        "masked_scatter",
        lambda m, x, k, s: x.masked_scatter(k, s),
        make=lambda r: [r.uniform(-2, 2, ()), np.array(True), r.uniform(-2, 2, (2,))],
        note="0d",
    ),  # fmt: skip
    Case("masked_select", lambda m, x, k: _sq(m.masked_select(x, k)), make=_xi(S, _mask(S))),
    Case(
        "masked_select",
        lambda m, x, k: _sq(x.masked_select(k)),
        make=_xi(S, _mask((4,))),
        note="bcast-mask",
    ),  # fmt: skip
    Case(
        "masked_select",
        lambda m, x, k: x.masked_select(k),
        make=_xi((3, 1), _mask((2, 3, 4))),
        note="bcast-input",
    ),  # fmt: skip
    Case(
        "masked_select",
        lambda m, x, k: x.masked_select(k),
        make=_xi(S, _mask(S, 0.0)),
        note="empty",
    ),  # fmt: skip
    Case(
        "masked_select",
        lambda m, x, k: x.masked_select(k),
        make=_xi((), lambda r: np.array(True)),
        note="0d",
    ),  # fmt: skip
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


# --------------------------------------------------------------------------- grad_fn names

NAMES = [
    lambda x: x[0],
    lambda x: x[0, 1],
    lambda x: x[0, 1:],
    lambda x: x[1:, 0],
    lambda x: x[:],
    lambda x: x[:, :],
    lambda x: x[:, 0:100],
    lambda x: x[:, -4:],
    lambda x: x[0, :],
    lambda x: x[...],
    lambda x: x[()],
    lambda x: x[None],
    lambda x: x[:, None],
    lambda x: x[0, None],
    lambda x: x[True],
    lambda x: x[[0, 0]],
    lambda x: x[0, [0, 0]],
    lambda x: x[x > 0],
    lambda x: x.gather(1, torch_or_np([[0, 1]])),
    lambda x: x.index_select(1, torch_or_np([0, 1])),
    lambda x: x.take(torch_or_np([0, 1])),
    lambda x: x.take_along_dim(torch_or_np([[0, 1]]), 1),
    lambda x: x.masked_select(x > 0),
    lambda x: x.masked_fill(x > 0, 1.0),
    lambda x: x.masked_fill(x > 0, x.sum()),
    lambda x: x.scatter(1, torch_or_np([[0, 1]]), 1.0),
    lambda x: x.scatter(1, torch_or_np([[0, 1]]), x[:1, :2]),
    lambda x: x.scatter_add(1, torch_or_np([[0, 1]]), x[:1, :2]),
    lambda x: x.index_add(1, torch_or_np([0, 1]), x[:, :2]),
    lambda x: x.index_put((torch_or_np([0, 1]),), x[0]),
    lambda x: x.index_put((torch_or_np([0, 0]),), x[0], accumulate=True),
    lambda x: x.clone().index_put_((torch_or_np([0, 1]),), x[0] * 2),
    lambda x: x.index_copy(1, torch_or_np([0, 1]), x[:, :2]),
    lambda x: x.clone().index_copy_(0, torch_or_np([2]), x[:1]),
    lambda x: x.masked_scatter(x > 0, x * 2),
    lambda x: x.clone().masked_scatter_(x > 0, x * 2),
    lambda x: x.scatter_reduce(1, torch_or_np([[0, 0]]), x[:1, :2], "prod"),
    lambda x: x.clone().scatter_reduce_(1, torch_or_np([[0, 0]]), x[:1, :2], "amin"),
    lambda x: x.put(torch_or_np([0, 5]), x[0, :2]),
    lambda x: x.clone().put_(torch_or_np([0, 5]), x[0, :2], accumulate=True),
]


def torch_or_np(v):
    return np.array(v)


def _lib_index(fn, lib, x):
    global torch_or_np
    mk = torch.tensor if lib is torch else cr.tensor
    old, torch_or_np = torch_or_np, mk
    try:
        return fn(x)
    finally:
        torch_or_np = old


@pytest.mark.parametrize("i", range(len(NAMES)))
def test_grad_fn_names(i):
    a = np.random.default_rng(0).standard_normal((3, 4))
    t = _lib_index(NAMES[i], torch, torch.tensor(a, requires_grad=True))
    c = _lib_index(NAMES[i], cr, cr.tensor(a, requires_grad=True))
    assert c.grad_fn.name() == type(t.grad_fn).__name__


# --------------------------------------------------------------------------- memory sharing


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x[0],
        lambda x: x[1, 2],
        lambda x: x[0, 1, 2],
        lambda x: x[:, 1:],
        lambda x: x[::2, ..., 1],
        lambda x: x[None],
        lambda x: x[...],
        lambda x: x[:],
    ],
)
def test_basic_indexing_is_a_view(fn):
    x = cr.randn(2, 3, 4)
    y = fn(x)
    assert np.shares_memory(y.numpy(), x.numpy())
    assert isinstance(y.numpy(), np.ndarray)


@pytest.mark.parametrize(
    "fn", [lambda x: x[[0, 1]], lambda x: x[x > 0], lambda x: x[:, [0]], lambda x: x[True]]
)
def test_advanced_indexing_copies(fn):
    x = cr.randn(2, 3, 4)
    assert not np.shares_memory(fn(x).numpy(), x.numpy())


def test_duplicate_indices_accumulate():
    """Worked example: x[[0, 0, 1]] sends twice the upstream gradient to x[0]."""
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 1]].backward(cr.tensor([1.0, 10.0, 100.0]))
    assert x.grad.tolist() == [11.0, 100.0, 0.0]


def test_iteration_uses_select():
    x = cr.tensor(np.arange(6.0).reshape(3, 2))
    assert [r.tolist() for r in x] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]


def test_third_order_through_index():
    """d³/dx³ of sum(x[idx]**3) = 6 * count(idx == i), through Index/IndexPutAdd twice."""
    x = cr.tensor([0.5, -1.0, 2.0], requires_grad=True)
    (g,) = cr.autograd.grad(x[[0, 0, 2]].pow(3).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x, create_graph=True)
    (k,) = cr.autograd.grad(h.sum(), x)
    assert k.tolist() == [12.0, 0.0, 6.0]


def test_scatter_add_src_larger_than_index():
    """torch's backward fails here (gradient of index shape for a larger src); ours pads
    with zeros, the true derivative: checked by finite differences."""
    case = Case(
        "scatter_add",
        lambda m, x, i, s: m.scatter_add(x, 1, i, s) ** 2,
        make=lambda r: [r.uniform(-2, 2, S), np.array([[0, 0], [1, 3]]), r.uniform(-2, 2, (3, 4))],
    )
    check_finite_differences(case)
    case.fn = lambda m, x, i, s: m.scatter(x, 1, i, s) ** 2
    case.make = lambda r: [r.uniform(-2, 2, S), np.array([[0, 2], [1, 3]]), r.uniform(-2, 2, S)]
    check_finite_differences(case)
    for reduce in ("sum", "prod", "mean", "amax", "amin"):
        case.fn = lambda m, x, i, s, r=reduce: m.scatter_reduce(x, 1, i, s, r) ** 2
        check_finite_differences(case)


def test_scatter_reduce_has_no_derivative():
    x = cr.randn(3, 4, requires_grad=True)
    with pytest.warns(UserWarning, match="The reduce argument of torch.scatter"):
        y = cr.scatter(x, 1, cr.tensor([[0, 1]]), x[:1, :2], reduce="add")
    assert y.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::scatter is not implemented"):
        y.sum().backward()


def test_warnings_match_torch():
    x = cr.randn(3, 4)
    with pytest.warns(UserWarning, match="Using a non-tuple sequence for multidimensional"):
        assert x[[[0, 1], [1, 2]]].shape == (2,)
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        assert x[cr.tensor([1, 0, 1], dtype=cr.uint8)].shape == (2, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x[[0, 1]], x[np.array([[0, 1]])], x[[True, False, True]]


# --------------------------------------------------------------------------- errors


def _both(fn, shape=(3, 4)):
    """The exception torch raises for ``fn(torch, x)`` must be ours, same type and text."""
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as t_err:
            fn(torch, torch.tensor(a))
        with pytest.raises(t_err.type, match=None) as c_err:
            fn(cr, cr.tensor(a))
    want = str(t_err.value).split("\nException raised from")[0]
    assert str(c_err.value) == want


def L(m, v, dtype=None):  # an index tensor in either library
    return m.tensor(v) if dtype is None else m.tensor(v, dtype=getattr(m, dtype))


ERRORS = [
    # __getitem__
    lambda m, x: x[5],
    lambda m, x: x[-4],
    lambda m, x: x[:, 4],
    lambda m, x: x[None, 9],
    lambda m, x: x[::-1],
    lambda m, x: x[:, ::-2],
    lambda m, x: x[::0],
    lambda m, x: x[0, 0, 0],
    lambda m, x: x[..., 0, 0, 0],
    lambda m, x: x[[0, 5]],
    lambda m, x: x[:, [0, -5]],
    lambda m, x: x[[0, 1], [0, 9]],
    lambda m, x: x[L(m, [0.0])],
    lambda m, x: x[L(m, [0], "int16")],
    lambda m, x: x[1.5],
    lambda m, x: x["a"],
    lambda m, x: x[{}],
    lambda m, x: x[[True, False]],
    lambda m, x: x[:, L(m, [True, False, True])],
    lambda m, x: x[L(m, [[True] * 4] * 2)],
    lambda m, x: x[[0, 1], [0, 1, 2]],
    lambda m, x: x[[0, 1], L(m, [True, True, False, True])],
    lambda m, x: x[L(m, 5)],
    lambda m, x: x[0][0][0],
    lambda m, x: x[0][0][:],
    lambda m, x: x[0][0][[0]],
    lambda m, x: x[:1, :0][None, m.zeros(0, dtype=m.bool)],  # NumPy would allow these
    lambda m, x: x[:1][:, m.zeros(0, dtype=m.bool)],
    lambda m, x: x[:1, :1][m.zeros(0, 0, dtype=m.bool)],
    lambda m, x: x[[0, 1], None, m.zeros(0, dtype=m.bool)],
    # gather
    lambda m, x: m.gather(x, 1, L(m, [0, 1])),
    lambda m, x: m.gather(x, 1, L(m, [[0, 4]])),
    lambda m, x: m.gather(x, 1, L(m, [[0, -1]])),
    lambda m, x: m.gather(x, 0, L(m, [[0, 1, 2, 0, 1]])),
    lambda m, x: m.gather(x, 2, L(m, [[0]])),
    lambda m, x: m.gather(x, 1, L(m, [[0]], "int16")),
    lambda m, x: m.gather(x, 1, L(m, [[0.0]])),
    # scatter / scatter_add
    lambda m, x: m.scatter_add(x, 1, L(m, [[0, 0]]), m.ones(1, 1)),
    lambda m, x: m.scatter_add(x, 1, L(m, [[0, 5]]), m.ones(1, 2)),
    lambda m, x: m.scatter_add(x, 1, L(m, [[0, 0]]), m.ones(1, 2, dtype=m.float64)),
    lambda m, x: m.scatter_add(x, 1, L(m, [0, 0]), m.ones(1, 2)),
    lambda m, x: m.scatter_add(x, 1, L(m, [[0]], "int16"), m.ones(1, 2)),
    lambda m, x: m.scatter_add(x, 0, L(m, [[0] * 5]), m.ones(4, 5)),
    lambda m, x: m.scatter(x, 1, L(m, [[0, 1]]), m.tensor(2.0)),
    lambda m, x: m.scatter(x, 1, m.zeros(4, 1, dtype=m.long), 2.0),
    lambda m, x: m.scatter(x, 1, L(m, [[-1]]), 2.0),
    lambda m, x: m.scatter(x, 1, L(m, [[4]]), m.ones(1, 1)),
    lambda m, x: m.scatter(x, 1, L(m, [[0, 1]]), m.ones(1, 2), reduce="foo"),
    lambda m, x: m.scatter(x, 1, L(m, [[0.0]]), m.ones(1, 2)),
    # scatter_reduce
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0, 1]]), m.ones(1, 2), "foo"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0.0, 1.0]]), m.ones(1, 2), "sum"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0, 5]]), m.ones(1, 2), "prod"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0, 1]]), m.ones(1, 2, dtype=m.float64), "sum"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [0, 1]), m.ones(1, 2), "mean"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0, 1]]), m.ones(1, 1), "amax"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0, 1]]), 1.0, "amin"),
    lambda m, x: m.scatter_reduce(x, 1, L(m, [[0.0, 1.0]]), m.ones(1, 2), "foo"),
    lambda m, x: x.scatter_reduce_(1, L(m, [[0, 1]]), x[:1], "sum"),
    # index_select / index_add
    lambda m, x: m.index_select(x, 1, L(m, [[0]])),
    lambda m, x: m.index_select(x, 1, L(m, [0.0])),
    lambda m, x: m.index_select(x, 1, L(m, [0], "int16")),
    lambda m, x: m.index_select(x, 1, L(m, [4])),
    lambda m, x: m.index_select(x, 1, L(m, [-1])),
    lambda m, x: m.index_select(x, 2, L(m, [0])),
    lambda m, x: m.index_select(m.tensor(3.0), 0, L(m, [0, 0])),
    lambda m, x: m.index_add(x, 1, L(m, [0, 0]), m.ones(3, 3)),
    lambda m, x: m.index_add(x, 1, L(m, [0, 5]), m.ones(3, 2)),
    lambda m, x: m.index_add(x, 1, L(m, [0, -1]), m.ones(3, 2)),
    lambda m, x: m.index_add(x, 1, L(m, [[0, 0]]), m.ones(3, 2)),
    lambda m, x: m.index_add(x, 1, L(m, [0.0, 0.0]), m.ones(3, 2)),
    lambda m, x: m.index_add(x, 1, L(m, [0, 0]), m.ones(3, 2, dtype=m.float64)),
    lambda m, x: m.index_add(x, 1, L(m, [0, 0]), m.ones(2, 2)),
    lambda m, x: m.index_add(x, 1, L(m, [0, 0]), m.ones(2)),
    lambda m, x: m.index_add(x, 1, L(m, [0, 9], "int32"), m.ones(3, 2)),
    lambda m, x: m.index_add(m.zeros(3), 0, L(m, [3]), m.ones(1)),
    lambda m, x: m.index_add(m.tensor(1.0), 0, L(m, [0, 0]), m.ones(2)),
    # index_put
    lambda m, x: m.index_put(x, (L(m, [0]),), m.ones(1, dtype=m.float64)),
    lambda m, x: m.index_put(x, L(m, [0]), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0.0]),), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0], "int16"),), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [5]),), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0]), L(m, [-5])), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0]),), m.ones(3)),
    lambda m, x: m.index_put(x, (L(m, [0]),) * 3, m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0]),), 1.0),
    lambda m, x: m.index_put(x, (None,), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [True, False]),), m.ones(1)),
    lambda m, x: m.index_put(x, (L(m, [0, 1]), L(m, [0, 1, 2])), m.ones(1)),
    lambda m, x: x.index_put_((L(m, [0]),), m.ones(1, dtype=m.float64)),
    lambda m, x: x.index_put_((L(m, [0, 1]),), x[2]),
    lambda m, x: m.index_put_(x, (L(m, [0]),), x[0, :4]),
    lambda m, x: m.index_put(m.tensor(1.0), (L(m, [0]),), m.ones(1)),
    # index_copy
    lambda m, x: m.index_copy(x, 1, L(m, [0, 0]), m.ones(3, 3)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, 5]), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, -1]), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [[0, 1]]), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [0.0, 1.0]), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, 1], "int32"), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, 1]), m.ones(3, 2, dtype=m.float64)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, 1]), m.ones(2, 2)),
    lambda m, x: m.index_copy(x, 1, L(m, [0, 1]), m.ones(2)),
    lambda m, x: m.index_copy(x, 2, L(m, [0, 1]), m.ones(3, 2)),
    lambda m, x: m.index_copy(x, 0, L(m, [0, 1]), m.tensor(1.0)),
    lambda m, x: m.index_copy(x, 0, L(m, [0]), m.tensor(1.0)),
    lambda m, x: m.index_copy(m.zeros(2, 3, 4), 1, L(m, [0]), m.ones(3, 1, 4)),
    lambda m, x: x.index_copy_(0, L(m, [0, 1]), x[1:]),
    # take / take_along_dim
    lambda m, x: m.take(x, L(m, [12])),
    lambda m, x: m.take(x, L(m, [-13])),
    lambda m, x: m.take(x, L(m, [1], "int32")),
    lambda m, x: m.take(x, L(m, [1.0])),
    lambda m, x: m.take(m.ones(0), L(m, [0])),
    lambda m, x: m.take_along_dim(x, L(m, [0, 1]), 1),
    lambda m, x: m.take_along_dim(x, L(m, [[0, 1]], "int32"), 1),
    lambda m, x: m.take_along_dim(x, L(m, [[0, 1], [0, 1]]), 1),
    lambda m, x: m.take_along_dim(x, L(m, [[0, 12]])),
    lambda m, x: m.take_along_dim(x, L(m, [[0, -1]])),
    lambda m, x: m.take_along_dim(x, L(m, [[0, 1]]), 2),
    # put
    lambda m, x: m.put(x, L(m, [0, 1]), m.ones(3)),
    lambda m, x: m.put(x, L(m, [0, 12]), m.ones(2)),
    lambda m, x: m.put(x, L(m, [0, -13]), m.ones(2), True),
    lambda m, x: m.put(x, L(m, [0.0, 1.0]), m.ones(2, dtype=m.float64)),
    lambda m, x: m.put(x, L(m, [0, 1], "int32"), m.ones(2)),
    lambda m, x: m.put(x, L(m, [0, 1]), m.ones(2, dtype=m.float64)),
    lambda m, x: m.put(x, L(m, [0, 1]), 1.0),
    lambda m, x: m.put(m.zeros(0), L(m, [0]), m.ones(1)),
    lambda m, x: m.put(m.zeros(0), L(m, [0, 1]), m.ones(3)),
    lambda m, x: x.put_(L(m, [0, 1]), x[0, :2]),
    # masks
    lambda m, x: m.masked_fill(x, x > 0, m.tensor([2.0])),
    lambda m, x: m.masked_fill(x, L(m, [1, 0, 1, 0], "int32"), 2.0),
    lambda m, x: m.masked_fill(x, L(m, [1, 0, 1, 0], "uint8"), 2.0),
    lambda m, x: m.masked_fill(x, L(m, [1, 0, 1, 0], "int64"), 2.0),
    lambda m, x: m.masked_fill(x, L(m, [1, 0, 1, 0], "float64"), 2.0),
    lambda m, x: m.masked_fill(x, m.ones(5, dtype=m.bool), 2.0),
    lambda m, x: m.masked_scatter(x, x > 0, m.ones(3)),
    lambda m, x: m.masked_scatter(x, L(m, [1, 0, 1, 0]), m.ones(12)),
    lambda m, x: m.masked_scatter(x, L(m, [1, 0, 1, 0]), m.ones(12, dtype=m.float64)),
    lambda m, x: m.masked_scatter(x, x[:2] > 0, m.ones(12, dtype=m.float64)),
    lambda m, x: m.masked_scatter(x, x > 0, 1.0),
    lambda m, x: x.masked_scatter_(x > -9, m.ones(5)),
    lambda m, x: m.masked_select(x, L(m, [1, 0, 1, 0], "int32")),
    lambda m, x: m.masked_select(x, m.ones(5, dtype=m.bool)),
    lambda m, x: m.masked_select(x, m.ones(2, 3, 1, dtype=m.bool)[:, :2]),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    _both(ERRORS[i])


def test_type_errors():
    x = cr.randn(3, 4)
    with pytest.raises(TypeError, match=r"^scatter\(\) received an invalid combination"):
        cr.scatter(x, 1, cr.tensor([[0]]))
    with pytest.raises(TypeError, match=r"^masked_fill\(\) received an invalid combination"):
        x.masked_fill(x > 0, None)
    with pytest.raises(TypeError, match=r"^new\(\): invalid data type 'str'"):
        x["a"]


def test_zero_dim_errors():
    _both(lambda m, x: x[0], shape=())
    _both(lambda m, x: x[:], shape=())
    _both(lambda m, x: x[[0]], shape=())
    _both(lambda m, x: x[0, 0], shape=())


def test_tensor_and_numpy_scalars_as_indices():
    a = np.arange(12.0).reshape(3, 4)
    t, c = torch.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    for f in [
        lambda m, x: x[m.tensor(1) : m.tensor(3), 0],
        lambda m, x: x[m.tensor(0) :, 1 : m.tensor(4)],
        lambda m, x: x[np.int64(2)],
        lambda m, x: x[np.int64(-1), np.int32(1)],
        lambda m, x: x[m.tensor(2), m.tensor([0, 0])],
    ]:
        want, got = f(torch, t), f(cr, c)
        assert got.tolist() == want.tolist()
        assert got.grad_fn.name() == type(want.grad_fn).__name__
    _both(lambda m, x: x[np.int64(0)], shape=())


def test_random_index_expressions_against_torch():
    """Random mixes of every index form on a 4-d tensor: value, shape, grad_fn name, error
    text and the gradient under a random upstream gradient must all be torch's."""
    rng = np.random.default_rng(0)
    shape = (4, 5, 6, 3)
    a = rng.standard_normal(shape)

    def item(kind, n):
        if kind == "int":
            return int(rng.integers(-n - 1, n + 1))
        if kind == "slice":
            lo, hi = (
                None if rng.random() < 0.3 else int(rng.integers(-n - 2, n + 2)) for _ in "ab"
            )
            return slice(lo, hi, None if rng.random() < 0.5 else int(rng.integers(1, 4)))
        if kind == "list":
            return [int(v) for v in rng.integers(-n, n, rng.integers(0, 4))]
        if kind == "arr":
            return ("tensor", rng.integers(-n, n, (2, 1)))
        if kind == "mask":
            return ("tensor", rng.random(n) < 0.5)
        return {"none": None, "ell": Ellipsis, "bool": bool(rng.random() < 0.7)}[kind]

    kinds = ["int", "slice", "list", "arr", "mask", "none", "ell", "bool"]
    for _ in range(400):
        items, d = [], 0
        for _ in range(rng.integers(1, 5)):
            kind = rng.choice(kinds)
            if kind == "ell" and Ellipsis in items:
                continue
            items.append(item(kind, shape[min(d, 3)]))
            d += kind in ("int", "slice", "list", "arr", "mask")

        def index(m, items=items):
            return tuple(m.tensor(i[1]) if type(i) is tuple else i for i in items)

        tx, cx = torch.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                ty = tx[index(torch)]
            except Exception as e:
                with pytest.raises(type(e)) as err:
                    cx[index(cr)]
                assert str(err.value) == str(e), items
                continue
            cy = cx[index(cr)]
        assert cy.shape == ty.shape and cy.grad_fn.name() == type(ty.grad_fn).__name__, items
        np.testing.assert_array_equal(cy.detach().numpy(), ty.detach().numpy(), err_msg=str(items))
        u = rng.standard_normal(tuple(ty.shape))
        (gt,) = torch.autograd.grad(ty, tx, torch.tensor(u))
        (gc,) = cr.autograd.grad(cy, cx, cr.tensor(u))
        np.testing.assert_allclose(gc.numpy(), gt.numpy(), atol=1e-12, err_msg=str(items))


INDEX_FILL = [
    ((2, 3), 1, [0, 2, 2], -1.0),
    ((2, 3), 0, [1], 2.5),
    ((2, 3), -1, 1, 3.0),  # a 0-d index
    ((4,), 0, [-1, 0], 7.0),
    ((), 0, [0], 2.0),
    ((2, 3), 1, [], 1.0),
    ((2, 3), 1, [5], 1.0),  # out of range: IndexError
    ((2, 3), 1, [-4], 1.0),
    ((2, 3), 3, [0], 1.0),  # bad dim
    ((2, 3), 1, [[0]], 1.0),  # not a vector
    ((2, 3), 1, [0], "tensor"),  # a 0-d tensor value (IndexFillBackward1)
    ((2, 3), 1, [0], "vector"),  # refused
]


def _index_fill(m, shape, dim, index, value, inplace, int_index=False):
    x = m.arange(float(np.prod(shape) or 1)).reshape(shape) if shape else m.tensor(1.5)
    x.requires_grad_()
    idx = m.tensor(index, dtype=m.int32 if int_index else m.int64)
    v = {"tensor": m.tensor(2.0, requires_grad=True), "vector": m.ones(2)}.get(value, value)
    try:
        y = x * 1
        y = y.index_fill_(dim, idx, v) if inplace else y.index_fill(dim, idx, v)
        (y * y).sum().backward()
    except Exception as e:  # noqa: BLE001 - the exception is compared
        return type(e).__name__, str(e)
    vg = v.grad.tolist() if isinstance(v, m.Tensor) and v.grad is not None else None
    name = type(y.grad_fn).__name__ if m is torch else y.grad_fn.name()
    return y.tolist(), x.grad.tolist(), vg, name


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("case", INDEX_FILL, ids=str)
def test_index_fill_as_torch(case, inplace):
    assert _index_fill(cr, *case, inplace) == _index_fill(torch, *case, inplace)


def test_index_fill_index_dtype_and_saved_index():
    assert _index_fill(cr, (2, 3), 1, [0], 1.0, False, True) == _index_fill(
        torch, (2, 3), 1, [0], 1.0, False, True
    )
    got = []
    for m in (torch, cr):
        x = m.ones(2, 3, requires_grad=True)
        i = m.tensor([1])
        y = x.index_fill(1, i, 0.0)
        i.fill_(0)  # torch saves the index: backward refuses
        with pytest.raises(RuntimeError) as info:
            y.sum().backward()
        got.append(str(info.value).split(":")[0])
    assert got[0] == got[1]


@pytest.mark.parametrize("shape, dim, index", [((3,), 0, 5), ((3,), 0, -4), ((2, 3), 1, 3),
                                               ((2, 3), -1, -4), ((0,), 0, 0)])  # fmt: skip
def test_select_out_of_range_raises_as_torch(shape, dim, index):
    msgs = []
    for m in (torch, cr):
        with pytest.raises(IndexError) as e:
            m.ones(*shape).select(dim, index)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def _index_put_inplace(m):
    """index_put_ through the write path: a view of a graph tensor (CopySlices), a view of a
    leaf refused, the version, a 0-d index, an expanded tensor (torch's warning)."""
    a = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    out = []
    x = m.tensor(a, requires_grad=True)
    y = x * 1
    v = y[1:]
    i, j = m.tensor([0, 1]), m.tensor([2, 2])
    v.index_put_((i, j), m.tensor([5.0, 6.0], requires_grad=True), accumulate=True)
    out.append((y.grad_fn.name(), v.grad_fn.name(), y._version, y.tolist()))
    out.append(m.autograd.grad((y * y).sum(), x)[0].tolist())
    try:
        x[0].index_put_((m.tensor([0]),), m.tensor([1.0]))
    except RuntimeError as e:
        out.append(str(e).split("\n")[0])
    y = m.tensor(a) * 1
    out.append((y.index_put_((m.tensor([0]),), m.tensor([1.0])) is y, y._version))
    out.append(m.tensor(a).index_put((m.tensor(1),), m.tensor(7.0), True).tolist())
    e = m.zeros(4).expand(3, 4)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        e.index_put_((m.tensor([0]), m.tensor([1])), m.tensor([1.0]))
    out.append((e.tolist(), [str(x.message).split(" (Triggered")[0] for x in w]))
    return out


def test_index_put_inplace_as_torch():
    assert _index_put_inplace(cr) == _index_put_inplace(torch)


def test_masked_scatter_from_its_own_memory_is_refused():
    """torch's kernel reads the source while it writes self, element by element (no overlap
    check), so ``x.masked_scatter_(k, x)`` sees its own earlier writes; refused here with
    the index ops' overlap error (design.md, "Writes")."""
    x = cr.randn(3, 4)
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        x.masked_scatter_(x > 0, x)
    with pytest.raises(RuntimeError, match="refer to a single memory location"):
        x.masked_scatter_(x > 0, x[1:])


def _scatter_prod_zeros(m, src):
    """scatter_reduce "prod" where src has zeros: the gradient divides by the other factors;
    two zeros in one place have a gradient but no second derivative (torch's error)."""
    x = m.tensor([[1.5, -2.0, 0.5]], dtype=m.float64, requires_grad=True)
    s = m.tensor([src], dtype=m.float64, requires_grad=True)
    y = x.scatter_reduce(1, m.tensor([[0, 0, 1]]), s, "prod")
    gx, gs = m.autograd.grad((y * y).sum(), (x, s), create_graph=True)
    out = [gx.tolist(), gs.tolist(), gs.grad_fn.name()]
    try:
        out.append([t.tolist() for t in m.autograd.grad(gs.sum(), (x, s))])
    except RuntimeError as e:
        out.append(str(e))
    return out


@pytest.mark.parametrize("src", [[0.0, 2.0, 3.0], [0.0, 0.0, 3.0], [1.0, 0.0, 0.0]])
def test_scatter_reduce_prod_with_zeros_as_torch(src):
    assert _scatter_prod_zeros(cr, src) == _scatter_prod_zeros(torch, src)


def test_scatter_reduce_integer_mean_rounds_down():
    for m in (cr, torch):
        x = m.tensor([1, 2, 3])
        y = x.scatter_reduce(0, m.tensor([0, 0, 1]), m.tensor([3, 4, -5]), "mean")
        z = x.scatter_reduce(0, m.tensor([0, 0]), m.tensor([3, 4]), "mean", include_self=False)
        assert (y.tolist(), z.tolist()) == ([2, -2, 3], [3, 2, 3])

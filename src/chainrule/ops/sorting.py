"""Sorting: sort, argsort, msort, topk (values differentiable, indices int64)."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.ops.index.core import Index
from chainrule.ops.index.gather import _grid
from chainrule.ops.op import save_index

_sort_result = namedtuple("sort", ["values", "indices"])
_topk_result = namedtuple("topk", ["values", "indices"])


class SortValues(Index):
    """The input read at the sorted positions (a gather: its gradient scatters back)."""

    layout = "elementwise"  # torch's sort keeps the input's layout

    torch_name = "SortBackward0"


class TopkValues(Index):
    torch_name = "TopkBackward0"


def _order(x: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Stable order along ``dim``; nan counts as the largest value, as in torch."""
    if not descending:
        return np.argsort(x, axis=dim, kind="stable")
    n = x.shape[dim]  # stable descending: ascending order of the reversed array, reversed
    up = np.argsort(np.flip(x, dim), axis=dim, kind="stable")
    return np.flip(n - 1 - up, dim)


def _values(cls: type[Index], input: Tensor, idx: np.ndarray, dim: int, indices: Tensor) -> Any:
    """The values at ``idx``; the node saves ``indices``, as torch's SortBackward0 and
    TopkBackward0 do, so a second backward without retain_graph, or a write into the
    returned indices, raises as in torch."""
    if input._data.ndim == 0:  # a 0-d index into the one element: a 0-d copy, no view
        return save_index(cls.apply(input.reshape(1), key=(idx.reshape(()),)), indices)
    return save_index(cls.apply(input, key=_grid(idx, dim)), indices)


def _orderable(input: Tensor, what: str) -> Any:
    """The array of a tensor to order; complex numbers have no order (torch's error)."""
    if input._data.dtype.kind == "c":
        raise RuntimeError(f" {what} does not support complex dtypes on CPU")
    return input._data


@op
def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
    """``(values, indices)`` sorted along ``dim`` (ties keep their order)."""
    x = _orderable(input, "Sort")
    d = wrap_dim(dim, x.ndim)
    idx = _order(x, d, descending) if x.ndim else np.zeros((), np.int64)
    indices = _make(idx.astype(np.int64))
    return _sort_result(_values(SortValues, input, idx, d, indices), indices)


@op
def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``input`` along ``dim`` (ascending unless ``descending``)."""
    x = _orderable(input, "Sort")
    d = wrap_dim(dim, x.ndim)
    return _make((_order(x, d, descending) if x.ndim else np.zeros((), np.int64)).astype(np.int64))


@op
def msort(input: Tensor) -> Tensor:
    """``input`` sorted along its first dimension (``sort(input, 0).values``)."""
    return sort(input, 0).values


@op
def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
    """The ``k`` largest (or smallest) values along ``dim``, with their indices."""
    x = _orderable(input, "topk")
    d = wrap_dim(dim, x.ndim)
    n = x.shape[d] if x.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    idx = _order(x, d, largest) if x.ndim else np.zeros((), np.int64)
    idx = np.take(idx, np.arange(k), axis=d) if x.ndim else idx
    indices = _make(idx.astype(np.int64))
    return _topk_result(_values(TopkValues, input, idx, d, indices), indices)

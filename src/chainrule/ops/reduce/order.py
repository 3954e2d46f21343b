"""Order statistics: median, nanmedian, kthvalue, mode (values and indices), quantile and
nanquantile.

The values are torch's; so are the indices where several elements share the value picked,
which torch's kernels leave to their algorithm: median and nanmedian partition with
``(value, index)`` as the order (the element at its place in a stable sort), kthvalue runs
torch's quickselect (``quick_select_template``), and mode sorts ``(value, index)`` pairs
by value with libstdc++'s ``std::sort`` and takes the last of the mode's run. Those two are
re-run here, per slice, where ties make the index depend on them. The gradient goes to the
index returned (``median(input)`` without a dim: shared evenly by the elements equal to the
result, as torch's ``evenly_distribute_backward``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import kernel_missing, kind_of
from chainrule.ops.op import save_index
from chainrule.ops.reduce.extrema import Extremum, Select, _return_type

median_type, nanmedian_type = _return_type("median"), _return_type("nanmedian")
kthvalue_type, mode_type = _return_type("kthvalue"), _return_type("mode")


class MedianAll(Extremum):
    """median/nanmedian of all elements: the lower median; the elements equal to it share
    the gradient (torch's evenly_distribute_backward)."""

    def forward(self, x, axes, keepdim, largest, torch_name):
        self.axes, self.keepdim, self.torch_name = None, False, torch_name
        return _lower_median(x.reshape(1, -1), ignore_nan=largest)[0][0]


class MedianSelect(Select):
    torch_name = "MedianBackward1"


class NanmedianSelect(Select):
    torch_name = "NanmedianBackward1"


class KthvalueSelect(Select):
    torch_name = "KthvalueBackward0"


class ModeSelect(Select):
    torch_name = "ModeBackward0"


def _lower_median(rows: np.ndarray, ignore_nan: bool) -> tuple[np.ndarray, np.ndarray]:
    """Each row's lower median and its index: the element at place ``(n - 1) // 2`` of a
    stable sort; a row with a nan gives its first nan (``ignore_nan``: the median of the
    other elements; the first nan when all are nan, where torch's index is its sort
    running past the slice, as its comparator orders no two nans)."""
    m, n = rows.shape
    if n == 0:
        return np.full(m, np.nan, rows.dtype), np.zeros(m, np.int64)
    order = np.argsort(rows, axis=1, kind="stable")  # nan last, in index order
    nans = np.isnan(rows) if kind_of(rows.dtype) == "f" else np.zeros(rows.shape, bool)
    if ignore_nan:
        place = np.maximum((n - nans.sum(axis=1) - 1) // 2, 0)
    else:
        place = np.full(m, (n - 1) // 2)
    idx = np.take_along_axis(order, place[:, None], axis=1)[:, 0]
    if not ignore_nan:
        has = nans.any(axis=1)
        idx = np.where(has, np.argmax(nans, axis=1), idx)
    return np.take_along_axis(rows, idx[:, None], axis=1)[:, 0], idx.astype(np.int64)


def _quick_select(vals: list, k: int) -> int:
    """The index torch's ``quick_select_template`` leaves at place ``k`` (nan largest)."""
    arr, ind = list(vals), list(range(len(vals)))

    def gt(a: Any, b: Any) -> bool:  # torch's gt_or_nan
        return (a != a and b == b) or a > b

    def swap(i: int, j: int) -> None:
        arr[i], arr[j] = arr[j], arr[i]
        ind[i], ind[j] = ind[j], ind[i]

    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if gt(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap(lo + (hi - lo) // 2, lo + 1)  # median of three as the pivot
        if gt(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if gt(arr[lo], arr[hi]):
            swap(lo, hi)
        if gt(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, piv = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while gt(piv, arr[i]):
                i += 1
            j -= 1
            while gt(arr[j], piv):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return ind[k]


def _std_sort(a: list) -> list:
    """libstdc++'s ``std::sort`` of ``(value, index)`` pairs by value: introsort (median of
    three, unguarded partition) down to runs of 16, then insertion sort. (Its heapsort
    fallback, past 2 log2(n) levels, is a stable sort here.)"""
    n = len(a)

    def lt(x: tuple, y: tuple) -> bool:
        return x[0] < y[0]

    def linear(i: int) -> None:
        v, j = a[i], i - 1
        while j >= 0 and lt(v, a[j]):
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v

    def insertion(lo: int, hi: int) -> None:
        for i in range(lo + 1, hi):
            v = a[i]
            if lt(v, a[lo]):
                a[lo + 1 : i + 1] = a[lo:i]
                a[lo] = v
            else:
                linear(i)

    def loop(first: int, last: int, depth: int) -> None:
        while last - first > 16:
            if depth == 0:
                a[first:last] = sorted(a[first:last], key=lambda p: p[0])
                return
            depth -= 1
            x, y, z = first + 1, first + (last - first) // 2, last - 1
            if lt(a[x], a[y]):
                m = y if lt(a[y], a[z]) else (z if lt(a[x], a[z]) else x)
            else:
                m = x if lt(a[x], a[z]) else (z if lt(a[y], a[z]) else y)
            a[first], a[m] = a[m], a[first]
            lo, hi = first + 1, last
            while True:
                while lt(a[lo], a[first]):
                    lo += 1
                hi -= 1
                while lt(a[first], a[hi]):
                    hi -= 1
                if not lo < hi:
                    break
                a[lo], a[hi] = a[hi], a[lo]
                lo += 1
            loop(lo, last, depth)
            last = lo

    if n < 2:
        return a
    loop(0, n, 2 * (n.bit_length() - 1))
    if n > 16:
        insertion(0, 16)
        for i in range(16, n):
            linear(i)
    else:
        insertion(0, n)
    return a


def _mode_row(vals: list) -> int:
    """The index torch's mode kernel returns: the last of the longest run (the first such
    run) of ``std::sort``'s order; each nan is a run of its own."""
    el = _std_sort([(v, i) for i, v in enumerate(vals)])
    best, most, run = 0, 0, 0
    for i in range(len(el)):
        run += 1
        if i == len(el) - 1 or el[i][0] != el[i + 1][0]:
            if run > most:
                best, most = el[i][1], run
            run = 0
    return best


def _as_rows(x: np.ndarray, d: int) -> np.ndarray:
    return np.moveaxis(x, d, -1).reshape(-1, x.shape[d])


def _select(cls: type[Select], rt: type, input: Tensor, idx_rows: np.ndarray, d: int,
            keepdim: bool) -> Any:  # fmt: skip
    """The named tuple ``(values, indices)`` from each slice's index (rows of ``_as_rows``);
    the values node saves the indices, as torch's."""
    x = input._data
    if x.ndim == 0:
        idx = np.zeros((), np.int64)
        values = cls.apply(input, idx=idx, dim=0, keepdim=keepdim)
        indices = _make(idx)
        return rt(save_index(values, indices), indices)
    shape = list(x.shape)
    shape[d] = 1
    moved = np.moveaxis(np.zeros(shape, np.int8), d, -1).shape
    idx = np.moveaxis(idx_rows.astype(np.int64).reshape(moved), -1, d)
    values = cls.apply(input, idx=idx, dim=d, keepdim=keepdim)
    indices = _make(idx if keepdim else np.squeeze(idx, d))
    return rt(save_index(values, indices), indices)


def _check_dim(name: str, input: Tensor, dim: int) -> int:
    x = input._data
    d = wrap_dim(dim, x.ndim)
    if x.ndim and x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return d


def _median(name: str, input: Tensor, dim: Any, keepdim: bool) -> Any:
    x = input._data
    nan_free = name == "nanmedian"
    if dim is None:
        if kind_of(x.dtype) in "bc":
            raise kernel_missing("median_cpu", x)
        torch_name = "NanmedianBackward0" if nan_free else "MedianBackward0"
        return MedianAll.apply(input, axes=None, keepdim=False, largest=nan_free,
                               torch_name=torch_name)  # fmt: skip
    if kind_of(x.dtype) in "bc":
        raise kernel_missing("median_out", x)
    d = _check_dim(name, input, int(dim))
    rt, cls = (nanmedian_type, NanmedianSelect) if nan_free else (median_type, MedianSelect)
    if x.ndim == 0 or x.size == 0:
        return _select(cls, rt, input, np.zeros(0 if x.size == 0 else 1, np.int64), d, keepdim)
    return _select(cls, rt, input, _lower_median(_as_rows(x, d), nan_free)[1], d, keepdim)


@op
def median(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """``median(input)``: the lower of the two middle values (nan if there is one), the
    elements equal to it sharing the gradient; ``median(input, dim, keepdim=False)``: the
    named tuple ``(values, indices)``, the gradient going to the index returned."""
    return _median("median", input, dim, keepdim)


@op
def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """Like ``median``, ignoring nans (nan only where every element is nan)."""
    return _median("nanmedian", input, dim, keepdim)


@op
def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False) -> Any:
    """The named tuple ``(values, indices)`` of the ``k``-th smallest element along ``dim``
    (nan counts as the largest); the gradient goes to the index returned."""
    x = input._data
    if kind_of(x.dtype) in "bc":
        raise kernel_missing("kthvalue_cpu", x)
    d = _check_dim("kthvalue", input, dim)
    n = x.shape[d] if x.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    if x.ndim == 0 or x.size == 0:
        return _select(KthvalueSelect, kthvalue_type, input, np.zeros(0 if x.size == 0 else 1),
                       d, keepdim)  # fmt: skip
    rows = _as_rows(x, d)
    order = np.argsort(rows, axis=1, kind="stable")  # nan last
    idx = order[:, k - 1].copy()
    kth = np.take_along_axis(rows, idx[:, None], axis=1)
    same = (
        (rows == kth) | (np.isnan(rows) & np.isnan(kth))
        if kind_of(x.dtype) == "f"
        else (rows == kth)
    )
    for r in np.flatnonzero(same.sum(axis=1) > 1):  # ties: torch's quickselect decides
        idx[r] = _quick_select(rows[r].tolist(), k - 1)
    return _select(KthvalueSelect, kthvalue_type, input, idx, d, keepdim)


@op
def mode(input: Tensor, dim: int = -1, keepdim: bool = False) -> Any:
    """The named tuple ``(values, indices)`` of the most frequent value along ``dim`` (the
    smallest of equally frequent ones; each nan counts once), with the index torch's kernel
    gives (the last occurrence in slices of up to 16 elements without nan); the gradient
    goes to that index."""
    x = input._data
    if kind_of(x.dtype) == "c":
        raise kernel_missing("mode_cpu", x)
    d = _check_dim("mode", input, dim)
    if x.ndim == 0 or x.size == 0:
        return _select(ModeSelect, mode_type, input, np.zeros(0 if x.size == 0 else 1),
                       d, keepdim)  # fmt: skip
    rows = _as_rows(x, d)
    idx, done = _mode_fast(rows)
    for r in np.flatnonzero(~done):  # where std::sort's order of equal values shows
        idx[r] = _mode_row(rows[r].tolist())
    return _select(ModeSelect, mode_type, input, idx, d, keepdim)


def _mode_fast(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's mode index where no sort's choice shows, and which rows those are: rows
    without nan whose mode occurs once (the smallest value) or that have at most 16
    elements (std::sort's insertion sort keeps equal values in order: the last
    occurrence)."""
    m, n = rows.shape
    s = np.sort(rows, axis=1)
    new = np.ones(s.shape, bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    r, c = np.nonzero(new)  # run starts, row by row
    p = r * n + c
    end = np.minimum(np.append(p[1:], m * n), (r + 1) * n)
    length = end - p
    first = np.flatnonzero(np.append(True, r[1:] != r[:-1]))  # each row's first run
    most = np.maximum.reduceat(length, first)
    start = np.where(length == most[r], p, m * n)
    best = np.minimum.reduceat(start, first)  # the first longest run: the smallest value
    value = s.reshape(-1)[best][:, None]
    eq = rows == value
    last = n - 1 - np.argmax(eq[:, ::-1], axis=1)
    nan_free = ~np.isnan(rows).any(axis=1) if kind_of(rows.dtype) == "f" else np.ones(m, bool)
    return last.astype(np.int64), nan_free & ((n <= 16) | (most == 1))


_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(name: str, input: Tensor, q: Any, dim: Any, keepdim: bool,
              interpolation: str) -> Tensor:  # fmt: skip
    """torch's quantile_compute (its messages say "quantile()" for both): sort along
    ``dim``, the ranks ``q * (n - 1)`` (of the elements that are not nan, for nanquantile;
    the last for a slice with a nan, for quantile), and the values at the ranks below and
    above, interpolated (``lerp``: the gradient goes to those two elements)."""
    from chainrule.ops.elementwise.select import lerp
    from chainrule.ops.index.gather import gather
    from chainrule.ops.sorting import sort

    x = input._data
    if isinstance(q, Tensor):
        qa = q._data
        if qa.ndim > 1:
            raise RuntimeError("quantile() q must be a scalar or 1D tensor")
    elif isinstance(q, float | int) and not isinstance(q, bool):
        if not 0 <= q <= 1:
            raise RuntimeError(f"quantile() q must be in the range [0, 1] but got {q}")
        qa = None
    else:
        raise TypeError(
            f"{name}() received an invalid combination of arguments - got "
            f"({type(q).__name__}), but expected one of:\n"
            + "".join(
                f" * ({t} q, int dim = None, bool keepdim = False, *, str interpolation = "
                '"linear")\n'
                for t in ("Tensor", "float")
            )
        )
    if x.dtype not in (np.float32, np.float64):
        raise RuntimeError("quantile() input tensor must be either float or double dtype")
    if qa is not None and qa.dtype != x.dtype:
        raise RuntimeError("quantile() q tensor must be same dtype as the input tensor")
    if interpolation not in _INTERPOLATIONS:
        raise RuntimeError(
            "quantile() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest, but got {interpolation}"
        )
    d = None if dim is None else wrap_dim(int(dim), x.ndim)
    if x.size == 0:
        raise RuntimeError("quantile() input tensor must be non-empty")
    if qa is not None and not ((qa >= 0) & (qa <= 1)).all():
        raise RuntimeError("quantile() q values must be in the range [0, 1]")
    qs = np.asarray(q, dtype=x.dtype) if qa is None else qa
    # the sorted slices, each along the last dim
    if d is None or x.ndim == 0:
        s = sort(input.reshape(-1)).values
    else:
        s = sort(input.movedim(d, -1)).values
    sd = s._data
    n = sd.shape[-1]
    q1 = qs.reshape(-1)
    if name == "nanquantile":
        count = (~np.isnan(sd)).sum(-1, keepdims=True)
        ranks = q1 * (count - 1).astype(x.dtype)
        ranks = np.where(ranks < 0, np.zeros((), x.dtype), ranks)
    else:
        ranks = np.broadcast_to(q1 * np.asarray(n - 1, x.dtype), (*sd.shape[:-1], q1.size))
        ranks = np.where(np.isnan(sd).any(-1, keepdims=True), np.asarray(n - 1, x.dtype), ranks)
    if interpolation == "lower":
        ranks = np.floor(ranks)
    elif interpolation == "higher":
        ranks = np.ceil(ranks)
    elif interpolation == "nearest":
        ranks = np.round(ranks)  # half to even, as torch's round
    ranks = np.ascontiguousarray(np.broadcast_to(ranks, (*sd.shape[:-1], q1.size)))
    below = ranks.astype(np.int64)
    out = gather(s, -1, _make(below))
    if interpolation in ("linear", "midpoint"):
        w = np.full_like(ranks, 0.5) if interpolation == "midpoint" else ranks - below
        weight = _make(w.astype(x.dtype))
        if interpolation == "linear" and isinstance(q, Tensor):
            weight = _q_weight(name, q, sd, below)  # the same values, differentiable in q
        above = gather(s, -1, _make(np.ceil(ranks).astype(np.int64)))
        out = lerp(out, above, weight)
    # the quantiles' dim (last) to the front, or away for a scalar q
    out = out.squeeze(-1) if qs.ndim == 0 else out.movedim(-1, 0)
    if keepdim:
        lead = 0 if qs.ndim == 0 else 1
        if d is None or x.ndim == 0:
            out = out.reshape((*out.shape[:lead], *([1] * x.ndim)))
        else:
            out = out.unsqueeze(lead + d)
    return out


def _q_weight(name: str, q: Tensor, sd: np.ndarray, below: np.ndarray) -> Tensor:
    """The linear weights ``ranks - below`` as ops on ``q``, so ``q`` gets torch's gradient
    (its ranks are ``q * (n - 1)``, as torch's, before the nan rows' fill)."""
    from chainrule.ops.elementwise.select import where

    n, dt = sd.shape[-1], sd.dtype
    if name == "nanquantile":
        scale = ((~np.isnan(sd)).sum(-1, keepdims=True) - 1).astype(dt)
        ranks = q.reshape(-1) * _make(scale)
        ranks = where(_make(ranks._data < 0), 0.0, ranks)
    else:
        ranks = q.reshape(-1) * _make(np.asarray(n - 1, dt))
        ranks = where(_make(np.isnan(sd).any(-1, keepdims=True)), float(n - 1), ranks)
    return ranks - _make(below.astype(dt))


@op
def quantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:  # fmt: skip
    """The ``q``-th quantiles (``q`` a number or a 1-D tensor in [0, 1]; a tensor's values
    come first in the result's shape) over ``dim`` (all elements if None), between the two
    nearest ranks by ``interpolation``: "linear", "lower", "higher", "midpoint" or
    "nearest". A slice with a nan gives nan. The gradient goes to the two elements used
    (and, with "linear", to a tensor ``q`` through its ranks, as torch's)."""
    return _quantile("quantile", input, q, dim, keepdim, interpolation)


@op
def nanquantile(input: Tensor, q: Any, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:  # fmt: skip
    """Like ``quantile``, ignoring nans (nan only where a slice is all nan)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation)

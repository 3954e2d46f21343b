"""Sets and searching: unique, unique_consecutive, isin, searchsorted, bucketize.

None of them has a derivative: the indices, counts and masks are integers or bools, and
unique's values (which torch records with a node whose backward raises) are the only output
that can carry a ``grad_fn``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.dtypes import kernel_missing, kind_of
from chainrule.ops.op import Op


class NoDerivative(Op):
    """The values of unique: recorded as torch records them, so ``grad_fn`` has torch's
    name, but torch's backward raises (there is no derivative)."""

    save_inputs = False
    what = ""

    def forward(self, x, values):
        return values

    def backward(self, g):
        raise NotImplementedError(f"the derivative for '{self.what}' is not implemented.")


class Unique2(NoDerivative):
    what = "_unique2"


class UniqueDim(NoDerivative):
    what = "unique_dim"


class UniqueConsecutive(NoDerivative):
    what = "unique_consecutive"


def _check_uniqueable(x: np.ndarray) -> None:
    if kind_of(x.dtype) == "c":
        raise kernel_missing("unique", x.dtype)


def _rows(x: np.ndarray, dim: int | None) -> tuple[np.ndarray, int]:
    """``x`` as a 2-D array of the slices along ``dim`` (one per row), and ``dim`` wrapped."""
    if x.ndim == 0:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = wrap_dim(dim, x.ndim)
    moved = np.moveaxis(x, d, 0)
    if moved.size == 0 and moved.shape[0] != 0:
        raise RuntimeError(
            "There are 0 sized dimensions, and they aren't selected, so unique cannot be applied"
        )
    return moved.reshape(moved.shape[0], int(np.prod(moved.shape[1:]))), d


def _from_rows(rows: np.ndarray, x: np.ndarray, d: int) -> np.ndarray:
    shape = list(np.moveaxis(x, d, 0).shape)
    shape[0] = rows.shape[0]
    return np.moveaxis(rows.reshape(shape), 0, d)


def _runs(new: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """From ``new`` (True where an element starts a new run): each run's first position,
    each element's run number, and each run's length."""
    starts = np.flatnonzero(new)
    run_of = np.cumsum(new) - 1
    counts = np.diff(np.append(starts, new.size))
    return starts, run_of.astype(np.int64), counts.astype(np.int64)


def _result(
    node: type[NoDerivative], input: Tensor, values: np.ndarray, inverse: np.ndarray,
    counts: np.ndarray, return_inverse: bool, return_counts: bool,
) -> Any:  # fmt: skip
    out = node.apply(input, values=np.ascontiguousarray(values))
    if not (return_inverse or return_counts):
        return out
    extra = [_make(inverse)] if return_inverse else []
    extra += [_make(counts)] if return_counts else []
    return (out, *extra)


@op
def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
) -> Any:
    """The unique elements of ``input``, sorted (also with ``sorted=False``, as torch on the
    CPU); with ``return_inverse`` each element's index in them, with ``return_counts`` how
    often each occurs (a tuple then). With ``dim``, the unique slices along ``dim``, in
    lexicographic order. Each nan is an element of its own."""
    x = input._data
    _check_uniqueable(x)
    if dim is None:
        flat = x.reshape(-1)
        order = np.argsort(flat, kind="stable")
        s = flat[order]
        new = np.ones(s.size, dtype=bool)
        new[1:] = s[1:] != s[:-1]
        starts, run_of, counts = _runs(new)
        inverse = np.empty(flat.size, dtype=np.int64)
        inverse[order] = run_of
        return _result(Unique2, input, s[starts], inverse.reshape(x.shape), counts,
                       return_inverse, return_counts)  # fmt: skip
    rows, d = _rows(x, dim)
    order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(rows.shape[0])
    s = rows[order]
    new = np.ones(s.shape[0], dtype=bool)
    new[1:] = np.any(s[1:] != s[:-1], axis=1)
    starts, run_of, counts = _runs(new)
    inverse = np.empty(rows.shape[0], dtype=np.int64)
    inverse[order] = run_of
    return _result(UniqueDim, input, _from_rows(s[starts], x, d), inverse, counts,
                   return_inverse, return_counts)  # fmt: skip


@op
def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim: int | None = None
) -> Any:
    """``input`` with each run of equal consecutive elements (or slices along ``dim``) made
    one; ``return_inverse``/``return_counts`` as for ``unique``."""
    x = input._data
    _check_uniqueable(x)
    if dim is None:
        flat = x.reshape(-1)
        new = np.ones(flat.size, dtype=bool)
        new[1:] = flat[1:] != flat[:-1]
        starts, run_of, counts = _runs(new)
        return _result(UniqueConsecutive, input, flat[starts], run_of.reshape(x.shape),
                       counts, return_inverse, return_counts)  # fmt: skip
    rows, d = _rows(x, dim)
    new = np.ones(rows.shape[0], dtype=bool)
    new[1:] = np.any(rows[1:] != rows[:-1], axis=1)
    starts, run_of, counts = _runs(new)
    return _result(UniqueConsecutive, input, _from_rows(rows[starts], x, d), run_of, counts,
                   return_inverse, return_counts)  # fmt: skip


def _isin_operand(v: Any) -> np.ndarray:
    a = v._data if isinstance(v, Tensor) else np.asarray(v)
    if kind_of(a.dtype) in "bc":
        name = dtypes.scalar_type_name(a.dtype if isinstance(v, Tensor) else _number_dtype(v))
        raise RuntimeError(f"Unsupported input type encountered for isin(): {name}")
    return a


def _number_dtype(v: Any) -> np.dtype:
    return np.dtype(np.bool_ if isinstance(v, bool) else np.complex64)


@op(method=False)
def isin(elements: Any, test_elements: Any, *, assume_unique: bool = False,
         invert: bool = False) -> Tensor:  # fmt: skip
    """Whether each of ``elements`` is in ``test_elements`` (bool, ``elements``' shape;
    either may be a number, not both). ``invert`` gives the opposite; nan is in nothing."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            "isin() received an invalid combination of arguments - got "
            f"({type(elements).__name__}, {type(test_elements).__name__}), but expected one of:\n"
            " * (Tensor elements, Tensor test_elements, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n"
            " * (Number element, Tensor test_elements, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n"
            " * (Tensor elements, Number test_element, *, bool assume_unique = False, "
            "bool invert = False, Tensor out = None)\n"
        )
    e, t = _isin_operand(elements), _isin_operand(test_elements)
    found = np.isin(e, t.reshape(-1), invert=invert)
    return _make(np.asarray(found, dtype=bool).reshape(e.shape))


def _search(seq: np.ndarray, values: np.ndarray, right: bool,
            sorter: np.ndarray | None) -> np.ndarray:  # fmt: skip
    """torch's binary search, run on every value at once: the first position whose element
    is not below (``right``: not at most) the value; nan compares as torch's loop compares
    it (``not (mid >= v)`` moves right)."""
    n = seq.shape[-1]
    if seq.ndim > 1:  # one sequence per leading index: search each row
        seq2 = seq.reshape(-1, n)
        sort2 = None if sorter is None else sorter.reshape(-1, n)
        vals = values.reshape(seq2.shape[0], -1)
    else:
        seq2, sort2, vals = seq.reshape(1, n), None, values.reshape(1, -1)
        if sorter is not None:
            sort2 = sorter.reshape(1, n)
    start = np.zeros(vals.shape, dtype=np.int64)
    end = np.full(vals.shape, n, dtype=np.int64)
    while True:
        active = start < end
        if not active.any():
            break
        mid = (start + end) >> 1
        pos = np.minimum(mid, n - 1) if n else mid
        if sort2 is not None:
            pos = np.take_along_axis(sort2, pos, axis=1)
        mv = np.take_along_axis(seq2, pos, axis=1)
        with np.errstate(invalid="ignore"):
            go_right = ~(mv > vals) if right else ~(mv >= vals)
        start = np.where(active & go_right, mid + 1, start)
        end = np.where(active & ~go_right, mid, end)
    return start.reshape(values.shape)


def _search_dtype_check(seq: np.ndarray, vals: np.ndarray) -> None:
    """torch's kernel has no loop for bools or complex numbers."""
    for dt in (seq.dtype, vals.dtype):
        if kind_of(dt) in "bc":
            raise kernel_missing("searchsorted_out_cpu", dt)


@op(method=False)
def searchsorted(
    sorted_sequence: Tensor,
    input: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """For each value of ``input`` (a tensor or a number), the index in ``sorted_sequence``'s
    last dimension where it would be inserted to keep it sorted: before equal elements, or
    after them with ``right=True`` / ``side="right"``. An N-D ``sorted_sequence`` searches
    one row per leading index; ``sorter`` gives the order of an unsorted sequence. int64
    indices (int32 with ``out_int32``)."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(
                f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}"
            )
        if right and side == "left":
            raise RuntimeError(
                "torch.searchsorted(): side and right can't be set to opposites, got side of "
                "left while right was True"
            )
        right = side == "right"
    seq = sorted_sequence._data
    scalar = not isinstance(input, Tensor)
    vals = np.asarray(input) if scalar else input._data
    if seq.ndim == 0:
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should have positive dimension, but got 0 "
            "dimension"
        )
    if not scalar and seq.ndim > 1 and (vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(
            "torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
            "dimensions of boundaries tensor and input value tensor must match, but we got "
            f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}"
        )
    srt = None
    if sorter is not None:
        srt = sorter._data
        if srt.dtype != np.int64:
            raise RuntimeError(
                "torch.searchsorted(): sorter must be a tensor of long dtype but got dtype "
                f"{dtypes.scalar_type_name(srt.dtype)}"
            )
        if srt.shape != seq.shape:
            raise RuntimeError(
                "torch.searchsorted(): boundary and sorter must have the same size, but got "
                f"boundary tensor {list(seq.shape)}and got sorter tensor {list(srt.shape)}"
            )
        if srt.size and (srt.min() < 0 or srt.max() >= seq.shape[-1]):
            raise RuntimeError("torch.searchsorted(): sorter index out of range")
    _search_dtype_check(seq, vals)
    if scalar and seq.ndim > 1:
        raise RuntimeError(
            "torch.searchsorted(): input value can be a scalar only when boundaries tensor "
            f"dimension is 1, but we got boundaries tensor dim({seq.ndim}) and input value's "
            "dim(0) numel(1)"
        )
    idx = _search(seq, vals, right, srt)
    return _make(idx.astype(np.int32 if out_int32 else np.int64))


@op(method=False)
def bucketize(input: Any, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:  # fmt: skip
    """The bucket of each value of ``input`` (a tensor or a number) among the 1-D sorted
    ``boundaries``: ``searchsorted(boundaries, input, right=right)``."""
    if boundaries._data.ndim != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)

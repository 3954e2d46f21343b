"""Memory layout as torch reports and chooses it: ``memory_format`` objects, a tensor's
strides in elements, contiguity, and the layout torch gives an op's result.

torch's rule for results (see docs/design.md, "Memory layout"): an elementwise op
(TensorIterator) lays its result out like its inputs when they are non-overlapping and
dense (``x.t() + 1`` has ``x.t()``'s strides), otherwise in the order of their strides
(dense); every other op (reductions, matmul, conv, norms, pooling, softmax, cat ...) gives a
contiguous result. NumPy follows the inputs' layout through every step of a composite
kernel, so ``Op.apply`` makes a non-contiguous result contiguous unless the op is
elementwise or the result is a view of an input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "memory_format", "contiguous_format", "preserve_format", "channels_last", "channels_last_3d",
]  # fmt: skip


class memory_format:
    """torch's memory formats; chainrule lays tensors out in ``contiguous_format`` (and keeps
    an input's strides for ``preserve_format``); channels_last is only checked for."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self) -> str:
        return self.name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")

_CHANNELS_LAST_ORDER = {channels_last: (4, (1, 3, 2, 0)), channels_last_3d: (5, (1, 4, 3, 2, 0))}


def strides(a: np.ndarray) -> tuple[int, ...]:
    """torch's strides of an array, in elements: NumPy's, except where NumPy's are not
    torch's for the same tensor: an empty array (NumPy: all 0; torch: contiguous) and a
    size-1 dim NumPy inserted with stride 0 (torch's unsqueeze: the next dim's extent)."""
    shape = a.shape
    if not a.size:
        out, acc = [], 1
        for s in reversed(shape):
            out.append(acc)
            acc *= max(s, 1)
        return tuple(reversed(out))
    item = a.itemsize
    st = [s // item for s in a.strides]
    for d in range(len(shape) - 1, -1, -1):
        if shape[d] == 1 and st[d] == 0:
            st[d] = st[d + 1] * shape[d + 1] if d + 1 < len(shape) else 1
    return tuple(st)


def is_contiguous(a: np.ndarray, fmt: Any = None) -> bool:
    """torch's ``is_contiguous(memory_format=)``: size-1 dims and empty tensors do not count."""
    if fmt is None or fmt is contiguous_format or fmt is preserve_format:
        return bool(a.flags.c_contiguous)
    if fmt not in _CHANNELS_LAST_ORDER:
        raise TypeError(
            f"is_contiguous(): memory_format must be a chainrule.memory_format, not {fmt!r}"
        )
    rank, order = _CHANNELS_LAST_ORDER[fmt]
    if a.ndim != rank:
        return False
    expected, item = 1, a.itemsize
    for d in order:
        if a.shape[d] != 1:
            if a.strides[d] // item != expected:
                return False
            expected *= a.shape[d]
    return True


def check_format(fmt: Any, where: str) -> None:
    """chainrule makes contiguous (and preserved) layouts only: a clear refusal otherwise."""
    if fmt is None or fmt is contiguous_format or fmt is preserve_format:
        return
    if fmt in _CHANNELS_LAST_ORDER:
        raise NotImplementedError(
            f"{where}: chainrule lays tensors out in contiguous_format only; "
            f"memory_format={fmt!r} is not supported"
        )
    raise TypeError(f"{where}: memory_format must be a chainrule.memory_format, not {fmt!r}")


def preserve(a: np.ndarray, dtype: Any = None) -> np.ndarray:
    """A copy (cast to ``dtype``) with torch's ``preserve_format`` layout (clone, ``to``):
    ``a``'s strides when it is non-overlapping and dense, else dense in the order of its
    strides, broadcast (stride-0) dims keeping their place (torch's infer_dense_strides)."""
    if a.flags.c_contiguous or not a.size:
        return a.astype(dtype) if dtype is not None else a.copy()
    return _relayout(a, iterator_strides(a.shape, [a]), dtype)


def like(a: np.ndarray, values: np.ndarray, fmt: Any = preserve_format) -> np.ndarray:
    """``values`` (C order, ``a``'s shape) laid out as torch's ``*_like(a)`` lays out a new
    tensor: ``preserve_format`` (the default) as ``preserve``, else contiguous."""
    check_format(fmt, "memory_format")
    if fmt is not preserve_format or a.flags.c_contiguous or not a.size:
        return values
    want = iterator_strides(a.shape, [a])
    return values if _same_layout(values, want) else _relayout(values, want)


def _relayout(a: np.ndarray, want: Any, dtype: Any = None) -> np.ndarray:
    """A copy of ``a`` with the element strides ``want`` (a permutation of dense strides)."""
    order = sorted(range(a.ndim), key=lambda d: -want[d])  # slowest dim first
    buf = np.empty([a.shape[d] for d in order], a.dtype if dtype is None else dtype)
    res = buf.transpose(np.argsort(order))
    res[...] = a
    return res


def to_contiguous(out: np.ndarray, inputs: list) -> np.ndarray:
    """The layout torch gives a non-elementwise op's result: contiguous, unless ``out`` is
    a view of one of the inputs (a view keeps its strides)."""
    if out.base is not None:
        for x in inputs:
            if type(x) is np.ndarray and np.may_share_memory(out, x):
                return out
    return np.ascontiguousarray(out)


def iterator_strides(shape: tuple, arrays: list) -> list[int] | None:
    """The strides (in elements) torch's TensorIterator gives the result of an elementwise
    op on ``arrays`` (broadcast to ``shape``): the dims sorted by the inputs' strides, the
    first input with unequal non-zero strides deciding (``reorder_dimensions``), then laid
    out densely. None when an array does not broadcast to ``shape``."""
    nd = len(shape)
    ops = []
    for a in arrays:
        lead = nd - a.ndim
        if lead < 0:
            return None
        st = [0] * nd
        for i, (s, b) in enumerate(zip(a.shape, a.strides, strict=True)):
            if s != shape[lead + i]:
                if s != 1:
                    return None
            else:
                st[lead + i] = b
        ops.append(st)

    def should_swap(d0: int, d1: int) -> int:
        for st in ops:
            s0, s1 = st[d0], st[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 < s1:
                return -1
            if s0 > s1:
                return 1
            if shape[d0] > shape[d1]:
                return 1
        return 0

    perm = list(range(nd - 1, -1, -1))  # fastest dim first, as torch's perm_
    for i in range(1, nd):
        d1 = i
        for d0 in range(i - 1, -1, -1):
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    out, acc = [0] * nd, 1
    for d in perm:
        out[d] = acc
        acc *= shape[d]
    return out


def _same_layout(a: np.ndarray, want: list[int]) -> bool:
    item = a.itemsize
    return all(n == 1 or s == w * item for n, s, w in zip(a.shape, a.strides, want, strict=True))


def elementwise(out: np.ndarray, inputs: list) -> np.ndarray:
    """``out`` in the layout torch's TensorIterator gives an elementwise op's result:
    contiguous when every input is; else following the inputs' strides. Only an input of
    two or more dims that is not contiguous can make it other than contiguous."""
    arrays = None
    for x in inputs:
        if type(x) is np.ndarray and x.ndim > 1 and not x.flags.c_contiguous:
            arrays = [a for a in inputs if type(a) is np.ndarray and a.ndim]
            break
    if arrays is None or not out.size:
        return out if out.flags.c_contiguous else to_contiguous(out, inputs)
    want = iterator_strides(out.shape, arrays)
    if want is None:
        return out if out.flags.c_contiguous else to_contiguous(out, inputs)
    if _same_layout(out, want):
        return out
    for x in arrays:  # a view of an input keeps its strides
        if np.may_share_memory(out, x):
            return out
    return _relayout(out, want)

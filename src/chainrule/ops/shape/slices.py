"""Slices: narrow, and the slice op that split, chunk, unbind, cat and stack are built on."""

from __future__ import annotations

import numpy as np

from chainrule._engine import Deferred, deferred_welcome
from chainrule._registry import op
from chainrule._tensor import Tensor, _make, wrap_dim
from chainrule.ops.op import Op, anomaly, plain_rule


class Slice(Op):
    """``x[index]`` for basic indices: narrow, select, split, chunk and unbind share it."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view

    save_inputs = False

    def forward(self, x, index, tname):
        self.in_shape, self.index, self.tname = x.shape, index, tname
        return x[index]

    def name(self):
        return self.tname

    def backward(self, g):
        if deferred_welcome() and self._node_hooks is None and not anomaly.enabled and plain_rule():
            return SliceGrads(self.in_shape, self.index, g._data)  # summed when x's vertex runs
        return SliceAdjoint.apply(g, shape=self.in_shape, index=self.index)


class SliceGrads(Deferred):
    """The gradients the slices of one tensor hand back in a plain backward, kept as pieces
    (index, array) until the tensor's vertex runs (see ``Deferred``).

    The per-piece rule (``SliceAdjoint``) makes each piece a zero-padded full-size array and
    the walk adds them up: for ``q, k, v = x.split(n, -1)`` three zeroed arrays and two
    full-size sums, where torch's SplitBackward0 concatenates once. Pieces that do not
    overlap are written in one new array, each as ``g + 0``: that sum's bits exactly (each
    element is one piece's value plus zeros: ``-0`` becomes ``+0``), as cr.compile's
    ``SliceSum``. One piece is ``SliceAdjoint``'s array; overlapping pieces are added up
    as the walk would have."""

    __slots__ = ("shape", "pieces")

    def __init__(self, shape: tuple, index: tuple, g: np.ndarray) -> None:
        self.shape = shape
        self.pieces = [(index, g)]

    def plus(self, other):
        if (
            type(other) is SliceGrads
            and other.shape == self.shape
            and other.pieces[0][1].dtype == self.pieces[0][1].dtype
        ):
            self.pieces += other.pieces  # (both held by the walk's sum only)
            return self
        return self.value() + (other.value() if isinstance(other, Deferred) else other)

    def value(self):
        pieces, shape = self.pieces, self.shape
        dt = pieces[0][1].dtype
        if len(pieces) == 1:
            return SliceAdjoint.apply(pieces[0][1], shape=shape, index=pieces[0][0])
        spans = _disjoint_spans(shape, [ix for ix, _ in pieces])
        if spans is None:  # overlapping: the zero-padded arrays, added in the walk's order
            out = None
            for ix, g in pieces:
                full = padded(g, shape, ix)
                out = full if out is None else np.add(out, full)
            return _make(out)
        return _make(sum_disjoint(pieces, shape, dt, covered=spans))


def padded(g: np.ndarray, shape: tuple, index: tuple) -> np.ndarray:
    """Zeros of ``shape`` with ``g`` at ``index``: a slice's gradient (``SliceAdjoint``)."""
    out = np.zeros(shape, g.dtype)
    out[index] = g
    return out


def sum_disjoint(pieces: list, shape: tuple, dtype: np.dtype, covered: bool) -> np.ndarray:
    """The sum of the zero-padded gradients of slices that do not overlap, ``(index, g)``
    pieces, in one array: each piece written as ``g + 0`` (that sum's bits: -0 becomes +0),
    zeros where none lands (none when ``covered``). The plain walk's ``SliceGrads`` and
    cr.compile's ``SliceSum`` both run it."""
    out = np.empty(shape, dtype) if covered else np.zeros(shape, dtype)
    for ix, g in pieces:
        np.add(g, 0, out=out[ix])
    return out


def _disjoint_spans(shape: tuple, indexes: list) -> bool | None:
    """For slices of one dim (``slice_dim``'s indexes), do they tile it (True) or leave
    gaps (False)? None when two overlap (or an index is not of that form)."""
    dim, spans = None, []
    for ix in indexes:
        d = len(ix) - 2
        if d < 0 or ix[-1] is not Ellipsis or (dim is not None and d != dim):
            return None
        dim, key = d, ix[d]
        if type(key) is int:
            spans.append((key, key + 1))
        elif type(key) is slice and key.step is None and type(key.start) is type(key.stop) is int:
            spans.append((key.start, key.stop))
        else:
            return None
    spans.sort()
    end = 0
    covered = True
    for a, b in spans:
        if a < end:
            return None
        covered = covered and a == end
        end = max(end, b)
    return covered and end == shape[dim]


class SliceAdjoint(Op):
    """The gradient of a slice: zeros with the slice filled in."""

    save_inputs = False
    torch_name = "SliceBackwardBackward0"

    def forward(self, g, shape, index):
        self.index = index
        return padded(g, shape, index)

    def backward(self, gg):
        return Slice.apply(gg, index=self.index, tname="SliceBackward0")


def slice_dim(x: Tensor, dim: int, start: int, stop: int | None, tname: str) -> Tensor:
    """``x`` sliced along non-negative ``dim`` (``stop`` None: select index ``start``)."""
    key = slice(start, stop) if stop is not None else start
    return Slice.apply(x, index=(slice(None),) * dim + (key, Ellipsis), tname=tname)


@op
def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` from ``start`` (a view)."""
    shape = input._data.shape
    if not shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = wrap_dim(dim, len(shape))
    size = shape[d]
    if not -size <= start <= size:
        raise IndexError(
            f"start out of range (expected to be in range of [{-size}, {size}], but got {start})"
        )
    if start < 0:
        start += size
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return slice_dim(input, d, start, start + length, "SliceBackward0")


@op
def select(input: Tensor, dim: int, index: int) -> Tensor:
    """``input`` indexed by ``index`` along ``dim`` (that dim removed): a view."""
    d = wrap_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size "
            f"{list(input._data.shape)} at dimension {d}"
        )
    return input[(slice(None),) * d + (index,)]

"""Grids and broadcasts: meshgrid, broadcast_tensors, broadcast_shapes, cartesian_prod,
combinations and block_diag.

All but block_diag are torch's composites (views and expands, a stack), so their nodes are
the ones torch records (ExpandBackward0, StackBackward0); block_diag is one node,
BlockDiagBackward0, as torch's.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._registry import op
from chainrule._tensor import Size, Tensor, _make
from chainrule.ops.op import Op, expand
from chainrule.ops.shape.join import stack
from chainrule.ops.shape.slices import slice_dim

_MESHGRID_WARNING = (
    "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
)


def _tensor_list(tensors: tuple) -> list:
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        return list(tensors[0])  # the old interface: the operands as one list
    return list(tensors)


def _tensors(tensors: tuple) -> list:
    """Variadic tensors (torch's TensorList binding: a list among them is refused)."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}"
            )
    return list(tensors)


@op(method=False)
def meshgrid(*tensors: Any, indexing: str | None = None) -> tuple[Tensor, ...]:
    """Coordinate grids of 0-d or 1-d tensors: the ``i``-th result holds ``tensors[i]``
    along its own dim, expanded over the others (views, no copy).

    ``indexing="ij"`` gives shape ``(len(t0), len(t1), ...)``; ``"xy"`` swaps the first two
    dims (Cartesian, as NumPy's default). Without ``indexing``, "ij" with torch's warning
    that the argument will be required."""
    ts = _tensor_list(tensors)
    if indexing is None:
        warnings.warn(_MESHGRID_WARNING, UserWarning, stacklevel=2)
        indexing = "ij"
    if not ts:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in ts[1:]:
        if t._data.dtype != ts[0]._data.dtype:
            raise RuntimeError("meshgrid expects all tensors to have the same dtype")
    for t in ts:
        if t._data.ndim > 1:
            raise RuntimeError(
                f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t.shape}"
            )
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f'torch.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}'
        )
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(int(t._data.size) for t in ts)
    grids = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        grids.append(expand(t.view(*view), shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@op(method=False)
def broadcast_shapes(*shapes: Any) -> Size:
    """The shape that tensors of ``shapes`` broadcast to (an int is a 1-d shape)."""
    shapes = tuple((s,) if isinstance(s, int | np.integer) else s for s in shapes if s is not None)
    if not shapes:
        return Size([])
    for shape in shapes:
        if not isinstance(shape, Sequence):
            raise RuntimeError(
                "Input shapes should be of type ints, a tuple of ints, or a list of ints, "
                f"got {shape}"
            )
    common = [1] * max(len(s) for s in shapes)
    for arg, shape in enumerate(shapes):
        for i in range(-1, -1 - len(shape), -1):
            if shape[i] == common[i]:
                continue
            if common[i] == 1:
                if shape[i] < 0:
                    raise ValueError("Attempting to broadcast a dimension with negative length!")
                common[i] = shape[i]
            if shape[i] == 1:
                continue
            if common[i] != shape[i]:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {shape[i]} at {i}! "
                    f"Mismatching argument at index {arg} had {shape}; but expected shape "
                    f"should be broadcastable to {common}"
                )
    return Size([int(s) for s in common])


@op(method=False)
def broadcast_tensors(*tensors: Any) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape: each an expanded view, or the tensor
    itself when it already has that shape."""
    ts = _tensors(tensors)
    shape: tuple = ()
    for t in ts:
        shape = _broadcast_pair(shape, t._data.shape)
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in ts)


def _broadcast_pair(a: tuple, b: tuple) -> tuple:
    """torch's infer_size: the broadcast of two shapes, its error text when they clash."""
    n = max(len(a), len(b))
    out = [1] * n
    for i in range(n - 1, -1, -1):  # from the last dim, as torch's infer_size
        x = a[len(a) - n + i] if len(a) - n + i >= 0 else 1
        y = b[len(b) - n + i] if len(b) - n + i >= 0 else 1
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i}"
            )
        out[i] = y if x == 1 else x
    return tuple(out)


@op(method=False)
def cartesian_prod(*tensors: Any) -> Tensor:
    """The Cartesian product of 1-d tensors: one row per combination (``itertools.product``
    order); one tensor is returned as it is."""
    ts = _tensors(tensors)
    for t in ts:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._data.shape)}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([g.flatten() for g in grids], 1)


@op(method=False)
def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """The length-``r`` combinations of a 1-d tensor's elements, one per row
    (``itertools.combinations`` order; ``with_replacement``: as
    ``combinations_with_replacement``); torch's composite: a meshgrid, masked_select of the
    index-ordered entries, a stack, so gradients flow back as through indexing."""
    shape = input._data.shape
    if len(shape) != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return _make(np.empty((0,), dtype=input._data.dtype))
    grids = meshgrid(*([input] * r), indexing="ij")
    index = np.meshgrid(*([np.arange(shape[0])] * r), indexing="ij")
    mask = np.ones(index[0].shape, dtype=bool)
    for a, b in zip(index, index[1:]):
        mask &= (a <= b) if with_replacement else (a < b)
    keep = _make(mask)
    return stack([g.masked_select(keep) for g in grids], 1)


class BlockDiag(Op):
    formula = "d block_diag(As) = each A's block of g"
    save_inputs = False

    def forward(self, *xs, blocks, dtype):
        self.shapes = [x.shape for x in xs]
        self.dtypes = [x.dtype for x in xs]
        self.blocks = blocks
        rows = sum(b[0] for b in blocks)
        cols = sum(b[1] for b in blocks)
        out = np.zeros((rows, cols), dtype=dtype)
        r = c = 0
        for x, (h, w) in zip(xs, blocks):
            out[r : r + h, c : c + w] = x.reshape(h, w)
            r, c = r + h, c + w
        return out

    def backward(self, g):
        grads, r, c = [], 0, 0
        for i, (h, w) in enumerate(self.blocks):
            if self.needs(i):
                piece = slice_dim(slice_dim(g, 0, r, r + h, "SliceBackward0"), 1, c, c + w,
                                  "SliceBackward0")  # fmt: skip
                piece = piece.reshape(self.shapes[i])
                if piece._data.dtype != self.dtypes[i]:
                    piece = piece.to(dtypes.FROM_NP[self.dtypes[i]])
                grads.append(piece)
            else:
                grads.append(None)
            r, c = r + h, c + w
        return tuple(grads)


@op(method=False)
def block_diag(*tensors: Any) -> Tensor:
    """A block-diagonal matrix of the tensors (0-d as 1x1, 1-d as one row), zeros elsewhere;
    the result's dtype is the inputs' promoted type."""
    _tensors(tensors)
    blocks = []
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if nd > 2:
            raise RuntimeError(
                "torch.block_diag: Input tensors must have 2 or fewer dimensions. "
                f"Input {i} has {nd} dimensions"
            )
        shape = t._data.shape
        blocks.append((1, 1) if nd == 0 else (1, shape[0]) if nd == 1 else shape)
    if not tensors:  # torch's: an empty row
        return _make(np.zeros((1, 0), dtype=dtypes.get_default_dtype().np))
    return BlockDiag.apply(*tensors, blocks=blocks, dtype=dtypes.result_type(*tensors))

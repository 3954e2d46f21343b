"""Slices: narrow, and the slice op that split, chunk, unbind, cat and stack are built on."""

from __future__ import annotations

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.ops.op import Op


class Slice(Op):
    """``x[index]`` for basic indices: narrow, select, split, chunk and unbind share it."""

    layout = None  # a view

    save_inputs = False

    def forward(self, x, index, tname):
        self.in_shape, self.index, self.tname = x.shape, index, tname
        return x[index]

    def name(self):
        return self.tname

    def backward(self, g):
        return SliceAdjoint.apply(g, shape=self.in_shape, index=self.index)


class SliceAdjoint(Op):
    """The gradient of a slice: zeros with the slice filled in."""

    save_inputs = False
    torch_name = "SliceBackwardBackward0"

    def forward(self, g, shape, index):
        self.index = index
        out = np.zeros(shape, g.dtype)
        out[index] = g
        return out

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

"""tensor_split and its spellings hsplit, vsplit and dsplit: pieces of a tensor along a
dim, each a slice view (torch's composite: one SliceBackward0 node per piece)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.ops.shape.slices import slice_dim


def _sections_or_indices(arg: Any) -> int | list[int]:
    """An int (the number of sections) or a list of indices; torch's rules for a tensor."""
    if isinstance(arg, Tensor):
        data = arg._data
        if data.ndim > 1:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                f"one-dimensional tensor, but got a tensor with {data.ndim} dims"
            )
        if data.dtype != np.int64:
            raise RuntimeError(
                "tensor_split expected tensor_indices_or_sections to have dtype of long, but "
                f"got {dtypes.scalar_type_name(arg.dtype)}"
            )
        return int(data) if data.ndim == 0 else [int(i) for i in data]
    if isinstance(arg, int | np.integer) and not isinstance(arg, bool):
        return int(arg)
    return [int(i) for i in arg]


@op
def tensor_split(input: Tensor, indices_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``input`` along ``dim``: ``n`` sections (an int; the first ``size % n`` one
    element longer) or the pieces between the listed indices (clamped as slices are).

    ``indices_or_sections`` may be a 0-d (sections) or 1-d (indices) int64 tensor."""
    if input._data.ndim == 0:
        raise RuntimeError(
            "tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims"
        )
    spec = _sections_or_indices(indices_or_sections)
    d = wrap_dim(dim, input._data.ndim)
    size = input._data.shape[d]
    if isinstance(spec, int):
        if spec <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {spec}")
        small, extra = divmod(size, spec)
        bounds, start = [], 0
        for i in range(spec):
            stop = start + small + (1 if i < extra else 0)
            bounds.append((start, stop))
            start = stop
    else:
        bounds, start = [], 0
        for end in spec:
            bounds.append((start, end))
            start = end
        bounds.append((start, size))
    return tuple(slice_dim(input, d, *_clamped(a, b, size), "SliceBackward0") for a, b in bounds)


def _clamped(start: int, stop: int, size: int) -> tuple[int, int]:
    """at::slice's bounds: negatives wrap once, then clamp to the dim; never stop < start."""
    start = start + size if start < 0 else start
    stop = stop + size if stop < 0 else stop
    start = min(max(start, 0), size)
    stop = min(max(stop, start), size)
    return start, stop


def _split_along(name: str, input: Tensor, spec: Any, dim: int, least: int) -> tuple:
    nd = input._data.ndim
    if nd < least:
        raise RuntimeError(
            f"torch.{name} requires a tensor with at least {least} dimension, but got a tensor "
            f"with {nd} dimensions!"
        )
    if isinstance(spec, int | np.integer) and not isinstance(spec, bool):
        size = input._data.shape[dim]
        if spec == 0 or size % spec:
            raise RuntimeError(
                f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                f"dimension {size} is not divisible by the split_size {spec}!"
            )
    return tensor_split(input, spec, dim)


@op
def hsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 1 (dim 0 for a 1-d tensor); an int must divide the size."""
    dim = 1 if input._data.ndim > 1 else 0
    return _split_along("hsplit", input, indices_or_sections, dim, 1)


@op
def vsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 0 of a tensor of at least 2 dims; an int must divide it."""
    return _split_along("vsplit", input, indices_or_sections, 0, 2)


@op
def dsplit(input: Tensor, indices_or_sections: Any) -> tuple[Tensor, ...]:
    """``tensor_split`` along dim 2 of a tensor of at least 3 dims; an int must divide it."""
    return _split_along("dsplit", input, indices_or_sections, 2, 3)

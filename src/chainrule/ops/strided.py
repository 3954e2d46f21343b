"""Where a view sits in its base (``_Geometry``) and the nodes that rebuild a base's history
after a write through a view, as torch's CopySlices does: StridedView, StridedScatter,
StridedFill, CopySlices. Used by inplace.py's ``write``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule.ops.op import Op, self_overlapping

_new = object.__new__


class _Geometry:
    """Where a view sits in its base: element offset and strides in a C-ordered base or,
    when the base is itself strided (a tensor after ``t_()`` or ``transpose_``), the
    C-order position in the base of each of the view's elements (``index``)."""

    __slots__ = ("shape", "strides", "offset", "base_shape", "index", "overlaps", "mixed")

    def __init__(self, base: np.ndarray, view: np.ndarray) -> None:
        item = base.itemsize
        self.mixed = view.itemsize != item  # a real view of complex memory, or the reverse
        if self.mixed:  # (refused when used: see _refuse_mixed)
            self.shape, self.base_shape, self.index, self.overlaps = (
                view.shape,
                base.shape,
                None,
                False,
            )
            self.strides, self.offset = (), 0
            return
        self.shape, self.base_shape = view.shape, base.shape
        self.strides = tuple(s // item for s in view.strides)
        self.offset = (_address(view) - _address(base)) // item
        self.index = None if base.flags.c_contiguous else _positions(base, view)
        # several of the view's elements on one of the base's (an expand; unfold's windows)
        self.overlaps = self_overlapping(view)

    def region(self, a: np.ndarray) -> np.ndarray:
        """The view's elements inside a C-ordered base (a writeable view)."""
        if self.mixed:
            _refuse_mixed()
        flat = np.ascontiguousarray(a).reshape(-1)
        item = flat.itemsize
        return as_strided(flat[self.offset :], self.shape, tuple(s * item for s in self.strides))

    def take(self, a: np.ndarray) -> np.ndarray:
        """A copy of the view's elements of ``a`` (an array of the base's shape)."""
        if self.mixed:
            _refuse_mixed()
        if self.index is not None:
            return np.ascontiguousarray(a).reshape(-1)[self.index]
        return self.region(a).copy()

    def put(self, out: np.ndarray, values: Any) -> None:
        """Write ``values`` into the view's elements of ``out`` (C-contiguous, base-shaped)."""
        if self.mixed:
            _refuse_mixed()
        if self.index is not None:
            out.reshape(-1)[self.index] = values
        else:
            self.region(out)[...] = values

    def add(self, out: np.ndarray, values: np.ndarray) -> None:
        """Add ``values`` into the view's elements of ``out`` (C-contiguous, base-shaped);
        where several of the view's elements are one of the base's, their values sum."""
        if not self.overlaps:
            self.put(out, values)
            return
        index = self.index
        if index is None:
            index = self.region(np.arange(out.size).reshape(out.shape))
        np.add.at(out.reshape(-1), index, values)


def _refuse_mixed() -> None:
    raise NotImplementedError(
        "chainrule does not yet rebuild the history of a complex tensor written in place "
        "through a real view of it (real, imag, view_as_real), or of a real tensor written "
        "through a complex view (view_as_complex), while a gradient is recorded; write a copy, "
        "or write under torch.no_grad()"
    )


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _bounds(a: np.ndarray) -> tuple[int, int]:
    """The first and one-past-last byte addresses ``a`` reaches (strides may be negative)."""
    lo = hi = _address(a)
    if a.size == 0:
        return lo, lo
    for n, st in zip(a.shape, a.strides, strict=True):
        if st < 0:
            lo += st * (n - 1)
        else:
            hi += st * (n - 1)
    return lo, hi + a.itemsize


def scratch_windows(arrays: tuple[np.ndarray, ...], dtype: Any) -> list[np.ndarray]:
    """Windows on a new buffer of ``dtype`` laid out like the memory the ``arrays`` (one
    item size) are windows on: each at its offset, with its shape and strides (counted in
    items), so the windows overlap where the arrays do."""
    item = arrays[0].itemsize
    bounds = [_bounds(a) for a in arrays]
    lo = min(b[0] for b in bounds)
    buf = np.empty((max(b[1] for b in bounds) - lo) // item, dtype)
    return [
        as_strided(
            buf[(_address(a) - lo) // item :],
            a.shape,
            tuple(st // item * buf.itemsize for st in a.strides),
        )
        for a in arrays
    ]


def _positions(base: np.ndarray, view: np.ndarray) -> np.ndarray:
    """The C-order position in ``base`` of each element of ``view``: number the base's
    elements in a buffer laid out like the memory both are windows on, read the view."""
    b, v = scratch_windows((base, view), np.intp)
    v[...] = -1
    b[...] = np.arange(base.size).reshape(base.shape)
    return v.copy()


class StridedView(Op):
    """A view's history re-derived from its base's current history."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # the base's own layout

    jvp_rule = "linear"

    save_inputs = False
    torch_name = "AsStridedBackward0"

    def forward(self, x, geo):
        self.geo = geo
        return self.geo.take(x)

    def backward(self, g):
        return StridedScatter.apply(g, geo=self.geo)


class StridedScatter(Op):
    layout = None  # the base's own layout
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, g, geo):
        self.geo = geo
        out = np.zeros(geo.base_shape, dtype=g.dtype)
        geo.add(out, g)
        return out

    def backward(self, g):
        return StridedView.apply(g, geo=self.geo)


class StridedFill(Op):
    """The base's gradient with the overwritten region zeroed (a projection: self-adjoint)."""

    layout = None  # the base's own layout

    jvp_rule = "linear"

    save_inputs = False

    def forward(self, g, geo):
        self.geo = geo
        out = np.array(g, copy=True, order="C")
        geo.put(out, 0)
        return out

    def backward(self, g):
        return StridedFill.apply(g, geo=self.geo)


class CopySlices(Op):
    """New base = old base with the view's region replaced by a new value."""

    layout = None  # the base's own layout

    save_inputs = False
    torch_name = "torch::autograd::CopySlices"  # torch's name() for this node

    def _release(self) -> None:  # torch's CopySlices drops the copy node it wraps
        super()._release()
        self._freed = True

    def backward(self, g):
        if self.geo.overlaps:  # fill_/zero_ into an expanded view: torch's copy back fails
            raise RuntimeError(
                "unsupported operation: more than one element of the written-to tensor refers "
                "to a single memory location. Please clone() the tensor before performing the "
                "operation."
            )
        g_base = StridedFill.apply(g, geo=self.geo) if self.needs(0) else None
        g_value = StridedView.apply(g, geo=self.geo) if self.needs(1) else None
        return g_base, g_value


def reroute(node: Op, old: Any, new: Any) -> bool:
    """Point ``node``'s first edge to ``old`` (the tensor written in place: an in-place op's
    self) at ``new`` instead (a node just recorded, before anything reads it): whether it
    had such an edge. Another edge to ``old`` (``x[0:] = x``, ``x.mul_(x)``: the same
    tensor as the value) stays, as torch's CopySlices keeps the op's other inputs' edges."""
    edges = list(node._edges)
    for i, e in enumerate(edges):
        if e is old:
            edges[i] = new
            node._edges = tuple(edges)
            return True
    return False


def _node(cls: type[Op], edges: tuple, **state: Any) -> Op:
    node = _new(cls)
    node._edges, node.inputs, node.out_data, node._shapes = edges, None, None, None
    node.__dict__.update(state)
    node._look = True  # (_release drops what state holds)
    return node

"""Where a view sits in its base (``_Geometry``) and the nodes that rebuild a base's history
after a write through a view, as torch's CopySlices does: StridedView, StridedScatter,
StridedFill, CopySlices. Used by inplace.py's ``write``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from chainrule.ops.op import Op

_new = object.__new__


class _Geometry:
    """Where a view sits in its base: element offset and strides in a C-ordered base."""

    __slots__ = ("shape", "strides", "offset", "base_shape")

    def __init__(self, base: np.ndarray, view: np.ndarray) -> None:
        if not base.flags.c_contiguous:
            raise RuntimeError(
                "in-place modification of a view of a non-contiguous tensor that requires grad "
                "is not supported; call .contiguous() or .clone() on the base first"
            )
        item = base.itemsize
        self.shape, self.base_shape = view.shape, base.shape
        self.strides = tuple(s // item for s in view.strides)
        self.offset = (view.__array_interface__["data"][0]
                       - base.__array_interface__["data"][0]) // item  # fmt: skip

    def region(self, a: np.ndarray) -> np.ndarray:
        """The view's elements inside an array of the base's shape (a writeable view)."""
        flat = np.ascontiguousarray(a).reshape(-1)
        item = flat.itemsize
        return as_strided(flat[self.offset :], self.shape, tuple(s * item for s in self.strides))


class StridedView(Op):
    """A view's history re-derived from its base's current history."""

    jvp_rule = "linear"

    save_inputs = False
    torch_name = "AsStridedBackward0"

    def forward(self, x, geo):
        self.geo = geo
        return self.geo.region(x).copy()

    def backward(self, g):
        return StridedScatter.apply(g, geo=self.geo)


class StridedScatter(Op):
    jvp_rule = "linear"
    save_inputs = False

    def forward(self, g, geo):
        self.geo = geo
        out = np.zeros(geo.base_shape, dtype=g.dtype)
        geo.region(out)[...] = g
        return out

    def backward(self, g):
        return StridedView.apply(g, geo=self.geo)


class StridedFill(Op):
    """The base's gradient with the overwritten region zeroed (a projection: self-adjoint)."""

    jvp_rule = "linear"

    save_inputs = False

    def forward(self, g, geo):
        self.geo = geo
        out = np.array(g, copy=True, order="C")
        geo.region(out)[...] = 0
        return out

    def backward(self, g):
        return StridedFill.apply(g, geo=self.geo)


class CopySlices(Op):
    """New base = old base with the view's region replaced by a new value."""

    save_inputs = False
    torch_name = "torch::autograd::CopySlices"  # torch's name() for this node

    def backward(self, g):
        g_base = StridedFill.apply(g, geo=self.geo) if self.needs(0) else None
        g_value = StridedView.apply(g, geo=self.geo) if self.needs(1) else None
        return g_base, g_value


def _node(cls: type[Op], edges: tuple, **state: Any) -> Op:
    node = _new(cls)
    node._edges, node.inputs, node.out_data, node._shapes = edges, None, None, None
    node.__dict__.update(state)
    return node

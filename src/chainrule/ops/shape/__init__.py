"""Shape operations (a sub-package): views.py, slices.py, and joins/rearrangements in join.py."""

from __future__ import annotations

from chainrule.ops.shape import join, slices, views
from chainrule.ops.shape.join import *  # noqa: F403
from chainrule.ops.shape.slices import *  # noqa: F403
from chainrule.ops.shape.slices import slice_dim
from chainrule.ops.shape.views import *  # noqa: F403
from chainrule.ops.shape.views import infer_shape, shape_arg

__all__ = [*views.__all__, *slices.__all__, *join.__all__]

TENSOR_METHODS: dict = {**views.TENSOR_METHODS, **slices.TENSOR_METHODS, **join.TENSOR_METHODS}

_helpers = (infer_shape, shape_arg, slice_dim)

"""Shape operations (a sub-package): views in views.py, joins and rearrangements in join.py."""

from __future__ import annotations

from chainrule.ops.shape import join, views
from chainrule.ops.shape.join import *  # noqa: F403
from chainrule.ops.shape.views import *  # noqa: F403
from chainrule.ops.shape.views import infer_shape, shape_arg, slice_dim

__all__ = [*views.__all__, *join.__all__]

TENSOR_METHODS: dict = {**views.TENSOR_METHODS, **join.TENSOR_METHODS}

_helpers = (infer_shape, shape_arg, slice_dim)

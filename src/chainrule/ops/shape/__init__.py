"""Shape operations (a sub-package): views.py, slices.py, joins/rearrangements in join.py,
sections.py (tensor_split), grids.py (meshgrid, broadcast_tensors, block_diag)."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.shape import grids, join, sections, slices, views  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)

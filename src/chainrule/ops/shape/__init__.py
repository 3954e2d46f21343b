"""Shape operations (a sub-package): views.py, slices.py, and joins/rearrangements in join.py."""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.shape import join, slices, views  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)

"""Indexing: ``Tensor.__getitem__``, gather/scatter along a dim, masks, nonzero.

A sub-package (one family, five files): core.py (the Index / IndexPutAdd pair everything
reads through, and the scatter-add), getitem.py (``__getitem__``), gather.py (gather,
scatter, scatter_add), select.py (index_select, index_add, take, take_along_dim), mask.py
(masked_fill, masked_select, nonzero, argwhere). ``Tensor.__setitem__`` (in-place) is not here.
"""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.index import gather, getitem, mask, select  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)

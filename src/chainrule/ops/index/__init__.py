"""Indexing: ``Tensor.__getitem__``, gather/scatter along a dim, masks, nonzero.

A sub-package (one family, five files): core.py (the Index / IndexPutAdd pair everything
reads through, and the scatter-add), getitem.py (``__getitem__``), gather.py (gather,
scatter, scatter_add), select.py (index_select, index_add, take, take_along_dim), mask.py
(masked_fill, masked_select, nonzero, argwhere). ``Tensor.__setitem__`` (in-place) is not here.
"""

from __future__ import annotations

from chainrule.ops.index.gather import gather, scatter, scatter_add
from chainrule.ops.index.getitem import getitem
from chainrule.ops.index.mask import argwhere, masked_fill, masked_select, nonzero
from chainrule.ops.index.select import index_add, index_select, take, take_along_dim

__all__ = [
    "gather", "scatter", "scatter_add", "index_select", "index_add", "take", "take_along_dim",
    "masked_fill", "masked_select", "nonzero", "argwhere",
]  # fmt: skip

TENSOR_METHODS = {name: globals()[name] for name in __all__}
TENSOR_METHODS["__getitem__"] = getitem

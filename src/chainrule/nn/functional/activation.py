"""torch.nn.functional's signatures for catalog activations whose catalog signature is the
tensor one: relu (``inplace``), softmax and log_softmax (``_stacklevel``)."""

from __future__ import annotations

from typing import Any

from chainrule._tensor import Tensor
from chainrule.ops import activation as _act
from chainrule.ops import elementwise as _ew

__all__ = ["relu", "softmax", "log_softmax"]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(0, x)``. (``inplace`` is accepted and ignored: the result is a new tensor.)"""
    return _ew.relu(input)


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:  # fmt: skip
    """``exp(x) / sum(exp(x))`` along ``dim`` (the catalog's stable primitive)."""
    return _act.softmax(input, dim, dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:  # fmt: skip
    """``log(softmax(x))`` along ``dim`` (the catalog's stable primitive)."""
    return _act.log_softmax(input, dim, dtype)

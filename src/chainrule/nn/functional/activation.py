"""torch.nn.functional's signatures for catalog activations whose catalog signature is the
tensor one: relu (``inplace``), softmax and log_softmax (``_stacklevel``)."""

from __future__ import annotations

from typing import Any

from chainrule._registry import op
from chainrule._tensor import Tensor
from chainrule.ops import elementwise as _ew
from chainrule.ops import softmax as _sm


@op(namespace="nn.functional", method=False, inplace_function=True)
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(0, x)``; with ``inplace``, written into ``input`` (``relu_``) as in torch."""
    return input.relu_() if inplace else _ew.relu(input)


@op(namespace="nn.functional", method=False)
def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:  # fmt: skip
    """``exp(x) / sum(exp(x))`` along ``dim`` (the catalog's stable primitive)."""
    return _sm.softmax(input, dim, dtype)


@op(namespace="nn.functional", method=False)
def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:  # fmt: skip
    """``log(softmax(x))`` along ``dim`` (the catalog's stable primitive)."""
    return _sm.log_softmax(input, dim, dtype)

"""``chainrule.linalg``: torch.linalg's names (inv, det, slogdet, solve, norm, ...), each
declared where it is defined (``@op(namespace="linalg")`` in ``chainrule.ops.linalg``)."""

from __future__ import annotations

from chainrule import _coverage, _registry, ops
from chainrule._tensor import Tensor
from chainrule.ops.linalg.decomp import LinAlgError
from chainrule.ops.linalg.products import diagonal as _diagonal


@_registry.op(namespace="linalg", method=False)
def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """The diagonals of a batch of matrices (the last two dims by default)."""
    return _diagonal(A, offset, dim1, dim2)


__all__ = ["LinAlgError", *_registry.export(globals(), "linalg")]
_ = ops  # importing the catalog declares the linalg functions
__getattr__ = _coverage.missing_attribute(__name__, "torch.linalg")

"""Linear algebra (a sub-package): products, einsum, decomp (inv, det ...), norms, compose.

``chainrule.linalg`` (src/chainrule/linalg.py) exposes decomp's functions under torch.linalg's
names; the top-level names here are torch's (matmul, mm, bmm, dot, det, inverse, slogdet ...).
"""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.linalg import compose, decomp, einsum, norms, products  # noqa: F401  (each declares its ops)

__all__ = export_package(globals(), __name__)

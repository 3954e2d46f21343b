"""Linear algebra (a sub-package): products, einsum, decomp (inv, det ...), norms, compose,
covariance (cov, corrcoef), distance (cdist, dist, cross), addprod (baddbmm, addbmm, addmv,
addr).

``chainrule.linalg`` (src/chainrule/linalg.py) exposes decomp's functions under torch.linalg's
names; the top-level names here are torch's (matmul, mm, bmm, dot, det, inverse, slogdet ...).
"""

from __future__ import annotations

from chainrule._registry import export_package
from chainrule.ops.linalg import (  # noqa: F401  (each declares its ops)
    addprod,
    compose,
    covariance,
    decomp,
    distance,
    einsum,
    norms,
    products,
)

__all__ = export_package(globals(), __name__)

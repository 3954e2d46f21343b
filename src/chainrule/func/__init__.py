"""``chainrule.func``: composable function transforms (torch.func): grad, grad_and_value,
vjp, jvp, jacrev, jacfwd, hessian, vmap (a loop over the batch, see ``_vmap``) and
functional_call."""

from __future__ import annotations

from chainrule import _coverage
from chainrule.func._forward import hessian, jacfwd, jvp
from chainrule.func._functional_call import functional_call
from chainrule.func._transforms import grad, grad_and_value, jacrev, vjp
from chainrule.func._vmap import vmap

__all__ = [
    "grad",
    "grad_and_value",
    "vjp",
    "jvp",
    "jacrev",
    "jacfwd",
    "hessian",
    "vmap",
    "functional_call",
]
__getattr__ = _coverage.missing_attribute(__name__, "torch.func")

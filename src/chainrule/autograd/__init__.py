"""``chainrule.autograd``: gradients of tensors with respect to others (torch.autograd)."""

from __future__ import annotations

from chainrule import _coverage
from chainrule.autograd import forward_ad, functional, graph
from chainrule.autograd._grad import backward, grad
from chainrule.autograd.anomaly import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from chainrule.autograd.explain import explain_backward
from chainrule.autograd.function import Function, FunctionCtx, once_differentiable
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from chainrule.graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from chainrule.legacy import Variable

__all__ = [
    "grad", "backward", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "Function", "FunctionCtx", "once_differentiable", "forward_ad", "detect_anomaly",
    "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled", "functional",
    "graph", "gradcheck", "gradgradcheck", "GradcheckError", "explain_backward", "Variable",
]  # fmt: skip
__getattr__ = _coverage.missing_attribute(__name__, "torch.autograd")

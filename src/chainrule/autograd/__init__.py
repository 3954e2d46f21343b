"""``chainrule.autograd``: gradients of tensors with respect to others (torch.autograd)."""

from __future__ import annotations

from collections.abc import Sequence

from chainrule._tensor import Tensor, _make, run_backward
from chainrule.autograd.explain import explain_backward  # noqa: F401 (backward, narrated)
from chainrule.graph import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = [
    "grad", "backward", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "Function", "FunctionCtx", "once_differentiable", "forward_ad", "detect_anomaly",
    "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
]  # fmt: skip


def _seq(x: Tensor | Sequence[Tensor] | None) -> list:
    if x is None:
        return []
    return [x] if isinstance(x, Tensor) else list(x)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the leaves' ``.grad``."""
    tensors = _seq(tensors)
    grads = _seq(grad_tensors) or [None] * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} tensors and {len(tensors)} gradients")
    run_backward(tensors, grads, retain_graph, create_graph, _seq(inputs) or None, True)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """The gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is left alone)."""
    outputs, inputs = _seq(outputs), _seq(inputs)
    grads = _seq(grad_outputs) or [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(grads)} grad_outputs and "
            f"{len(outputs)} outputs"
        )
    for x in inputs:
        if not x.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    if allow_unused is None:
        allow_unused = materialize_grads
    captured = run_backward(outputs, grads, retain_graph, create_graph, inputs, False)
    result = []
    for x in inputs:
        g = captured.get(id(x.grad_fn or x))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the "
                    "graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                import numpy as np

                g = _make(np.zeros(x._data.shape, x._data.dtype))
        result.append(g)
    return tuple(result)


# the modules below use grad/backward defined above
from chainrule.autograd import forward_ad, functional, graph  # noqa: E402
from chainrule.autograd.anomaly import (  # noqa: E402
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from chainrule.autograd.function import Function, FunctionCtx, once_differentiable  # noqa: E402
from chainrule.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ += [
    "functional", "graph", "gradcheck", "gradgradcheck", "GradcheckError", "explain_backward",
]  # fmt: skip

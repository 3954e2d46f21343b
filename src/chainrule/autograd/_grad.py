"""``autograd.backward`` and ``autograd.grad``: the engine's two entry points besides
``Tensor.backward`` (re-exported by the package, whose other modules import them from here)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from chainrule._engine import run_backward
from chainrule._tensor import Tensor, _make
from chainrule.ops.shape.join import stack

__all__ = ["backward", "grad"]


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
    """The gradients of ``outputs`` with respect to ``inputs`` (``.grad`` is left alone).

    ``is_grads_batched``: the first dimension of each ``grad_outputs`` is a batch, and each
    result gets it too (torch vmaps the backward; here it is a loop over the batch).
    ``only_inputs`` is deprecated and ignored, with torch's warning when False."""
    if not only_inputs:
        warnings.warn(
            "only_inputs argument is deprecated and is ignored now (defaults to True). To "
            "accumulate gradient for other parts of the graph, please use "
            "torch.autograd.backward.",
            FutureWarning,
            stacklevel=2,
        )
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
    if is_grads_batched:
        return _batched(outputs, inputs, grads, retain_graph, create_graph, allow_unused,
                        materialize_grads)  # fmt: skip
    captured = run_backward(outputs, grads, retain_graph, create_graph, inputs, False)
    result = []
    for i, x in enumerate(inputs):
        g = captured.get(id(x.grad_fn or x))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior."
                )
            if materialize_grads:
                g = _make(np.zeros(x._data.shape, x._data.dtype))
        result.append(g)
    return tuple(result)


def _batched(
    outputs: list,
    inputs: list,
    grads: list,
    retain_graph: bool | None,
    create_graph: bool,
    allow_unused: bool,
    materialize_grads: bool,
) -> tuple[Tensor | None, ...]:
    """``grad`` once per row of the batched ``grads``, results stacked along a new dim 0."""
    n = None
    for i, (g, out) in enumerate(zip(grads, outputs)):
        if g is None:
            if out._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            continue
        if g._data.shape[1:] != out._data.shape:
            raise RuntimeError(
                "If `is_grads_batched=True`, we interpret the first dimension of each "
                "grad_output as the batch dimension. The sizes of the remaining dimensions are "
                "expected to match the shape of corresponding output, but a mismatch was "
                f"detected: grad_output[{i}] has a shape of "
                f"torch.Size({list(g._data.shape[1:])}) and output[{i}] has a shape of "
                f"torch.Size({list(out._data.shape)}). If you only want some tensors in "
                "`grad_output` to be considered batched, consider using vmap."
            )
        n = g._data.shape[0] if n is None else n
    if n is None:  # nothing batched: torch's vmap has no batch to map over
        raise RuntimeError("vmap: Expected at least one Tensor to vmap over")
    rows = [
        grad(
            outputs,
            inputs,
            [None if g is None else g[b] for g in grads],
            retain_graph=True if b < n - 1 else retain_graph,
            create_graph=create_graph,
            allow_unused=allow_unused,
        )
        for b in range(n)
    ]
    result = []
    for i, x in enumerate(inputs):
        if n == 0:
            result.append(_make(np.zeros((0, *x._data.shape), x._data.dtype)))
            continue
        column = [row[i] for row in rows]
        if all(g is None for g in column):
            result.append(
                _make(np.zeros(x._data.shape, x._data.dtype)) if materialize_grads else None
            )
            continue
        zero = _make(np.zeros(x._data.shape, x._data.dtype))
        result.append(stack([zero if g is None else g for g in column]))
    return tuple(result)

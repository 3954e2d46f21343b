"""Activation checkpointing (``torch.utils.checkpoint``): keep a segment's inputs, not the
activations inside it, and recompute them during backward.

``checkpoint(function, *args)`` runs ``function`` once with recording on, only to learn
which tensors requiring grad it reaches (its tensor arguments, and parameters or other
tensors it captures), then drops that graph and keeps the outputs' values. The result is
the output of one custom-Function node whose inputs are those tensors; its backward
re-runs ``function`` under ``enable_grad`` (with the default generator's state as it was
in forward, so dropout draws the same masks) and backpropagates through the recomputed
graph. ``use_reentrant`` is accepted for torch compatibility; both values use this scheme,
which supports ``autograd.grad`` and double backward.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import creation
from chainrule._tensor import Tensor
from chainrule.autograd import grad as _grad
from chainrule.autograd.function import Function
from chainrule.autograd.graph import leaves
from chainrule.graph import enable_grad, is_grad_enabled

__all__ = ["checkpoint", "checkpoint_sequential"]


def _flatten(out: Any) -> tuple[list, bool]:
    if isinstance(out, tuple):
        return list(out), True
    return [out], False


class _CheckpointFunction(Function):
    """One node standing for the whole segment; its inputs: the segment's tensor arguments,
    then the captured tensors it reaches."""

    @staticmethod
    def forward(ctx: Any, run: Callable, args: tuple, kwargs: dict, rng_state: Any,
                values: list, *tensors: Tensor) -> Any:  # fmt: skip
        ctx.run, ctx.args, ctx.kwargs, ctx.rng_state = run, args, kwargs, rng_state
        ctx.n_args = sum(isinstance(a, Tensor) for a in args)
        ctx.save_for_backward(*tensors)
        return tuple(values) if len(values) > 1 else values[0]

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple:
        tensors = ctx.saved_tensors
        build = is_grad_enabled()  # create_graph: the gradient must stay a function of inputs
        fresh = [
            t.view_as(t)
            if build and t.requires_grad
            else t.detach().requires_grad_(t.requires_grad)
            for t in tensors[: ctx.n_args]
        ]
        it = iter(fresh)
        args = tuple(next(it) if isinstance(a, Tensor) else a for a in ctx.args)
        gen = creation.default_generator
        current = gen.get_state()
        if ctx.rng_state is not None:
            gen.set_state(ctx.rng_state)
        try:
            with enable_grad():
                outs, _ = _flatten(ctx.run(*args, **ctx.kwargs))
        finally:
            if ctx.rng_state is not None:
                gen.set_state(current)
        wrt = fresh + list(tensors[ctx.n_args :])
        pairs = [
            (o, g)
            for o, g in zip(outs, grads)
            if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        want = [i for i, w in enumerate(wrt) if w.requires_grad]
        result: list = [None] * len(wrt)
        if pairs and want:
            gs = _grad(
                [o for o, _ in pairs], [wrt[i] for i in want], [g for _, g in pairs],
                retain_graph=True, create_graph=build, allow_unused=True,
            )  # fmt: skip
            for i, g in zip(want, gs):
                result[i] = g
        return (None, None, None, None, None, *result)


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = False,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, with its activations recomputed in backward instead
    of kept."""
    if not is_grad_enabled():
        return function(*args, **kwargs)
    rng_state = creation.default_generator.get_state() if preserve_rng_state else None
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    out = function(*args, **kwargs)
    outs, is_tuple = _flatten(out)
    # the tensors requiring grad the segment reaches beyond its own arguments
    captured = leaves(outs, stop=tensor_args)
    if not captured and not any(a.requires_grad for a in tensor_args):
        return out  # nothing to differentiate: no graph was recorded
    values = [o.detach() if isinstance(o, Tensor) else o for o in outs]
    del out, outs  # the segment's graph, and the activations it holds, go here
    result = _CheckpointFunction.apply(
        function, args, kwargs, rng_state, values, *tensor_args, *captured
    )
    if is_tuple and not isinstance(result, tuple):
        return (result,)
    return result


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Any,
    use_reentrant: bool | None = False,
    **kwargs: Any,
) -> Any:
    """Run a sequence of functions (or an ``nn.Sequential``) in ``segments`` chunks, every
    chunk but the last checkpointed (torch's split)."""
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start: int, end: int, functions: list) -> Callable:
        def forward(input: Any) -> Any:
            for j in range(start, end + 1):
                input = functions[j](input)
            return input

        return forward

    if hasattr(functions, "children") and not isinstance(functions, list | tuple):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(
            run_function(start, end, functions),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve,
        )
    return run_function(end + 1, len(functions) - 1, functions)(input)

"""Activation checkpointing (``torch.utils.checkpoint``): keep a segment's inputs, not the
activations inside it, and recompute them during backward. Both of torch's variants:

* ``use_reentrant=False``: ``checkpoint(function, *args)`` runs ``function`` once with
  recording on, only to learn which tensors requiring grad it reaches (its tensor
  arguments, and parameters or other tensors it captures) and the metadata of the values
  its nodes save for backward, then drops that graph and keeps the outputs' values. The
  result is the output of one custom-Function node whose inputs are those tensors; its
  backward re-runs ``function`` under ``enable_grad`` (with the default generator's state
  as it was in forward, so dropout draws the same masks), checks the recomputation saved
  values of the same shapes and dtypes (``determinism_check="default"``, torch's
  ``CheckpointError`` otherwise) and backpropagates through the recomputed graph. It
  supports ``autograd.grad``, double backward and keyword arguments. ``context_fn``'s two
  context managers wrap the forward and the recomputation, as in torch.
* ``use_reentrant=True`` (torch's default when the argument is not given, with torch's
  warning): torch's ``CheckpointFunction``. The forward runs under ``no_grad``; only the
  tensor arguments are the node's inputs, so with none requiring grad the output does not
  either (torch's warning, and no gradients for captured parameters); backward recomputes
  and runs an inner ``backward`` that accumulates into the captured parameters' ``.grad``.
  Like torch's it refuses ``autograd.grad`` and ``backward(inputs=)``, keyword arguments,
  ``context_fn`` and ``debug``, and does not check determinism.

``early_stop`` is accepted with both values: torch stops the recomputation once it has
every value backward needs (``True``), chainrule always runs the whole function again (as
torch with ``False``); the values and gradients are the same, only side effects of the
function's tail differ. ``debug=True`` (operator traces in torch's error messages) raises
NotImplementedError.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import Any

from chainrule import creation
from chainrule._engine import checkpoint_valid
from chainrule._tensor import Tensor, _make
from chainrule.autograd import backward as _backward
from chainrule.autograd import grad as _grad
from chainrule.autograd.function import Function
from chainrule.autograd.graph import leaves, walk
from chainrule.graph import enable_grad, is_grad_enabled, no_grad

__all__ = ["checkpoint", "checkpoint_sequential", "CheckpointError", "noop_context_fn"]


class CheckpointError(RuntimeError):
    """The recomputation differs from the forward (torch's error of that name)."""


def noop_context_fn() -> tuple[Any, Any]:
    """The default ``context_fn``: no context around the forward or the recomputation."""
    return contextlib.nullcontext(), contextlib.nullcontext()


_DETERMINISM_CHECKS = ["default", "none"]


def _flatten(out: Any) -> tuple[list, bool]:
    if isinstance(out, tuple):
        return list(out), True
    return [out], False


def _saved_metadata(outs: list, stop: list) -> list[dict]:
    """Shape, dtype and device of every value the segment's nodes saved for backward (an
    op's saved inputs and output, a custom Function's saved tensors), in graph order."""
    meta = []
    for node in walk([o for o in outs if isinstance(o, Tensor)], stop=stop):
        arrays = [t._data for t in getattr(node, "inputs", None) or () if isinstance(t, Tensor)]
        if getattr(node, "out_data", None) is not None:
            arrays.append(node.out_data)
        ctx = getattr(node, "ctx", None)
        if ctx is not None:
            saved = ctx.__dict__.get("_saved") or ()
            arrays += [t._data for t in saved if isinstance(t, Tensor)]
        for a in arrays:
            t = _make(a)
            meta.append({"shape": t.shape, "dtype": t.dtype, "device": t.device})
    return meta


def _check_determinism(saved: list[dict], recomputed: list[dict]) -> None:
    """torch's ``determinism_check="default"`` on chainrule's saved values."""
    if len(recomputed) > len(saved):
        raise CheckpointError(
            "torch.utils.checkpoint: trying to save more tensors during recomputation than "
            "during the original forward pass."
        )
    if len(recomputed) < len(saved):
        raise CheckpointError(
            "torch.utils.checkpoint: A different number of tensors was saved during the "
            "original forward and recomputation.\n"
            f"Number of tensors saved during forward: {len(saved)}\n"
            f"Number of tensors saved during recomputation: {len(recomputed)}."
        )
    lines = [
        f"tensor at position {i}:\nsaved metadata: {a}\nrecomputed metadata: {b}\n"
        for i, (a, b) in enumerate(zip(saved, recomputed))
        if a != b
    ]
    if lines:
        raise CheckpointError(
            "torch.utils.checkpoint: Recomputed values for the following tensors have "
            "different metadata than during the forward pass.\n" + "".join(lines) + "."
        )


class _Boundary(Function):
    """Where a recomputed segment meets its inputs under ``create_graph``: an identity
    whose backward stops the segment's own gradient computation there (the checkpoint
    node hands that gradient to the inputs itself; passing it on too would count it
    twice), then, once that is done (``ctx.open``), passes gradients on, so the
    gradient's graph stays a function of the inputs for a second derivative."""

    @staticmethod
    def forward(ctx: Any, t: Tensor) -> Tensor:
        ctx.open = False
        return t.clone()

    @staticmethod
    def backward(ctx: Any, g: Tensor) -> Tensor | None:
        return g if ctx.open else None


class _CheckpointFunction(Function):
    """One node standing for the whole segment; its inputs: the segment's tensor arguments,
    then the captured tensors it reaches."""

    @staticmethod
    def forward(ctx: Any, run: Callable, args: tuple, kwargs: dict, rng_state: Any,
                values: list, recompute_context: Any, saved_meta: list | None,
                *tensors: Tensor) -> Any:  # fmt: skip
        ctx.run, ctx.args, ctx.kwargs, ctx.rng_state = run, args, kwargs, rng_state
        ctx.recompute_context, ctx.saved_meta = recompute_context, saved_meta
        ctx.n_args = n = sum(isinstance(a, Tensor) for a in args)
        # torch saves the tensor arguments (version-checked at backward), not the tensors the
        # segment captures: those the recomputation reads as they are then (a parameter
        # stepped under no_grad in between is no error)
        ctx.save_for_backward(*tensors[:n])
        ctx.captured = tensors[n:]
        return tuple(values) if len(values) > 1 else values[0]

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple:
        tensors = (*ctx.saved_tensors, *ctx.captured)
        build = is_grad_enabled()  # create_graph: the gradient must stay a function of inputs
        fresh = [
            _Boundary.apply(t)
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
            with enable_grad(), ctx.recompute_context:
                outs, _ = _flatten(ctx.run(*args, **ctx.kwargs))
        finally:
            if ctx.rng_state is not None:
                gen.set_state(current)
        if ctx.saved_meta is not None:
            _check_determinism(ctx.saved_meta, _saved_metadata(outs, fresh))
        wrt = fresh + list(tensors[ctx.n_args :])
        pairs = [
            (o, g)
            for o, g in zip(outs, grads)
            if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        want = [i for i, w in enumerate(wrt) if w.requires_grad]
        result: list = [None] * len(wrt)
        if pairs and want:
            # the captured tensors' hooks run once, when this node hands them their gradient
            # (torch's recomputation feeds its original graph): not inside this inner pass
            owners = [t if t.grad_fn is None else t.grad_fn for t in tensors[ctx.n_args :]]
            hooks = [getattr(o, "_hooks", None) for o in owners]
            for o, h in zip(owners, hooks):
                if h:
                    o._hooks = None
            try:
                gs = _grad(
                    [o for o, _ in pairs], [wrt[i] for i in want], [g for _, g in pairs],
                    retain_graph=True, create_graph=build, allow_unused=True,
                )  # fmt: skip
            finally:
                for o, h in zip(owners, hooks):
                    if h:
                        o._hooks = h
            for i, g in zip(want, gs):
                result[i] = g
        for f in fresh:  # the segment's gradient is computed: boundaries pass from now on
            if f.grad_fn is not None and hasattr(f.grad_fn, "ctx"):
                f.grad_fn.ctx.open = True
        return (None, None, None, None, None, None, None, *result)


class _ReentrantCheckpoint(Function):
    """torch's ``CheckpointFunction`` (``use_reentrant=True``): the tensor arguments are the
    node's inputs; backward recomputes and runs an inner ``backward``."""

    @staticmethod
    def forward(ctx: Any, run: Callable, preserve: bool, *args: Any) -> Any:
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn(
                "None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2
            )
        ctx.run = run
        ctx.rng_state = creation.default_generator.get_state() if preserve else None
        ctx.tensor_indices = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.inputs = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*[a for a in args if isinstance(a, Tensor)])
        with no_grad():
            return run(*args)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple:
        if not checkpoint_valid():
            raise RuntimeError(
                "When use_reentrant=True, torch.utils.checkpoint is incompatible with .grad() "
                "or passing an `inputs` parameter to .backward(). To resolve this error, you "
                "can either set use_reentrant=False, or call .backward() without passing the "
                "`inputs` argument."
            )
        inputs = list(ctx.inputs)
        for i, t in zip(ctx.tensor_indices, ctx.saved_tensors):
            inputs[i] = t.detach().requires_grad_(t.requires_grad)
        gen = creation.default_generator
        current = gen.get_state()
        if ctx.rng_state is not None:
            gen.set_state(ctx.rng_state)
        try:
            with enable_grad():
                outs, _ = _flatten(ctx.run(*inputs))
        finally:
            if ctx.rng_state is not None:
                gen.set_state(current)
        pairs = [(o, g) for o, g in zip(outs, grads) if isinstance(o, Tensor) and o.requires_grad]
        if not pairs:
            raise RuntimeError(
                "none of output has requires_grad=True, this checkpoint() is not necessary"
            )
        _backward([o for o, _ in pairs], [g for _, g in pairs])
        return (None, None, *[t.grad if isinstance(t, Tensor) else None for t in inputs])


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = None,
    context_fn: Callable[[], tuple[Any, Any]] = noop_context_fn,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, with its activations recomputed in backward instead
    of kept (both variants and every option as torch's; see the module docstring).
    ``preserve_rng_state`` (default True) is taken from ``kwargs``, as torch does."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be passed explicitly. "
            "Starting in PyTorch 2.9, calling checkpoint without use_reentrant will raise an "
            "exception. use_reentrant=False is recommended, but if you need to preserve the "
            "current default behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.",
            stacklevel=2,
        )
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError(
                "Passing `context_fn` or `debug` is only supported when use_reentrant=False."
            )
        return _ReentrantCheckpoint.apply(function, preserve, *args)
    if debug:
        raise NotImplementedError(
            "checkpoint: debug=True (operator traces in the error messages) is not supported "
            "by chainrule"
        )
    if determinism_check not in _DETERMINISM_CHECKS:
        raise ValueError(
            f"determinism_check should be one of {_DETERMINISM_CHECKS}, but got {determinism_check}"
        )
    forward_context, recompute_context = context_fn()
    if not is_grad_enabled():
        return function(*args, **kwargs)
    rng_state = creation.default_generator.get_state() if preserve else None
    tensor_args = [a for a in args if isinstance(a, Tensor)]
    with forward_context:
        out = function(*args, **kwargs)
    outs, is_tuple = _flatten(out)
    # the tensors requiring grad the segment reaches beyond its own arguments
    captured = leaves(outs, stop=tensor_args)
    if not captured and not any(a.requires_grad for a in tensor_args):
        return out  # nothing to differentiate: no graph was recorded
    meta = _saved_metadata(outs, tensor_args) if determinism_check == "default" else None
    values = [o.detach() if isinstance(o, Tensor) else o for o in outs]
    del out, outs  # the segment's graph, and the activations it holds, go here
    result = _CheckpointFunction.apply(
        function, args, kwargs, rng_state, values, recompute_context, meta, *tensor_args,
        *captured,
    )  # fmt: skip
    if is_tuple and not isinstance(result, tuple):
        return (result,)
    return result


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Any,
    use_reentrant: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Run a sequence of functions (or an ``nn.Sequential``) in ``segments`` chunks, every
    chunk but the last checkpointed (torch's split). ``use_reentrant`` as ``checkpoint``'s
    (not given: torch's warning, then True); ``preserve_rng_state`` is the one keyword."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant parameter should "
            "be passed explicitly. In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is recommended, but if you need to preserve "
            "the current default behavior, you can pass use_reentrant=True. Refer to docs for "
            "more details on the differences between the two variants.",
            stacklevel=2,
        )
        use_reentrant = True
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

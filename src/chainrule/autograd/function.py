"""Custom differentiable functions (``torch.autograd.Function``): forward and backward
written by the user, with ``ctx.save_for_backward`` and the engine's usual safety checks."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor, _make, version_counter
from chainrule.autograd.forward_ad import _set_tangent
from chainrule.dtypes import kind_of
from chainrule.graph import grad_mode, no_grad
from chainrule.ops.op import (
    _DETACHED,
    _FREED,
    Op,
    _edge,
    _modified_message,
    forward_ad,
    sum_to_size,
)

__all__ = ["Function", "FunctionCtx", "once_differentiable"]

_new = object.__new__


class FunctionCtx:
    """What ``forward`` hands to ``backward``: saved tensors and flags."""

    def save_for_backward(self, *tensors: Tensor | None) -> None:
        """Keep tensors for ``backward`` (read them back as ``ctx.saved_tensors``); their
        versions are checked, so an in-place change before backward raises.
        """
        self._saved = tensors
        self._saved_versions = tuple(t._version if isinstance(t, Tensor) else 0 for t in tensors)
        # non-leaves when saved: detaching one in place later refuses it (torch)
        self._saved_nonleaf = tuple(
            isinstance(t, Tensor) and t.grad_fn is not None for t in tensors
        )

    @property
    def saved_tensors(self) -> tuple:
        """The tensors ``save_for_backward`` kept (an error once backward freed them)."""
        saved = self.__dict__.get("_saved", ())
        if saved is None:
            raise RuntimeError(_FREED)
        nonleaf = self.__dict__.get("_saved_nonleaf", ())
        for i, (t, v) in enumerate(zip(saved, self._saved_versions)):
            if i < len(nonleaf) and nonleaf[i] and t.grad_fn is None:
                raise RuntimeError(_DETACHED)
            if isinstance(t, Tensor) and t._version != v:
                raise RuntimeError(_modified_message(t._data, t.grad_fn, t._version, v))
        return saved

    def mark_non_differentiable(self, *outputs: Tensor) -> None:
        """Declare outputs that get no gradient (indices, masks); they do not require grad."""
        self._non_differentiable = {id(t) for t in outputs}

    def mark_dirty(self, *tensors: Tensor) -> None:
        """Declare the inputs ``forward`` modified in place (and returns)."""
        self._dirty = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        """With ``False``, ``backward`` receives ``None`` (not zeros) for outputs that got
        no gradient.
        """
        self.materialize_grads = value

    materialize_grads = True
    needs_input_grad: tuple = ()


class GradTuple(tuple):
    """The gradients of a multi-output function: summed position by position."""

    def __add__(self, other: GradTuple) -> GradTuple:  # type: ignore[override]
        return GradTuple(b if a is None else a if b is None else a + b for a, b in zip(self, other))


class FunctionBackward(Op):
    """The node of one call of a custom Function."""

    save_inputs = False

    def name(self) -> str:
        return f"{self.fn.__name__}Backward"

    def _run_backward(self, grad: Any, retain_graph: bool) -> tuple:
        ctx = self.ctx
        if ctx.__dict__.get("_saved", ()) is None:
            raise RuntimeError(_FREED)
        grads = tuple(grad) if isinstance(grad, GradTuple) else (grad,)
        if ctx.materialize_grads:
            grads = tuple(
                _make(np.zeros(s, d)) if g is None else g for g, (s, d) in zip(grads, self.out_meta)
            )
        result = self.fn.backward(ctx, *grads)
        if not isinstance(result, tuple):
            result = (result,)
        n = len(self._edges)
        if len(result) < n or any(r is not None for r in result[n:]):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients (expected "
                f"{n}, got {len(result)})"
            )
        out = []
        for i, (g, meta) in enumerate(zip(result[:n], self.in_meta)):
            if g is None or meta is None or self._edges[i] is None:
                out.append(None)
                continue
            shape, dtype = meta
            if g._data.shape != shape:
                try:
                    g = sum_to_size(g, shape)
                except RuntimeError:
                    raise RuntimeError(
                        f"Function {self.name()} returned an invalid gradient at index {i} - got "
                        f"{list(g._data.shape)} but expected shape compatible with {list(shape)}"
                    ) from None
            out.append(g if g._data.dtype == dtype else g.to(dtypes.FROM_NP[dtype]))
        if not retain_graph and "_saved" in ctx.__dict__:
            ctx._saved = None  # saved tensors are freed, as in torch
        return tuple(out)


class OutputSelect(Op):
    """Output ``i`` of a multi-output Function: its gradient goes to slot ``i``."""

    save_inputs = False

    def name(self) -> str:
        return self.parent.name()

    def _run_backward(self, grad: Tensor, retain_graph: bool) -> tuple:
        grads = [None] * self.n
        grads[self.i] = grad
        return (GradTuple(grads),)


class Function:
    """Subclass with ``@staticmethod forward(ctx, *args)`` and ``backward(ctx, *grads)``
    (optionally ``jvp(ctx, *tangents)``, or torch's ``setup_context`` style), then call
    ``MyFunction.apply(*args)``."""

    @staticmethod
    def forward(ctx: FunctionCtx, *args: Any, **kwargs: Any) -> Any:
        """Compute the outputs from the inputs (override; ``ctx`` stores what backward needs).
        Runs without recording a graph.
        """
        raise NotImplementedError(
            "You must implement the forward function for custom autograd.Function."
        )

    @staticmethod
    def backward(ctx: FunctionCtx, *grad_outputs: Any) -> Any:
        """Given the gradients of the outputs, return one gradient per ``forward`` input
        (``None`` for inputs without one). Override it.
        """
        raise NotImplementedError(
            "You must implement either the backward or vjp method for your custom "
            "autograd.Function to use it with backward mode AD."
        )

    jvp = None  # optional: @staticmethod jvp(ctx, *tangents) for forward mode
    setup_context = None  # optional: torch's style forward(*args) + setup_context(ctx, ...)

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the function on its inputs and record one node for it in the graph
        (``MyFn.apply(x, y)``; call it instead of ``forward``).
        """
        ctx = FunctionCtx()
        tensors = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a._requires_grad for a in args)
        with no_grad():
            if cls.setup_context is not None:
                outputs = cls.forward(*args, **kwargs)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = [outputs] if single else list(outputs)
        ids = {id(a) for a in tensors}
        outs = [_alias(o) if isinstance(o, Tensor) and id(o) in ids else o for o in outs]
        if forward_ad.level and any(getattr(a, "_fw", None) is not None for a in tensors):
            _forward_tangents(cls, ctx, args, outs)
        record = grad_mode.enabled and any(t._requires_grad for t in tensors)
        if record:
            node = _new(FunctionBackward)
            node._edges = tuple(_edge(a) for a in args)
            node.inputs = node.out_data = node._shapes = None
            node.fn, node.ctx = cls, ctx
            node.in_meta = tuple(
                (a._data.shape, a._data.dtype) if isinstance(a, Tensor) else None for a in args
            )
            node.out_meta = tuple(
                (o._data.shape, o._data.dtype) if isinstance(o, Tensor) else ((), np.float32)
                for o in outs
            )
            skip = ctx.__dict__.get("_non_differentiable", set())
            live = [
                i for i, o in enumerate(outs)
                if isinstance(o, Tensor) and id(o) not in skip and kind_of(o._data.dtype) in "fc"
            ]  # fmt: skip
            for i in live:
                o = outs[i]
                if len(outs) == 1:
                    o.grad_fn = node
                else:
                    sel = _new(OutputSelect)
                    sel._edges = (node,)
                    sel.inputs = sel.out_data = sel._shapes = None
                    sel.parent, sel.i, sel.n = node, i, len(outs)
                    o.grad_fn = sel
                o._requires_grad = True
        return outs[0] if single else tuple(outs)


def _alias(t: Tensor) -> Tensor:
    """A forward that returns an input as-is gets a new tensor on the same memory."""
    a = _make(t._data)
    a._vc = version_counter(t)
    return a


def _forward_tangents(cls: type, ctx: FunctionCtx, args: tuple, outs: list) -> None:
    if cls.jvp is None:
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD."
        )
    tangents = [getattr(a, "_fw", None) if isinstance(a, Tensor) else None for a in args]
    tangents = [
        _make(np.zeros_like(a._data)) if t is None and isinstance(a, Tensor) else t
        for a, t in zip(args, tangents)
    ]
    level, forward_ad.level = forward_ad.level, 0
    try:
        result = cls.jvp(ctx, *tangents)
    finally:
        forward_ad.level = level
    result = result if isinstance(result, tuple) else (result,)
    for o, t in zip(outs, result):
        if isinstance(o, Tensor) and t is not None:
            _set_tangent(o, t)


def once_differentiable(fn: Any) -> Any:
    """Mark a backward that cannot itself be differentiated: it runs without recording."""

    @functools.wraps(fn)
    def wrapper(ctx: FunctionCtx, *args: Any) -> Any:
        with no_grad():
            return fn(ctx, *args)

    return wrapper

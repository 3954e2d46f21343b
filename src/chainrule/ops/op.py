"""The op base class: recording, saved values, view tracking, engine hooks, and the
broadcasting pair ``sum_to_size`` / ``expand`` (ops, each the other's adjoint) that
``Op._run_backward`` uses to sum gradients back to each input's shape.

Every differentiable primitive is a subclass of ``Op`` with two methods side by side:

* ``forward(self, *arrays, **params)`` computes the result from NumPy arrays (and Python
  numbers), and keeps on ``self`` whatever the rule needs later (params, masks);
* ``backward(self, grad)`` returns the gradient of each input from the output's gradient
  ``grad``: a vector-Jacobian product, written with chainrule's own tensor operations so
  that it can itself be differentiated (``create_graph=True``).

``Op.apply`` runs forward and, when a gradient will be needed, links the new node into the
graph. Class flags say what the base class keeps for backward: ``save_inputs`` (the input
tensors, as ``self.inputs``), ``save_output`` (the result, as ``self.output``) and
``elementwise`` (the input shapes, so gradients are summed back over broadcast dimensions
here and never inside a rule).
"""

from __future__ import annotations

import functools
import re
import traceback
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

# (the hot path's type tests read ndarray as a global: NumPy's module has a __getattr__, so
# Python 3.11 does not specialize reading np.ndarray, ~300 instructions against ~20)
from numpy import ndarray

from chainrule._engine import AccumulateGrad
from chainrule._fp import FP_IGNORE, fp_set, fp_state, ignore_fp_errors, restore_fp_errors
from chainrule._layout import elementwise as elementwise_layout
from chainrule._layout import to_contiguous
from chainrule._registry import tensor_method
from chainrule._tensor import (
    NO_GRAD_VIEW,
    Tensor,
    _Handle,
    _make,
    check_multi_view,
    inplace_log,
    rederive_written_view,
    version_counter,
)
from chainrule._trace import state as trace
from chainrule.backend import threaded
from chainrule.backend.threads import PAR_ELEMENTS, PARALLEL
from chainrule.dtypes import (
    FROM_NP,
    REDUCED,
    kind_of,
    precision,
    scalar_type_name,
    tensor_type_name,
)
from chainrule.graph import all_on, grad_mode

__all__ = [
    "Op", "SumToSize", "Tied", "tied", "Expand", "expand", "sum_to_size", "unbroadcast_shape",
    "track_view", "forward_ad", "anomaly", "register_view", "live_views", "opmath", "result_of",
    "plain_rule", "plain_view", "needs_both", "self_overlapping",
]  # fmt: skip

_new = object.__new__

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


_DETACHED = (
    "Trying to use a saved tensor that has been detached in-place, i.e. with .detach_().This "
    "is not supported, please use out-of-place `.detach()` instead"
)


def _edge(x: Any) -> Any:
    """Where an input's gradient goes: its grad_fn, itself (a leaf), or nowhere (None)."""
    if isinstance(x, Tensor):
        check_multi_view(x)
        if x.grad_fn is not None:
            return x.grad_fn
        if x._requires_grad:
            return x
    return None


# the complex dtypes (a set lookup: the cheapest test a backward node makes of its gradient)
_COMPLEX = frozenset(np.dtype(t) for t in (np.complex64, np.complex128, np.clongdouble))
# the conj op, set by ops.elementwise.unary (this module cannot import the catalog)
complex_conj: list[Callable[[Tensor], Tensor]] = []

# forward-mode strategies: an op declares exactly one as ``jvp_rule`` (see ``Op.jvp``)
JVP_RULES = {
    "linear": "jointly linear: the tangent is the op applied to the input tangents",
    "multilinear": "linear in each input separately (mul, matmul, conv): product rule",
    "diagonal": "elementwise in every input (diagonal Jacobians): the backward rule is the jvp",
    "reduction": "each input element feeds one output element (see reduced_axes)",
    "vjp": "anything else: the double-vjp identity J·t = d/du <vjp(u), t>",
}


def _reduced_forward(node: Op, arrays: list, params: dict) -> Any:
    """Run ``node.forward`` as torch's CPU kernels run float16/bfloat16: inputs widened to
    float32, the result rounded once to the reduced dtype (or to ``dtype=`` when the op
    takes one). A forward that returns a view of its input is run on the input itself."""
    red = None
    for a in arrays:
        if type(a) is np.ndarray and a.dtype in REDUCED:
            red = a.dtype
            break
    token = None if fp_state() is FP_IGNORE else ignore_fp_errors()
    try:
        if red is None:
            return node.forward(*arrays, **params)
        node._in_dtypes = tuple(a.dtype if type(a) is np.ndarray else None for a in arrays)
        node._reduced = red  # (a forward may round inside where torch's kernel does)
        if node.reduced_scalars == "round":
            up = [_opmath_rounded(a, red) for a in arrays]
        else:
            up = [
                a.astype(np.float32) if type(a) is np.ndarray and a.dtype in REDUCED else a
                for a in arrays
            ]
        target: np.dtype | None = red
        call = params
        want = params.get("dtype")
        if want is not None:  # sum(..., dtype=): accumulate in float32, round to that dtype
            want = np.dtype(getattr(want, "np", want))
            target = want if want in REDUCED else None
            if target is not None:
                call = {**params, "dtype": np.dtype(np.float32)}
        out = node.forward(*up, **call)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if out.base is not None and any(
            u is not a and np.may_share_memory(out, u) for u, a in zip(up, arrays)
        ):  # a view: the op moves elements only, so it runs on the reduced array itself
            return node.forward(*arrays, **params)
        if target is not None and out.dtype == np.float32:
            out = out.astype(target)
        return out
    finally:
        if token is not None:
            restore_fp_errors(token)


def plain_rule() -> bool:
    """May a rule compute its gradient on arrays instead of with ops? Yes in a plain
    backward: no graph of the gradient is being built (grad mode off), no forward-mode level
    is open, cr.compile is not tracing, no float16/bfloat16 has been used, and NumPy's
    floating-point warnings are off (the engine's walk). There an op would compute the very
    same array and record nothing, so a hot rule may skip its dispatch (Mul, Tanh)."""
    return (
        not grad_mode.enabled
        and not forward_ad.level
        and trace.tracer is None
        and not precision.active
        and fp_state() is FP_IGNORE
    )


def needs_both(node: Op) -> tuple[bool, bool]:
    """``(node.needs(0), node.needs(1))`` for a rule of two inputs, in one plain call: the
    hot rules (Add, Mul) call it instead of two methods looked up on nodes of many classes
    (~0.15k instructions a W2 op)."""
    a, b = node._edges
    return a is not None, b is not None


def opmath(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A function torch runs as one float32 kernel for float16/bfloat16 tensors (attention,
    interpolation, group norm), composed here of several ops: when its floating tensors are
    all of one such dtype it
    runs on float32 copies of them and its floating results are rounded back once, so its
    gradients are float32 inside and rounded once at each input (``to``'s backward)."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not precision.active or kwargs.get("inplace"):
            return fn(*args, **kwargs)
        red = None  # the one floating dtype of the tensors, when reduced (else the
        for a in (*args, *kwargs.values()):  # function runs as it is: its checks decide)
            if isinstance(a, Tensor) and kind_of(a._data.dtype) in "fc":
                if a._data.dtype not in REDUCED or (red is not None and red.np != a._data.dtype):
                    return fn(*args, **kwargs)
                red = FROM_NP[a._data.dtype]
        if red is None:
            return fn(*args, **kwargs)

        def up(a: Any) -> Any:
            return a.float() if isinstance(a, Tensor) and a._data.dtype in REDUCED else a

        out = fn(*[up(a) for a in args], **{k: up(v) for k, v in kwargs.items()})

        def down(t: Any) -> Any:
            return t.to(red) if isinstance(t, Tensor) and t._data.dtype == np.float32 else t

        return type(out)(down(t) for t in out) if isinstance(out, tuple) else down(out)

    return run


def _opmath_rounded(a: Any, red: np.dtype) -> Any:
    """An operand as float32 for a float16/bfloat16 kernel; a number (or a 0-d array of
    another float dtype) rounded to ``red`` first."""
    if type(a) is np.ndarray:
        if a.dtype in REDUCED or (a.ndim == 0 and a.dtype.kind == "f"):
            return a.astype(red).astype(np.float32)
        return a
    if isinstance(a, float):  # (an int stays: exact in float16 up to 2048, as torch's cast)
        return float(np.asarray(a, dtype=red))
    return a


_SAVED_TYPES = (Tensor, np.ndarray)  # what _release drops from a node's __dict__


def _versions_of(saved: tuple) -> tuple:
    """The versions of a node's saved values (a number, or a tensor never written: 0)."""
    return tuple([v._vc[0] if isinstance(v, Tensor) and v._vc else 0 for v in saved])


def _shapes_of(arrays: list) -> tuple:
    """The shapes of an elementwise op's operands (a number's: ``()``)."""
    return tuple([a.shape if isinstance(a, np.ndarray) else () for a in arrays])


def _grads_as(grads: tuple, dtypes_: tuple) -> tuple:
    out = []
    for g, d in zip(grads, dtypes_):
        if g is not None and d is not None and g._data.dtype != d and kind_of(d) == "f":
            g = g.to(FROM_NP[d])
        out.append(g)
    return tuple(out)


class Op:
    """A node of the graph: one recorded application of a primitive (torch's ``grad_fn``).

    The engine's bookkeeping lives in slots, set only when the node is recorded; whatever a
    rule keeps for itself (params, masks) goes in the instance ``__dict__``.
    """

    __slots__ = ("_edges", "_shapes", "inputs", "out_data", "__dict__", "__weakref__")

    save_inputs = True  # keep the input tensors as self.inputs for backward
    save_output = False  # keep the result for backward, read back as self.output
    # torch's rule of what to save (derivatives.yaml): per input, what its gradient reads:
    # input positions and/or "result". Declared, it replaces the two flags: a node saves the
    # union over the inputs that need a gradient; the tensors it does not save are None in
    # self.inputs (numbers stay), so a rule cannot read a tensor torch would not have saved.
    # ``saved_for(i, n)`` (a staticmethod) says it for a variable number of inputs.
    saved_for: tuple | Callable | None = None
    elementwise = False  # inputs broadcast: sum gradients back to each input's shape
    # forward mode (see jvp): how the op depends on its tensor inputs, one of JVP_RULES
    jvp_rule = "vjp"
    torch_name: str | None = None  # torch's grad_fn name, when not "<ClassName>Backward0"
    overload = 0  # which of torch's overloads a node is: the n of its "<Name>Backward<n>"
    formula: str | None = None  # the rule in words, for explain_backward ("d(-a) = -g")
    # the result's memory layout, torch's (see _layout): "contiguous" (unless a view of an
    # input), "elementwise" (TensorIterator: follows the inputs; the default of diagonal
    # ops), or None (the forward already lays it out as torch: views, clone)
    layout: str | None = "contiguous"
    # float16/bfloat16 inputs: compute in float32 and round the result once, as torch's CPU
    # kernels do (opmath); False for ops that only move or view elements (exact either way)
    reduced_math = True
    # a Python number (or 0-d float32/float64 array) with float16/bfloat16 arrays: used as it
    # is ("exact": mul, div, lerp's weight) or first rounded to their dtype ("round": add,
    # sub, pow, remainder, fmod), as torch's kernel reads it
    reduced_scalars = "exact"
    # the forward sets no floating-point flag (it only moves or views elements, or its
    # arithmetic cannot overflow, divide by zero or meet an invalid operand): Op.apply then
    # skips switching NumPy's warnings off around it (~2k instructions). True for every
    # dtype, "real" for non-complex inputs only (complex tanh can meet nan+infj). Tested
    # per class with NumPy's errors raising (tests/test_fp_quiet.py).
    fp_quiet: bool | str = False

    _bare = False  # (set per class by __init_subclass__: see Op.apply)
    # Does _release look for saved tensors and arrays in the node's __dict__? Set per class
    # by __init_subclass__: not when the forward is a ufunc (Add, Mul, Tanh), which keeps
    # nothing on the node; the few writers of a tensor onto a node from outside its rule
    # (save_index, forward AD's tangent, result_of) set it on that node. (Reading __dict__
    # makes a dict of a node's attributes, dropped with the node: ~0.45k instructions a W2 op.)
    _look = True
    # Set (on the node) with any of the next five, which the plain walk leaves to the
    # general step: its one test per node, a class default read (~0.2k instructions; a look
    # at the node's __dict__ made an empty dict per node, ~1k). Never unset: a node whose
    # hooks are gone takes the general step, which then finds none.
    _hooked = False
    # (the next five stay class defaults, set on a node only when it has one)
    _retained: Any = None  # weak reference to the output tensor, set by retain_grad()
    _hooks: dict | None = None  # the output tensor's register_hook hooks
    _prehooks: dict | None = None  # the node's register_prehook hooks
    _node_hooks: dict | None = None  # the node's register_hook hooks
    _freed = False  # saved values dropped after backward
    # the nodes of the other outputs of torch's one multi-output node (split, chunk,
    # unbind), weakly: their tensor hooks run (with None) when this one runs and they do not
    _siblings: tuple | None = None
    # (cast copy, tensor given) pairs of a mixed-dtype op whose rule reads the copy: torch's
    # kernel saved the tensor itself, so the copy is refreshed from it at backward
    _recast: tuple | None = None
    # torch saves a number argument as a (wrapped) tensor, freed by backward like the others,
    # except for a Scalar overload (lerp's weight), whose node then runs again
    saves_numbers = True
    _versions: tuple | None = None  # versions of self.inputs when saved (None: all 0)
    _out_version: tuple | None = None  # saved output's (version counter, version when saved)
    _saved_ix: tuple | None = None  # index/mask tensors the rule reads (see save_index)
    _ix_versions: tuple | None = None  # their versions when saved (None: all 0)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Op.apply makes a node as cls() (cheaper than object.__new__(cls)) unless the class
        # has a constructor of its own
        cls._bare = cls.__init__ is object.__init__ and cls.__new__ is object.__new__
        # a forward that is a ufunc (Add, Mul, Tanh) is called from the flags, not read off
        # the node (a generic lookup: nodes of many classes; ~0.15k instructions a W2 op)
        ufunc = cls.forward if isinstance(cls.forward, np.ufunc) else None
        cls._look = ufunc is None
        if "saved_for" in cls.__dict__:
            cls._plans = {}  # mask of the inputs that need a gradient -> what to save
        if cls.jvp_rule not in JVP_RULES:
            raise TypeError(f"{cls.__name__}.jvp_rule must be one of {sorted(JVP_RULES)}")
        if cls.jvp_rule == "diagonal" and "layout" not in cls.__dict__:
            cls.layout = "elementwise"
        if cls.layout not in ("contiguous", "elementwise", None):
            raise TypeError(f"{cls.__name__}.layout must be 'contiguous', 'elementwise' or None")
        if cls.layout is None and "reduced_math" not in cls.__dict__:
            cls.reduced_math = False  # views and casts: exact in any dtype
        stale = JVP_RULES.keys() & cls.__dict__.keys()
        if stale:  # the old per-strategy booleans: declare jvp_rule instead
            raise TypeError(f"{cls.__name__}: set jvp_rule = {sorted(stale)[0]!r}, not a flag")
        # the class flags Op.apply reads (and the saved-value plans), in one tuple: one
        # class-attribute read per op instead of eight (Python 3.11 does not specialize
        # reading a class's attributes, ~190 instructions each). A class's flags are final
        # once it is made (tested).
        cls._apply_flags = (
            cls._bare, cls.layout, cls.saved_for, cls.save_inputs, cls.save_output,
            cls.elementwise, ufunc, getattr(cls, "_plans", None), cls.fp_quiet,
        )  # fmt: skip

    @classmethod
    def apply(cls, *inputs: Any, **params: Any) -> Tensor:
        """Run the op on tensors (or numbers), recording a node if a gradient is needed."""
        # The hot path of every op (see docs/design.md "Speed"): plain loops rather than
        # comprehensions (each a function call in Python 3.11), _make and the saved-value
        # plan written out here, each rarely-true condition tested once.
        bare, layout, saved_for, save_inputs, save_output, elementwise, ufunc, plans, quiet = (
            cls._apply_flags
        )
        node = cls() if bare else _new(cls)
        live = False  # does any input need a gradient (then the node is recorded)?
        arrays = []
        if not all_on.value and not grad_mode.enabled:  # the fast path: backward passes
            # and no_grad blocks (all_on: no thread has grad mode off, a cheap first read)
            for x in inputs:
                arrays.append(x._data if isinstance(x, Tensor) else x)
        else:
            edges = []
            for x in inputs:
                if isinstance(x, Tensor):
                    arrays.append(x._data)
                    f = x.grad_fn
                    if f is None and not x._requires_grad:
                        edges.append(None)
                        continue
                    if x._multi is not None:  # (both slots are set on every tensor)
                        check_multi_view(x)
                        f = x.grad_fn
                    elif f is None and x._grad_from_base:
                        rederive_written_view(x)  # written since it was made
                        f = x.grad_fn
                    # a view requiring grad only as its base does has no edge: torch gives
                    # it no gradient accumulator (it has no .grad)
                    edges.append(f if f is not None else None if x._grad_from_base else x)
                    live = True
                else:
                    arrays.append(x)
                    edges.append(None)
        forward = node.forward if ufunc is None else ufunc
        if PARALLEL[0] and ufunc is not None:  # a large array on several threads, as torch
            a0 = arrays[0]  # (its add runs); NumPy's ufuncs run on one
            if type(a0) is ndarray and a0.size >= PAR_ELEMENTS and not params:
                forward = threaded(ufunc)
        if precision.active and cls.reduced_math:  # float16/bfloat16 may be about
            out = _reduced_forward(node, arrays, params)
        elif (
            quiet is True
            or fp_state() is FP_IGNORE  # inside backward (or another quiet op): silent
            or (quiet and arrays[0].dtype.kind != "c")
        ):
            out = forward(*arrays, **params) if params else forward(*arrays)
        else:
            token = fp_set(FP_IGNORE)  # torch is silent on inf * 0, 0 / 0, overflow ...
            try:
                out = forward(*arrays, **params) if params else forward(*arrays)
            finally:
                restore_fp_errors(token)
        if type(out) is not ndarray:
            out = np.asarray(out)
        # torch's layout of the result (NumPy's follows the inputs')
        base = out.base  # (read once: a NumPy attribute is a generic lookup, ~0.2k)
        if layout == "contiguous":
            if not out.flags.c_contiguous:
                out = to_contiguous(out, arrays)
                base = out.base
        elif layout is not None and (
            out.ndim > 1 or (base is not None and not out.flags.c_contiguous)
        ):  # (a contiguous result of at most one dim already has torch's layout: its
            # inputs, which broadcast to it, have at most one dim too; NumPy makes a result
            # of its own memory (base None) of at most one dim contiguous, so the flags,
            # ~0.4k instructions, are read only for a view)
            out = elementwise_layout(out, arrays)
            base = out.base
        t = _new(Tensor)  # _make(out, node if live else None), written out
        t._data = out
        t._vc = None
        t._multi = None
        t._grad_from_base = False
        if live:
            node._edges = tuple(edges)
            if saved_for is not None:  # torch's saved set: what the inputs needing a
                mask, bit = 0, 1  # gradient read (a plan per mask, made once)
                for e in edges:
                    if e is not None:
                        mask |= bit
                    bit <<= 1
                n = len(inputs)
                plan = plans.get((mask, n))
                if plan is None:
                    plan = plans[mask, n] = _plan(saved_for, mask, n)
                drop, keep_out = plan
                if drop:  # the tensors torch does not save are None (numbers stay)
                    kept = list(inputs)
                    for i in drop:
                        if isinstance(kept[i], Tensor):
                            kept[i] = None
                    node.inputs = saved = tuple(kept)
                else:
                    node.inputs = saved = inputs
                node.out_data = out if keep_out else None
            elif save_inputs:
                node.inputs = saved = inputs
                node.out_data = out if save_output else None
            else:
                node.inputs = saved = None
                node.out_data = out if save_output else None
            if saved is not None and inplace_log.count:  # versions only move after an
                for x in saved:  # in-place op has ever run; a tensor with no counter yet
                    if isinstance(x, Tensor) and x._vc is not None:  # is at version 0
                        node._versions = _versions_of(saved)
                        break
            if elementwise:  # the input shapes, to sum broadcast gradients back
                if len(arrays) == 2:
                    a, b = arrays
                    sa = a.shape if isinstance(a, ndarray) else ()
                    sb = b.shape if isinstance(b, ndarray) else ()
                    # two operands of one shape broadcast to that shape: nothing to sum
                    # back (None spares _run_backward a shape test per gradient)
                    node._shapes = None if sa == sb else (sa, sb)
                else:
                    node._shapes = _shapes_of(arrays)
            else:
                node._shapes = None
            if anomaly.enabled:
                node.trace = traceback.format_stack()[:-1]
            t.grad_fn = node
            t._requires_grad = True
        else:
            t.grad_fn = None
            t._requires_grad = False
        if base is not None:
            track_view(t, inputs)
        if forward_ad.level:
            forward_ad.propagate(node, inputs, params, t)
        if trace.tracer is not None:  # cr.compile is tracing: record the kernel just run
            trace.tracer.kernel(cls, node, inputs, arrays, params, out, t)
        return t

    def forward(self, *arrays: Any, **params: Any) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: Tensor) -> Tensor | None | tuple[Tensor | None, ...]:
        raise NotImplementedError

    # ------------------------------------------------------------------ for rules

    def needs(self, i: int) -> bool:
        """Does input ``i`` need a gradient? (Rules skip the work for those that don't.)"""
        return self._edges[i] is not None

    @property
    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(e is not None for e in self._edges)

    @property
    def output(self) -> Tensor:
        """The op's result as a tensor; while building a graph of the gradient, it is
        connected to this node, so rules that reuse the output stay differentiable."""
        shadow = self.__dict__.get("_jvp_shadow")
        if shadow is not None and shadow is not True:  # in a jvp: the op's real output, so
            return shadow  # the tangent stays differentiable (reverse-over-forward)
        live = grad_mode.enabled and shadow is None
        t = _make(self.out_data, self if live else None)
        fw = self.__dict__.get("_fw")  # forward-over-reverse: the output's tangent
        if fw is not None and forward_ad.level:
            t._fw = fw
        return t

    def reduced_axes(self) -> tuple[tuple[int, ...] | None, bool]:
        """For a ``reduction``: the axes reduced over (None: all) and whether kept."""
        return self.axes, self.keepdim

    def jvp(self, tangents: list) -> Tensor | None:
        """Forward mode: the tangent of the output from the tangents of the inputs (None for
        an input without one). The default is exact for every op, from its ``jvp_rule``:
        linear and multilinear ops are applied to tangents; elementwise ops (diagonal
        Jacobian) reuse their backward rule, and so do reductions (the rule applied to ones
        is the Jacobian's nonzero entries); anything else uses the double-vjp identity
        J·t = d/du <vjp(u), t>. An op may override this with a cheaper rule."""
        return forward_ad.default_jvp(self, tangents)

    # ------------------------------------------------------------------ for the engine

    def _run_backward(self, grad: Tensor, retain_graph: bool) -> tuple:
        if self._freed:
            edges = self._edges  # torch's rule reads no saved value when no input wants a
            if edges and not any(e is not None for e in edges):  # gradient: none to read
                return (None,) * len(edges)
            raise RuntimeError(_FREED)
        if inplace_log.count:
            self._check_versions()
        if self._recast is not None:  # saved cast copies read their tensor's current values
            for copy, given in self._recast:
                copy._data = given._data.astype(copy._data.dtype)
        if grad._data.dtype in _COMPLEX:  # torch's convention for complex gradients
            grads = self._complex_rule(grad)
        else:
            grads = self.backward(grad)
        if type(grads) is not tuple:
            grads = (grads,)
        if precision.active:
            in_dtypes = self.__dict__.get("_in_dtypes")
            if in_dtypes is not None:  # each gradient in its input's dtype (torch's engine)
                grads = _grads_as(grads, in_dtypes)
        shapes = self._shapes
        if shapes is not None:
            n, i = len(shapes), 0
            for g in grads:  # zip(grads, shapes), without making a zip per node
                if i == n:
                    break
                s = shapes[i]
                i += 1
                if g is not None and g._data.shape != s:  # broadcast: sum each one back
                    grads = tuple(
                        [
                            g if g is None or g._data.shape == s else sum_to_size(g, s)
                            for g, s in zip(grads, shapes)
                        ]
                    )
                    break
        if anomaly.enabled and anomaly.check_nan:
            anomaly.check(self, grads)
        if not retain_graph:
            self._release()
        return grads

    def _complex_rule(self, grad: Tensor) -> Any:
        """The rule for a complex gradient: torch's is the conjugate Wirtinger one, ``g *
        conj(f'(z))`` for an analytic ``f``, where a rule written for real numbers gives
        ``g * f'(z)``. Every rule is linear in ``g``, so conjugating ``g`` before it and each
        gradient after gives torch's (``mul``: ``g * conj(b)``, ``matmul``: ``g @ b.mH``; a
        real input's is then the real part, as torch's)."""
        conj = complex_conj[0]

        def back(g: Any) -> Any:
            if g is None:
                return None
            return conj(g if isinstance(g, Tensor) else g.value())  # (a Deferred: its sum)

        grads = self.backward(conj(grad))
        return tuple([back(g) for g in grads]) if type(grads) is tuple else back(grads)

    def _run_unwanted(self, retain_graph: bool) -> None:
        """Run with no input wanting a gradient (``backward(inputs=[out])`` runs ``out``'s
        node, as torch does): the rule is skipped, but the saved tensors are checked and,
        without ``retain_graph``, freed."""
        if self._freed:
            raise RuntimeError(_FREED)
        if inplace_log.count:
            self._check_versions()
        if not retain_graph:
            self._release()

    def _check_versions(self) -> None:
        """torch's in-place correctness check: a saved tensor must be as it was saved."""
        if self._out_version is not None:  # the saved output's counter, as it was saved
            vc, expected = self._out_version
            if vc[0] != expected:
                raise RuntimeError(_modified_message(self.out_data, self, vc[0], expected))
        ix = self._saved_ix
        if ix is not None:
            saved = self._ix_versions
            nonleaf = self.__dict__.get("_ix_nonleaf")
            for i, x in enumerate(ix):
                if nonleaf is not None and nonleaf[i] and x.grad_fn is None:
                    raise RuntimeError(_DETACHED)  # saved while a non-leaf, then detach_()
                vc, expected = x._vc, saved[i] if saved is not None else 0
                if vc is not None and vc[0] != expected:
                    owner = x.grad_fn.name() if x.grad_fn is not None else None
                    raise RuntimeError(_modified_message(x._data, owner, vc[0], expected))
        inputs = self.inputs
        if inputs is None:
            return
        saved = self._versions
        edges = self._edges
        for i, x in enumerate(inputs):
            if (
                isinstance(x, Tensor)
                and x.grad_fn is None
                and i < len(edges)
                and isinstance(edges[i], Op)
            ):  # saved while a non-leaf, since cut from the graph by detach_() (torch)
                raise RuntimeError(_DETACHED)
            vc = getattr(x, "_vc", None)  # None: a number, or a tensor never written
            if vc is not None:
                expected = saved[i] if saved is not None else 0
                if vc[0] != expected:
                    owner = x.grad_fn.name() if x.grad_fn is not None else None
                    raise RuntimeError(_modified_message(x._data, owner, x._vc[0], expected))

    def _add_hook(self, hook: Any) -> Any:
        if self._hooks is None:
            self._hooks = {}
            self._hooked = True
        return _Handle(self._hooks, hook)

    def _release(self) -> None:
        """Drop saved tensors and arrays (after backward, unless retain_graph). Sizes and
        other plain values stay, so an op that saved none can be run again, as in torch."""
        inputs = self.inputs
        freed = self.out_data is not None
        if freed:
            self.out_data = None
        elif inputs is not None:
            # a node that saved nothing (its inputs dropped by saved_for) runs again (torch)
            for x in inputs:  # (the class flag read only for a number: ~0.1k a W2 op)
                if x is not None and (isinstance(x, Tensor) or self.saves_numbers):
                    freed = True
                    break
        if freed and inputs is not None:
            self.inputs = None
        if self._look:
            d = self.__dict__
            for k, v in d.items():
                if isinstance(v, _SAVED_TYPES) or (k == "_saved_ix" and v is not None):
                    d[k] = None
                    freed = True
        if freed:
            self._freed = True

    # ------------------------------------------------------------------ words for learners

    def constants(self) -> str | None:
        """The numbers (not tensors) this node was called with, in a few words, for graph
        pictures: ``"** 2"`` for ``x ** 2``, ``"* 0.5"`` for ``x * 0.5``; None when it has
        none (or they were freed with its saved values)."""
        return None

    def rule(self) -> str | None:
        """Its backward rule in words, with this node's constants filled in, for
        ``explain_backward``: the class's ``formula`` unless the op says better."""
        return type(self).formula

    # ------------------------------------------------------------------ torch's surface

    def name(self) -> str:
        return self.torch_name or f"{type(self).__name__}Backward{self.overload}"

    def register_prehook(self, hook: Any) -> Any:
        """``hook(grad_outputs) -> tuple | None`` runs before the node's rule (after the
        output tensor's hooks) and may replace the gradient it receives (torch's)."""
        if self._prehooks is None:
            self._prehooks = {}
            self._hooked = True
        return _Handle(self._prehooks, hook)

    def register_hook(self, hook: Any) -> Any:
        """``hook(grad_inputs, grad_outputs) -> tuple | None`` runs after the node's rule
        and may replace the gradients it passes to its inputs (torch's ``Node`` hook)."""
        if self._node_hooks is None:
            self._node_hooks = {}
            self._hooked = True
        return _Handle(self._node_hooks, hook)

    @property
    def next_functions(self) -> tuple:
        return tuple((_accumulator(e) if isinstance(e, Tensor) else e, 0) for e in self._edges)

    @property
    def metadata(self) -> dict:
        return self.__dict__.setdefault("_metadata", {})

    def __repr__(self) -> str:
        return f"<{self.name().removeprefix('torch::autograd::')} object at {hex(id(self))}>"


class _ForwardAD:
    """Forward-mode state: how many dual levels are open (0: the hot path pays one check).

    The propagation code lives in ``chainrule.autograd.forward_ad``, which is built on Op and
    so cannot be imported from here: it plugs its ``propagate``, ``default_jvp`` and
    ``set_tangent`` into this object when it loads. A level only opens through that module,
    so they are in place whenever ``level`` is nonzero.

    Slots, set in ``__init__``: Python 3.11 specializes reading a slot, not reading a class
    attribute through an instance (~4x dearer), and the hot path reads ``level`` per op."""

    __slots__ = ("level", "propagate", "default_jvp", "set_tangent")
    propagate: Callable[[Op, tuple, dict, Tensor], None]
    default_jvp: Callable[[Op, list], Tensor | None]
    set_tangent: Callable[[Tensor, Tensor | None], None]

    def __init__(self) -> None:
        self.level = 0


forward_ad = _ForwardAD()


class _Anomaly:
    """Anomaly mode: nodes remember where they were made; backward checks for nan."""

    __slots__ = ("enabled", "check_nan")  # (slots: read per op, see _ForwardAD)

    def __init__(self) -> None:
        self.enabled = False
        self.check_nan = True

    def check(self, node: Op, grads: tuple) -> None:
        for i, g in enumerate(grads):
            if g is not None and kind_of(g._data.dtype) in "fc" and np.isnan(g._data).any():
                trace = "".join(node.__dict__.get("trace", ["(no forward traceback)\n"]))
                warnings.warn(
                    f"Error detected in {node.name()}. Traceback of forward call that caused "
                    f"the error:\n{trace}",
                    UserWarning,
                    stacklevel=2,
                )
                raise RuntimeError(
                    f"Function '{node.name()}' returned nan values in its {i}th output.\n"
                    f"Forward call that created it:\n{trace}"
                )


anomaly = _Anomaly()


def _modified_message(data: Any, owner: Any, version: int, expected: int) -> str:
    """torch's error for a saved tensor found at ``version`` where ``expected`` was saved;
    ``owner`` is the node (or its name) whose output it is, which torch names without
    ``Backward0`` ("output 0 of Exp") or ``Backward`` ("output 0 of T1" for TBackward1)."""
    if not hasattr(data, "dtype"):
        kind = "chainrule.Tensor"
    elif kind_of(data.dtype) in "bc":  # torch's name for these: CPUBoolType, CPUComplexFloatType
        kind = f"CPU{scalar_type_name(data)}Type"
    else:
        kind = f"chainrule.{tensor_type_name(data)}"
    shape = list(getattr(data, "shape", ()))
    name = owner.name() if isinstance(owner, Op) else owner
    nr = getattr(owner, "output_nr", 0)  # which of torch's outputs (svd's S is output 1)
    of = f", which is output {nr} of {re.sub(r'Backward(0$)?', '', name)}," if name else ""
    return (
        "one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: [{kind} {shape}]{of} is at version {version}; "
        f"expected version {expected} instead. Hint: enable anomaly detection to find the "
        "operation that failed to compute its gradient, with "
        "chainrule.autograd.set_detect_anomaly(True, check_nan=False)."
    )


def _plan(saved_for: Any, mask: int, n: int) -> tuple[tuple[int, ...], bool]:
    """What a node saves when the inputs in ``mask`` need a gradient: the input positions it
    does not keep, and whether it keeps the result."""
    keep: set = set()
    for i in range(n):
        if mask >> i & 1:
            keep.update(saved_for(i, n) if callable(saved_for) else saved_for[i])
    return tuple(i for i in range(n) if i not in keep), "result" in keep


def save_index(out: Tensor, *tensors: Any) -> Tensor:
    """torch saves an op's index and mask arguments for backward (SavedVariables), so writing
    one in place before backward raises "modified by an inplace operation": keep the
    ``tensors`` (numbers, arrays and None are skipped) on ``out``'s node with their versions.
    Their arrays are what the rule reads, so they must be as they were at forward."""
    node = out.grad_fn
    if node is None:
        return out
    ts = tuple([t for t in tensors if isinstance(t, Tensor)])
    if ts:
        node._saved_ix = ts
        node._look = True  # (_release drops them)
        if any(t.grad_fn is not None for t in ts):  # non-leaves: detach_() later refused
            node._ix_nonleaf = tuple([t.grad_fn is not None for t in ts])
        if inplace_log.count:  # versions only move after an in-place op has ever run
            node._ix_versions = tuple([t._vc[0] if t._vc else 0 for t in ts])
    return out


def result_of(cls: type, node: Op, out: np.ndarray, **attrs: Any) -> Tensor:
    """A tensor holding ``out``, a result of ``cls`` computed by the fused ``node`` (its
    kernel made it along the way), whose history is a ``cls`` node built by hand on
    ``node``'s first input edge, with ``out`` saved as its output and ``attrs`` set: a graph
    of a gradient built from it differentiates through ``cls``'s rule (cross_entropy's
    log-probabilities, as log_softmax's result)."""
    made = _new(cls)
    made._edges, made._shapes, made.inputs, made.out_data = (node._edges[0],), None, None, out
    made.__dict__.update(attrs)
    made._look = True  # (_release drops what attrs holds)
    return _make(out, made)


def tensor_overload(out: Tensor, arg: Any) -> Tensor:
    """torch names the node of an op's overload that takes a tensor ``arg`` (rather than a
    number) ``<Name>Backward1``: mark it so (remainder, fmod, lerp)."""
    if out.grad_fn is not None and isinstance(arg, Tensor):
        out.grad_fn.overload = 1
    return out


def track_view(t: Tensor, inputs: tuple) -> None:
    """If ``t``'s array is a view of an input tensor's memory, make ``t`` a view of that
    tensor's base: they share a version counter, and in-place changes see each other. An
    empty view shares no memory, so it is known by its ``base`` (torch's is still a view).

    Every view is listed (weakly) on its base, so a write that puts the base in a graph
    re-derives it (torch's view replay). A view made under no_grad (or from one) remembers
    it (torch's CreationMeta: in-place on it with grad mode on is refused); one of a base
    that requires grad requires grad through the base, as torch's, with no ``.grad`` of its
    own (``_grad_from_base``)."""
    out = t._data
    for x in inputs:
        if isinstance(x, Tensor) and (
            np.may_share_memory(out, x._data)
            or (not out.size and (out.base is x._data or out.base is x._data.base))
        ):
            base = getattr(x, "_view_base", None)
            if base is None:
                base = x
            if not out.flags.writeable and base._data.flags.writeable:
                t._data = _writable(out, base._data)
            t._view_base = base
            t._vc = version_counter(base)
            multi = getattr(x, "_multi", None)
            if not grad_mode.enabled:
                t._creation = "no_grad"
                # reading its history after its memory was written raises (check_multi_view)
                t._multi = (NO_GRAD_VIEW, "", False, t._vc[0])
            elif multi is not None:  # a view of an output of split/unbind is refused as it is
                name = t.grad_fn.name() if t.grad_fn is not None else ""
                t._multi = (multi[0] if multi[0] == NO_GRAD_VIEW else 0, name, multi[2],
                            version_counter(t)[0])  # fmt: skip
            if grad_mode.enabled and getattr(x, "_creation", None) is not None:
                t._creation = x._creation
            if t.grad_fn is None:
                t._view_version = t._vc[0]
                if base._requires_grad and kind_of(out.dtype) in "fc":
                    t._requires_grad = t._grad_from_base = True
            register_view(base, t)
            return


def plain_view(base: Tensor, array: np.ndarray) -> Tensor:
    """A tensor of ``array``, a view NumPy made of ``base``'s memory, tracked as the view
    op that would have made it tracks it under no_grad (``track_view``): a plain rule's
    (``plain_rule``) shortcut past the view op's dispatch (Linear's ``.T.T`` weight
    gradient, Matmul's gradients viewed back)."""
    t = _make(array)
    track_view(t, (base,))
    return t


def register_view(base: Tensor, view: Tensor) -> None:
    """List ``view`` (weakly) on ``base``; dead entries are dropped as the list grows."""
    views = getattr(base, "_views", None)
    if views is None:
        views = base._views = [0]  # [length at which to drop the dead, refs ...]
    views.append(weakref.ref(view))
    if len(views) > views[0]:
        views[1:] = [r for r in views[1:] if r() is not None]
        views[0] = 2 * len(views) + 16


def live_views(base: Tensor) -> list[Tensor]:
    """The views of ``base`` still alive (see ``register_view``)."""
    views = getattr(base, "_views", None)
    if not views:
        return []
    return [v for v in map(lambda r: r(), views[1:]) if v is not None]


class _Window:
    """Memory of ``owner`` seen as ``view`` describes it, but writable (NumPy's array
    interface); the array made from it keeps ``owner`` alive through its ``base``."""

    def __init__(self, view: np.ndarray, owner: np.ndarray) -> None:
        face = dict(view.__array_interface__)
        face["data"] = (face["data"][0], False)
        self.__array_interface__, self.owner = face, owner


def self_overlapping(a: np.ndarray) -> bool:
    """Are two of ``a``'s elements one in memory: a stride 0 on a dim of more than one
    element (an expand), or windows that overlap (``unfold`` with a step below its size)?
    The dims by stride, each must step past all the smaller ones cover (conservative for
    strides that interleave, which no view chainrule makes has). An empty array has no
    elements, so none are."""
    if a.size == 0:
        return False
    reach = a.itemsize
    for st, n in sorted((abs(st), n) for n, st in zip(a.shape, a.strides) if n > 1):
        if st < reach:
            return True
        reach += st * (n - 1)
    return False


def _writable(view: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """A view NumPy made read-only (a diagonal; anything taken from a broadcast array) that
    torch lets one write: writable unless two of its elements are one in memory (torch's
    internal-overlap check)."""
    if self_overlapping(view):
        return view
    return np.asarray(_Window(view, owner))


def _accumulator(leaf: Tensor) -> AccumulateGrad:
    """The AccumulateGrad node of a leaf, the same object while anyone holds it."""
    ref = getattr(leaf, "_acc", None)
    acc = ref() if ref is not None else None
    if acc is None:
        acc = AccumulateGrad(leaf)
        leaf._acc = weakref.ref(acc)
    return acc


# ------------------------------------------------------- broadcasting (the engine sums back)


def unbroadcast_shape(shape: tuple, target: tuple) -> tuple[tuple, tuple]:
    """Axes to sum so a gradient of ``shape`` becomes ``target`` (leading, then size-1)."""
    lead = len(shape) - len(target)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, s in enumerate(target) if s == 1 and shape[lead + i] != 1
    )
    return axes, target


class SumToSize(Op):
    """Sum a broadcast gradient back to a smaller shape (the adjoint of ``expand``)."""

    jvp_rule = "linear"
    save_inputs = False
    torch_name = "SumToSizeBackward0"

    def forward(self, x: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = x.shape
        axes, _ = unbroadcast_shape(x.shape, shape)
        return np.sum(x, axis=axes, keepdims=True).reshape(shape) if axes else x.reshape(shape)

    def backward(self, grad: Tensor) -> Tensor:
        return expand(grad, self.in_shape)


class Tied(Op):
    """``a``, recorded as a function of ``others`` too, with no gradient for them: torch's
    gradient nodes take tensors that the rule for one of their results does not read (the
    weight of a convolution's or a norm's weight gradient), so under ``create_graph`` that
    result requires grad when they do, and they get no gradient from it (``tied``)."""

    save_inputs = False
    jvp_rule = "linear"  # the tangent of a (the others' tangents reach nothing)

    def forward(self, a: np.ndarray, *others: np.ndarray) -> np.ndarray:
        self.n = len(others)
        return a.copy()

    def backward(self, grad: Tensor) -> tuple:
        return (grad, *(None,) * self.n)


def tied(t: Tensor | None, *others: Tensor | None) -> Tensor | None:
    """``t`` as torch's gradient node gives it while building a graph of the gradient: if
    it does not require grad but one of ``others`` does, ``Tied(t, *others)``."""
    if t is None or t._requires_grad or not grad_mode.enabled:
        return t
    ins = [o for o in others if o is not None and o._requires_grad]
    return Tied.apply(t, *ins) if ins else t


class Expand(Op):
    """Broadcast to a larger shape without copying (a read-only NumPy view; a writable one
    when the shape does not change, as torch's no-op expand is a view that can be written)."""

    fp_quiet = True  # (see Op.fp_quiet)

    layout = None  # a view

    jvp_rule = "linear"
    save_inputs = False

    def forward(self, x: np.ndarray, shape: tuple) -> np.ndarray:
        self.in_shape = x.shape
        return x.view() if x.shape == shape else np.broadcast_to(x, shape)

    def backward(self, grad: Tensor) -> Tensor:
        if not self.in_shape:  # torch's sum_to a 0-d shape is a sum: a new tensor
            return grad.sum()
        return sum_to_size(grad, self.in_shape)


@tensor_method
def sum_to_size(x: Tensor, *size: Any) -> Tensor:
    """Sum ``x`` down to ``size``, a shape that ``x``'s shape is expandable from."""
    shape = tuple(size[0]) if len(size) == 1 and not isinstance(size[0], int) else tuple(size)
    if x._data.shape == shape:
        return x
    try:
        ok = np.broadcast_shapes(shape, x._data.shape) == x._data.shape
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError(f"size {list(shape)} is not expandable to size {list(x._data.shape)}.")
    return SumToSize.apply(x, shape=shape)


def _type_string(a: np.ndarray) -> str:
    """How torch's expand error names a tensor's type: torch.FloatTensor, CPUBoolType."""
    if kind_of(a.dtype) in "bc":
        return f"CPU{scalar_type_name(a)}Type"
    return f"torch.{tensor_type_name(a)}"


@tensor_method
def expand(x: Tensor, *sizes: Any, size: Any = None) -> Tensor:
    """A broadcast view of ``x`` with ``sizes`` (-1 keeps a dimension), like ``Tensor.expand``."""
    if size is not None:
        sizes = (size,)
    shape = tuple(sizes[0]) if len(sizes) == 1 and not isinstance(sizes[0], int) else tuple(sizes)
    nd = x._data.ndim
    if len(shape) < nd:
        raise RuntimeError(
            f"expand({_type_string(x._data)}{{{list(x._data.shape)}}}, "
            f"size={list(shape)}): the number of "
            "sizes provided "
            f"({len(shape)}) must be greater or equal to the number of dimensions in the tensor "
            f"({nd})"
        )
    lead = len(shape) - nd
    full = list(shape)
    for i in range(nd - 1, -1, -1):  # from the last dim, as torch's (its first mismatch)
        s, want = x._data.shape[i], shape[lead + i]
        if want == -1:
            full[lead + i] = s
        elif s != want and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) "
                f"at non-singleton dimension {lead + i}.  Target sizes: {list(shape)}.  "
                f"Tensor sizes: {list(x._data.shape)}"
            )
    if any(s < 0 for s in full[:lead]):
        raise RuntimeError(
            f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
            f"dimension {full.index(-1)}"
        )
    return Expand.apply(x, shape=tuple(full))  # a new view even when nothing changes (torch)

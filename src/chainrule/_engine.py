"""The tensor engine's backward: leaf accumulation, hooks, and ``run_backward`` (the walk of
``graph.backprop`` over op nodes and leaves), shared by ``Tensor.backward`` and
``autograd.grad``; ``observe`` lets an observer watch every step of that one walk, and
``reachable`` lists a graph's vertices (both public through ``chainrule.autograd.graph``)."""

from __future__ import annotations

import operator
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from sys import getrefcount
from typing import Any

import numpy as np

from chainrule._fp import ignore_fp_errors, restore_fp_errors
from chainrule._tensor import Tensor, _make, check_multi_view, mutate
from chainrule._trace import state as trace
from chainrule.dtypes import autocast_state, kind_of
from chainrule.graph import backprop, grad_mode, set_grad_enabled, start, toposort

__all__ = [
    "AccumulateGrad", "BackwardObserver", "checkpoint_valid", "observe", "queue_callback",
    "reachable", "run_backward",
]  # fmt: skip


def _run_hooks(hooks: dict, g: Tensor, obs: Any = None, where: Any = None) -> Tensor:
    for hook in list(hooks.values()):
        out = hook(g)
        if obs is not None:
            obs.hook(where, "tensor", hook, g, g if out is None else out)
        if out is not None:
            g = out
    return g


# --------------------------------------------------------------------------- observers


class BackwardObserver:
    """Watches the engine's backward walk, step by step (``with observe(obs): backward``).

    The engine calls these as it goes; each does nothing here, override what you need.
    Gradients are the engine's own tensors: copy one before changing it.

    * ``hook(where, kind, hook, grad, result)``: a hook ran at ``where`` (an op node, or a
      leaf tensor). ``kind`` is ``"tensor"`` (``Tensor.register_hook``), ``"prehook"``
      (``Node.register_prehook``) or ``"node"`` (``Node.register_hook``); ``grad`` is what
      the hook received, ``result`` what flows on (``grad`` again if the hook returned None).
    * ``node(node, grad, grads)``: an op node ran. ``grad`` is the gradient of its output
      after its hooks (what its rule received), ``grads`` the gradients it passes to its
      inputs (one per ``next_functions`` entry, None where nothing goes), after node hooks.
    * ``leaf(tensor, grad, accumulated)``: a leaf's gradient is complete (after its hooks);
      ``accumulated`` says whether it was added into ``tensor.grad``.
    """

    def hook(self, where: Any, kind: str, hook: Any, grad: Any, result: Any) -> None:
        """Called when a hook ran during backward (``kind``: "tensor", "pre", "post" ...),
        with the gradient it got and what it returned.
        """
        pass

    def node(self, node: Any, grad: Tensor, grads: Sequence[Tensor | None]) -> None:
        """Called for each node backward runs: its incoming gradient ``grad`` and the
        gradients ``grads`` it passes to its inputs.
        """
        pass

    def leaf(self, tensor: Tensor, grad: Tensor, accumulated: bool) -> None:
        """Called when a gradient reaches a leaf; ``accumulated`` tells whether it was added
        into ``.grad``.
        """
        pass


class _Observing(threading.local):
    current: Any = None  # the innermost observer of this thread's backward passes


_observing = _Observing()


class _Walking(threading.local):
    selective: bool = False  # the running walk has ``inputs`` (autograd.grad, inputs=)
    callbacks: list | None = None  # the running walk's final callbacks (queue_callback)
    deferred: bool = False  # the running walk is the plain one: a rule may return Deferred


class Deferred:
    """A gradient a rule hands the plain walk in pieces, summed only when the vertex it is
    for runs (see ``deferred_welcome``). ``plus(other)`` is ``self + other`` in the walk's
    order (a Deferred when both are pieces of one kind), ``value()`` the Tensor, with the
    bits the sum of the full-size gradients would have had. Slices use it: torch's split
    has one node that concatenates its pieces' gradients, where the per-piece rule would
    make each piece a zero-padded full-size array and add them up."""

    __slots__ = ()

    def plus(self, other: Any) -> Any:
        raise NotImplementedError

    def value(self) -> Tensor:
        raise NotImplementedError


def deferred_welcome() -> bool:
    """May the rule running now return a ``Deferred``? Only in the plain walk (no
    ``inputs``, observer or graph of the gradient), where nothing reads a gradient between
    the rule and the vertex it is for but the walk's own sum."""
    return _walking.deferred


def _plus(old: Any, g: Any) -> Any:
    """``old + g`` for the plain walk's pending gradients, either of them maybe Deferred."""
    if isinstance(old, Deferred):
        return old.plus(g)
    return old + g.value()


_walking = _Walking()


def checkpoint_valid() -> bool:
    """torch's ``autograd._is_checkpoint_valid``: False while the node running belongs to a
    walk with ``inputs`` (``autograd.grad``, ``backward(inputs=)``), which a reentrant
    checkpoint cannot serve (its inner backward would accumulate into ``.grad``)."""
    return not _walking.selective


def queue_callback(callback: Any) -> None:
    """torch's ``Variable._execution_engine.queue_callback``: run ``callback()`` once the
    running backward walk has finished (before ``backward``/``autograd.grad`` returns), in
    the order queued; a callback may queue more. DistributedDataParallel waits for its last
    gradient buckets this way."""
    if _walking.callbacks is None:
        raise RuntimeError("Final callbacks can only be installed during backward pass.")
    _walking.callbacks.append(callback)


@contextmanager
def observe(observer: BackwardObserver) -> Iterator[BackwardObserver]:
    """Within the block, every backward pass of this thread (``backward``,
    ``autograd.grad``) reports its steps to ``observer``; blocks nest (the inner wins)."""
    prev, _observing.current = _observing.current, observer
    try:
        yield observer
    finally:
        _observing.current = prev


def _hook_result(hook: Any, out: Any, n: int) -> tuple:
    out = tuple(out)
    if len(out) != n:
        name = getattr(hook, "__name__", type(hook).__name__)
        raise RuntimeError(
            f"hook '{name}' has returned an incorrect number of values (got {len(out)}, but "
            f"expected {n})"
        )
    return out


def _node_hooks(v: Any, g: Tensor, grads: tuple, obs: Any) -> tuple:
    """``Node.register_hook`` hooks: ``hook(grad_inputs, grad_outputs)`` may replace them."""
    for hook in list(v._node_hooks.values()):
        out = hook(grads, (g,))
        new = grads if out is None else _hook_result(hook, out, len(grads))
        if obs is not None:
            obs.hook(v, "node", hook, grads, new)
        grads = new
    return grads


def _prehooks(v: Any, g: Tensor, obs: Any) -> Tensor:
    """``Node.register_prehook`` hooks: ``hook(grad_outputs)`` may replace them."""
    for hook in list(v._prehooks.values()):
        out = hook((g,))
        new = g if out is None else _hook_result(hook, out, 1)[0]
        if obs is not None:
            obs.hook(v, "prehook", hook, g, new)
        g = new
    return g


# --------------------------------------------------------------------------- leaves


class AccumulateGrad:
    """The graph node torch shows for a leaf in ``next_functions``; ``.variable`` is the leaf."""

    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable: Tensor) -> None:
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    @property
    def next_functions(self) -> tuple:
        return ()

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _accumulate(t: Tensor, g: Tensor, create_graph: bool) -> None:
    """``t.grad += g`` the way torch's AccumulateGrad does it: the first gradient is stored
    as a fresh copy (never aliased to another tensor's gradient; under ``create_graph`` a
    recorded ``copy_``, torch's CopyBackwards); later ones are added in place (so an alias
    ``g = t.grad`` sees them, even when ``.grad`` has a history) unless a graph of the
    gradient is being built, which makes ``.grad`` the new tensor ``old + g``."""
    if trace.tracer is not None and trace.tracer.effect(_accumulate, t, g, create_graph):
        return  # cr.compile's tracer recorded the call and ran it
    if g._data.dtype != t._data.dtype:
        g = g.to(t.dtype)
    old = getattr(t, "_grad", None)
    if old is None:
        if create_graph:
            t._grad = _make(np.empty_like(g._data)).copy_(g)
        else:
            t._grad = _make(np.array(g._data, copy=True))
    elif create_graph or not old._data.flags.writeable:
        t._grad = old + g
    else:  # in place, counted like torch's `grad += new` (under no_grad: history kept)
        if old._data.shape != g._data.shape:  # t reshaped in place since (unsqueeze_)
            try:
                shape = np.broadcast_shapes(old._data.shape, g._data.shape)
            except ValueError:
                shape = None
            if shape != old._data.shape:
                old.add_(g)  # torch's error for the in-place add (the shapes)
        mutate(old)[...] += g._data


def _steal(t: Tensor, g: Tensor) -> bool:
    """Store ``g`` as a leaf's first ``.grad`` without the copy ``_accumulate`` makes, when
    nothing else can see its memory (torch's AccumulateGrad steals a gradient whose use
    count says so): the plain walk calls this when only it holds ``g`` (a reference
    count); here ``g`` is a plain tensor whose array only ``g`` holds, C-contiguous,
    writeable and of ``t``'s dtype, owning its memory or a whole-array view of one only it
    holds (a product's transpose ``.T.T``). ``t`` is a leaf wanting a gradient with no
    ``.grad`` yet, no hooks and no view's history, and cr.compile is not tracing. False
    (nothing done) otherwise, and under ``create_graph``: then ``step`` accumulates,
    copying. The copy and the stolen array are the same values and layout; only who else
    could write them differs. (A view's
    version counter, shared with its family, is not carried over: the reference counts say
    no other member of the family is alive.)"""
    a = g._data
    if (
        grad_mode.enabled  # create_graph: the first gradient is a recorded copy (torch's)
        or type(g) is not Tensor
        or g.grad_fn is not None
        or getrefcount(a) != 3  # g's slot, `a` and the call's argument
        or a.dtype != t._data.dtype
        or not a.flags.c_contiguous
        or not a.flags.writeable
        or trace.tracer is not None
        or not t._requires_grad
        or getattr(t, "_grad", None) is not None
        or getattr(t, "_hooks", None)
        or getattr(t, "_post_hooks", None)
        or getattr(t, "_grad_from_base", False)
    ):
        return False
    base, owner = a.base, getattr(g, "_view_base", None)  # a view: its array's and its tensor's
    if base is not None or owner is not None:
        if (
            type(base) is not np.ndarray
            or type(owner) is not Tensor
            or owner._data is not base
            or base.base is not None
            or not base.flags.owndata
            or base.nbytes != a.nbytes
            or owner.grad_fn is not None
            or getrefcount(owner) != 3  # g's _base, `owner` and the call's argument
            or getrefcount(base) != 4  # owner's _data, a's base, `base` and the argument
        ):
            return False
    t._grad = _make(a)
    return True


def _take(t: Tensor, a: np.ndarray) -> None:
    """cr.compile's replay of a leaf's accumulation (``_accumulate(t, g, False)``) whose
    gradient array ``a`` no later instruction reads (the replay dropped its register first):
    ``a`` becomes the first ``.grad`` without a copy when reference counts show nothing
    else holds its memory, as ``_steal`` decides in an eager walk (C-contiguous, writeable,
    the leaf's dtype, owning its memory or a whole-array view of an array only it holds;
    the leaf wanting a gradient, with none yet, no hooks and no view's history). Anything
    else accumulates as the eager call did (the same values and layout either way)."""
    if (
        getrefcount(a) == 3  # the caller's reference, `a` and the call's argument
        and a.dtype == t._data.dtype
        and a.flags.c_contiguous
        and a.flags.writeable
        and t._requires_grad
        and getattr(t, "_grad", None) is None
        and not getattr(t, "_hooks", None)
        and not getattr(t, "_post_hooks", None)
        and not getattr(t, "_grad_from_base", False)
    ):
        base = a.base
        if base is None or (
            type(base) is np.ndarray
            and base.base is None
            and base.flags.owndata
            and base.nbytes == a.nbytes
            and getrefcount(base) == 3  # a's base, `base` and the call's argument
        ):
            t._grad = _make(a)
            return
    _accumulate(t, _make(a), False)


def _unreached_siblings(groups: list[tuple], ran: set[int], obs: Any) -> None:
    """torch runs a multi-output node (split, chunk, unbind) once, for all its outputs: the
    tensor hooks of an output no gradient reached are called with None then, and may not
    put a gradient in its place."""
    seen: set[int] = set()
    for group in groups:
        if id(group) in seen:
            continue
        seen.add(id(group))
        for ref in group:
            s = ref()
            if s is None or id(s) in ran or not s._hooks:
                continue
            _none_hooks(s, obs)


def _none_hooks(s: Any, obs: Any) -> None:
    """Call the tensor hooks of a multi-output node's output that gets no gradient."""
    for hook in list(s._hooks.values()):
        out = hook(None)
        if obs is not None:
            obs.hook(s, "tensor", hook, None, out)
        if out is not None:
            raise RuntimeError("can't replace a None gradient with a non-None value")


def _siblings_never_reached(v: Any, ran: set[int], reach: set[int], roots: list, obs: Any) -> None:
    """Before the first output of a split/chunk/unbind group runs its rule: the hooks of
    the outputs this walk never reaches, called with None (torch's one node runs them, as
    its pre-hooks, before its rule: a hook that raises there leaves every ``.grad`` as it
    was). ``reach`` (the walk's vertices' ids) is filled the first time it is needed."""
    others = []
    for ref in v._siblings:
        s = ref()
        if s is not None and s is not v and id(s) not in ran and s._hooks:
            others.append(s)
    if not others:
        return
    if not reach:
        reach.update(id(x) for x in reachable(roots))
    for s in others:
        if id(s) not in reach:
            ran.add(id(s))  # (then not again after the walk)
            _none_hooks(s, obs)


def _holds_wanted(v: Any, wanted: dict) -> bool:
    """Is another output of ``v``'s split/chunk/unbind group an input of autograd.grad?"""
    for ref in v._siblings:
        s = ref()
        if s is not None and s is not v and id(s) in wanted:
            return True
    return False


def _retain(t: Tensor, g: Tensor) -> None:
    """torch's retain_grad hook: ``.grad`` of a non-leaf is a clone of the first gradient,
    then ``grad + new`` (a new tensor each time, recorded under ``create_graph``)."""
    old = getattr(t, "_grad", None)
    t._grad = g.clone() if old is None else old + g


# --------------------------------------------------------------------------- the engine


_parents = operator.attrgetter("_edges")  # a vertex's parents: op nodes and leaves alike


def run_backward(
    tensors: Sequence[Tensor],
    grad_tensors: Sequence[Tensor | None],
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
    accumulate: bool,
) -> dict[int, Tensor]:
    """The tensor engine's backward, shared by ``Tensor.backward`` and ``autograd.grad``.

    Seeds each output with its gradient, then runs ``graph.backprop`` over op nodes (leaf
    tensors are vertices too). ``accumulate=True`` adds into leaves' ``.grad`` (only those
    in ``inputs`` when given); ``accumulate=False`` leaves ``.grad`` alone and returns the
    gradients of ``inputs`` keyed by the id of their graph vertex.
    """
    if autocast_state.enabled:  # backward runs in the dtypes the forward chose (torch)
        autocast_state.enabled = False
        try:
            return run_backward(
                tensors, grad_tensors, retain_graph, create_graph, inputs, accumulate
            )
        finally:
            autocast_state.enabled = True
    if retain_graph is None:
        retain_graph = create_graph
    roots, seeds = [], []
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        if not t._requires_grad or getattr(t, "_grad_from_base", False):
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if kind_of(t._data.dtype) not in "fc":
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}"
                )
            g = _make(np.ones(t._data.shape, t._data.dtype))
        else:
            if not isinstance(g, Tensor):
                g = _make(np.asarray(g, dtype=t._data.dtype))
            if g._data.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and "
                    f"output[{i}] has a shape of {t.shape}."
                )
            if not create_graph:
                g = g.detach()
            if g._data.dtype != t._data.dtype:  # torch's validate_outputs on the roots
                g = g.to(t.dtype)
        check_multi_view(t)
        roots.append(t if t.grad_fn is None else t.grad_fn)
        seeds.append(g)

    if trace.tracer is not None:  # cr.compile: the seeds, and whether it can follow this walk
        implicit = [g is None for g in grad_tensors]
        trace.tracer.backward(roots, seeds, implicit, create_graph, inputs, accumulate)
    # graph vertex of each input -> the input tensor (a leaf is its own vertex)
    if inputs is not None:
        for x in inputs:  # reading an input's history may be refused (a stale view)
            if getattr(x, "_multi", None) is not None:
                check_multi_view(x)
    wanted = None if inputs is None else {id(x.grad_fn or x): x for x in inputs}
    if accumulate and inputs is not None:
        for x in inputs:  # torch: backward(inputs=) makes each input retain its gradient
            x.retain_grad()
    captured: dict[int, Tensor] = {}
    ran: set[int] = set()  # nodes of multi-output groups that ran, and their groups
    reach: set[int] = set()  # the walk's vertices, when a group's hooks need them
    groups: list[tuple] = []
    obs = _observing.current
    # with inputs, only nodes on a path to one of them run (as torch): the rest of the
    # history is neither computed, nor freed, nor seen by hooks
    runs = None if wanted is None else _on_paths(roots, wanted)
    root_ids = () if runs is None else {id(r) for r in roots}
    plain = wanted is None and obs is None  # a node without hooks only runs its rule

    def step(v: Any, g: Tensor | None) -> Sequence[Tensor | None]:
        if isinstance(v, Tensor):  # a leaf: its gradient is complete
            # with inputs, a leaf that is not one of them is not run (nor are its hooks)
            if g is None or wanted is not None and id(v) not in wanted:
                return ()
            if getattr(v, "_grad_from_base", False):  # no .grad of its own (torch's view)
                return ()
            hooks = getattr(v, "_hooks", None)
            if hooks:
                g = _run_hooks(hooks, g, obs, v)
            if not accumulate:
                if wanted is not None:
                    captured[id(v)] = g
            else:
                if v._requires_grad:  # torch's AccumulateGrad checks it when it runs
                    _accumulate(v, g, create_graph)
                post = getattr(v, "_post_hooks", None)
                if post:
                    for hook in list(post.values()):
                        hook(v)
            if obs is not None:
                obs.leaf(v, g, accumulate)
            return ()
        if g is None:
            return (None,) * len(v._edges)
        if (
            plain
            and v._hooks is None
            and v._retained is None
            and v._prehooks is None
            and v._node_hooks is None
            and v._siblings is None
        ):  # the general path below with every branch off: no inputs=, observer, hook, or
            # output group of split/chunk/unbind
            return v._run_backward(g, retain_graph)
        if runs is not None and id(v) not in runs and id(v) not in wanted:
            if v._siblings is not None and _holds_wanted(v, wanted):
                # torch's one split/unbind node holds a wanted output: its pre-hooks run
                # (this output's tensor hooks with its gradient, the others' with None)
                if v._hooks is not None:
                    g = _run_hooks(v._hooks, g, obs, v)
                ran.add(id(v))
                groups.append(v._siblings)
                return (None,) * len(v._edges)
            if id(v) in root_ids:  # torch still runs a root's tensor hooks (and retain_grad)
                if v._hooks is not None:
                    g = _run_hooks(v._hooks, g, obs, v)
                if v._retained is not None and (t := v._retained()) is not None:
                    _retain(t, g)
            return (None,) * len(v._edges)
        beyond = runs is None or id(v) in runs
        # a non-leaf input of autograd.grad is captured before its tensor hooks when its node
        # runs on (another input lies beyond it), after them when it does not (torch's order)
        capture = not accumulate and wanted is not None and id(v) in wanted
        if capture and beyond:
            captured[id(v)] = g
        if v._hooks is not None:  # tensor hooks of the node's output run first
            g = _run_hooks(v._hooks, g, obs, v)
        if capture and not beyond:
            captured[id(v)] = g
        if v._retained is not None:  # retain_grad: also under autograd.grad, as torch
            t = v._retained()
            if t is not None:
                _retain(t, g)
        if not beyond and not accumulate:  # captured: torch does not run the node
            if v._siblings is not None:  # but its pre-hooks ran: the other outputs' tensor
                ran.add(id(v))  # hooks get None (after the walk, as for a node that runs)
                groups.append(v._siblings)
            return (None,) * len(v._edges)
        if v._prehooks is not None:  # the node's own pre-hooks, once it runs (torch's order)
            g = _prehooks(v, g, obs)
        if beyond:
            if v._siblings is not None:
                ran.add(id(v))
                groups.append(v._siblings)
                if wanted is None:
                    _siblings_never_reached(v, ran, reach, roots, obs)
            grads = v._run_backward(g, retain_graph)
        else:  # backward(inputs=[x]) runs x's node with no gradient wanted from it (torch)
            v._run_unwanted(retain_graph)
            grads = (None,) * len(v._edges)
        if v._node_hooks is not None:
            grads = _node_hooks(v, g, grads, obs)
        if obs is not None:
            obs.node(v, g, grads)
        return grads

    token = ignore_fp_errors()  # the rules' ops run silent, as torch's do (one switch here,
    selective, _walking.selective = _walking.selective, inputs is not None  # not one per op)
    callbacks, _walking.callbacks = _walking.callbacks, []
    deferred, _walking.deferred = _walking.deferred, plain and not create_graph
    try:
        with set_grad_enabled(create_graph):
            if plain:
                _plain_walk(roots, seeds, step, retain_graph)
            else:
                backprop(roots, seeds, _parents, step, first=Tensor)
            if groups:
                _unreached_siblings(groups, ran, obs)
        final = _walking.callbacks
        while final:  # torch runs the final callbacks as the graph task ends
            final.pop(0)()
    finally:
        _walking.selective = selective
        _walking.callbacks = callbacks
        _walking.deferred = deferred
        restore_fp_errors(token)
    return captured


def _plain_walk(roots: list, seeds: list, step: Any, retain_graph: bool) -> None:
    """``graph.backprop(roots, seeds, _parents, step, first=Tensor)`` for a walk with no
    ``inputs`` and no observer, in the same order, with ``step``'s first case written in:
    an op node with a gradient and no hooks, retained gradient or output group (``_hooked``)
    runs its rule straight away (``step`` would do just that, one frame deeper). Everything
    else (leaves, nodes with hooks ...) goes through ``step``."""
    deps, pending, ready = start(roots, seeds, _parents)
    # (a deque keeps its memory when emptied: a list popped empty and refilled at each link
    # of a chain gives its memory back and takes it again, ~0.35k instructions a W2 op)
    ready = deque(ready)
    pop = pending.pop
    get = pending.get
    leaves: list[Any] = []
    while ready or leaves:
        v = leaves.pop() if leaves else ready.pop()
        g = pop(id(v), None)
        if isinstance(g, Deferred):  # pieces (a split's): summed now that v runs
            g = g.value()
        if g is not None and not isinstance(v, Tensor) and not v._hooked:
            out = v._run_backward(g, retain_graph)
        elif g is not None and isinstance(v, Tensor):  # a leaf (a Parameter too)
            out = ()  # (dropping the last node's gradients, which may hold this one)
            if getrefcount(g) != 2 or not _steal(v, g):  # 2: `g` here and the call's own
                step(v, g)
        else:
            out = step(v, g)
        n_out = len(out)
        i = 0
        for p in v._edges:  # zip(v._edges, out), without making a zip per vertex
            if i == n_out:
                break
            g = out[i]
            i += 1
            if p is None:
                continue
            k = id(p)
            if g is not None:
                old = get(k)
                if old is None:
                    pending[k] = g
                elif isinstance(old, Deferred) or isinstance(g, Deferred):
                    pending[k] = _plus(old, g)
                else:
                    pending[k] = old + g
            n = deps[k] - 1
            if n:
                deps[k] = n
            elif type(p) is Tensor:  # leaves first, as torch's ready queue (backprop's first)
                leaves.append(p)
            else:
                ready.append(p)


def _on_paths(roots: Sequence[Any], wanted: dict[int, Tensor]) -> set[int]:
    """Ids of the op nodes that must run so gradients reach the ``wanted`` vertices: those
    with a parent that is wanted or itself leads to a wanted vertex."""
    leads: set[int] = set()  # wanted, or upstream of a wanted vertex's consumer
    runs: set[int] = set()
    for v in reversed(toposort(roots, _parents)):  # producers first
        if any(p is not None and id(p) in leads for p in v._edges):
            runs.add(id(v))
            leads.add(id(v))
        elif id(v) in wanted or (
            getattr(v, "_siblings", None) is not None and _holds_wanted(v, wanted)
        ):  # (another output of torch's one split/unbind node is wanted: the node is
            # where that output is captured, so the path to it is computed, as torch's)
            leads.add(id(v))
    return runs


# --------------------------------------------------------------------------- reading the graph


def vertex(x: Any) -> Any:
    """The graph vertex of a tensor (its grad_fn; itself if a leaf requiring grad; else
    None) or of a node (an ``AccumulateGrad`` stands for its leaf)."""
    if isinstance(x, Tensor):
        if x.grad_fn is not None:
            return x.grad_fn
        return x if x._requires_grad else None
    if isinstance(x, AccumulateGrad):
        return x.variable
    return x


def reachable(roots: Iterable[Any], stop: Iterable[Any] = ()) -> list[Any]:
    """The vertices (op nodes and leaf tensors) reachable from ``roots`` (tensors or
    nodes), each before the vertices it was computed from: the reverse topological order
    backward steps them in. Vertices of ``stop`` are neither listed nor walked through."""
    blocked = {id(v) for v in map(vertex, stop) if v is not None}
    starts = [v for v in map(vertex, roots) if v is not None and id(v) not in blocked]
    if not blocked:
        return toposort(starts, _parents)
    return toposort(starts, lambda v: [p for p in v._edges if p is None or id(p) not in blocked])


def inputs_of(node: Any) -> tuple:
    """A node's input vertices, one per input (None where no gradient goes)."""
    return tuple(node._edges) if not isinstance(node, AccumulateGrad) else ()

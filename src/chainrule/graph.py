"""The walk shared by both engines: grad mode, an iterative topological order and backprop.

Standard library only. Nothing here knows what a vertex is: the scalar ``Value`` and the
tensor engine's graph nodes both pass in two small functions, ``parents_of(v)`` (the
vertices ``v`` was computed from, ``None`` for inputs that need no gradient) and
``step(v, grad)`` (what to do when ``v``'s gradient is complete: return one gradient per
parent). Everything is a loop over an explicit stack, so a graph may be as deep as memory
allows: no recursion, no ``RecursionError``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "is_grad_enabled",
    "set_grad_enabled",
    "no_grad",
    "enable_grad",
    "inference_mode",
    "is_inference_mode_enabled",
    "toposort",
    "backprop",
]


# --------------------------------------------------------------------------- grad mode


class _AllOn:
    """Is grad mode on in every thread? A hint read before the thread-local switch, which
    costs ~550 instructions a read (a slot costs ~30): ``all_on.value or grad_mode.enabled``
    is the thread's mode, and Op.apply reads it once per op (~0.55k of W2's ~48k
    instructions per op). ``value`` is True while no thread has grad mode off (nobody
    inside ``no_grad`` or a backward); ``off`` counts those threads. A thread that turns
    its mode off counts itself after the switch and before going on (it reads the
    thread-local meanwhile, so it never sees the stale True); any other thread's mode is
    on while the hint says so. A thread that ends with grad mode off leaves the hint off
    for good: slower, never wrong."""

    __slots__ = ("value", "off")

    def __init__(self) -> None:
        self.value, self.off = True, 0


all_on = _AllOn()
_count_lock = threading.Lock()


class _GradMode(threading.local):
    """Per-thread switch: record operations for backward or not (default: record).
    Every write (``grad_mode.enabled = x``) also keeps ``all_on`` true."""

    enabled = True

    def __setattr__(self, name: str, value: Any) -> None:
        if name != "enabled":
            threading.local.__setattr__(self, name, value)
            return
        was = bool(self.enabled)
        threading.local.__setattr__(self, name, value)
        if was != bool(value):
            with _count_lock:
                all_on.off += -1 if value else 1
                all_on.value = all_on.off == 0


grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True if operations are being recorded for backward in this thread."""
    return all_on.value or grad_mode.enabled


class _GradModeContext:
    """Base of the grad-mode switches: a context manager that is also a decorator."""

    _target: bool

    def __enter__(self) -> None:
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        grad_mode.enabled = self._prev

    def __call__(self, fn: Callable) -> Callable:
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = grad_mode.enabled
            grad_mode.enabled = target
            try:
                return fn(*args, **kwargs)
            finally:
                grad_mode.enabled = prev

        return wrapper


class no_grad(_GradModeContext):
    """Context manager / decorator that turns recording off (``torch.no_grad``)."""

    _target = False


class enable_grad(_GradModeContext):
    """Context manager / decorator that turns recording on (``torch.enable_grad``)."""

    _target = True


class inference_mode(_GradModeContext):
    """torch.inference_mode: here the same as ``no_grad`` (``inference_mode(False)`` records)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._target = not self.mode

    def __enter__(self) -> None:
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._target
        _inference.depth += self.mode

    def __exit__(self, *exc: object) -> None:
        grad_mode.enabled = self._prev
        _inference.depth -= self.mode


class _Inference(threading.local):
    depth = 0


_inference = _Inference()


def is_inference_mode_enabled() -> bool:
    """Whether the code runs inside ``inference_mode()``."""
    return _inference.depth > 0


class set_grad_enabled(_GradModeContext):
    """Set grad mode; works as a plain call, a context manager and a decorator (like torch)."""

    def __init__(self, mode: bool) -> None:
        self._target = bool(mode)
        self._prev = grad_mode.enabled
        grad_mode.enabled = self._target

    def __enter__(self) -> None:
        pass  # already switched in __init__, exactly like torch

    def __call__(self, fn: Callable) -> Callable:
        grad_mode.enabled = self._prev  # used as a decorator: undo the switch from __init__
        return super().__call__(fn)


# --------------------------------------------------------------------------- the walk

Parents = Callable[[Any], Sequence[Any]]
_EMIT = object()  # toposort's stack marker: "the vertex below me is finished"


def toposort(roots: Iterable[Any], parents_of: Parents, *, hashable: bool = False) -> list[Any]:
    """Every vertex reachable from ``roots``, each after all of its consumers.

    Iterative depth-first search (post-order, reversed). Vertices are told apart by
    identity, so objects with an elementwise ``__eq__`` (tensors) are fine. Pass
    ``hashable=True`` when every vertex keeps ``object``'s identity hash and equality (the
    scalar ``Value`` does): vertices then go in the seen-set as they are, skipping an
    ``id()`` call per vertex (about a fifth faster).
    """
    # One flat stack. Popping a vertex for the first time pushes it back under an _EMIT
    # marker and then pushes its parents; when the marker resurfaces, every parent has been
    # finished, so the vertex is emitted (post-order). A vertex pushed twice before it is
    # expanded is skipped the second time. No per-vertex iterator or tuple: this loop is
    # the whole cost of ``Value.backward``'s ordering, so it is kept tight.
    order: list[Any] = []
    seen: set[Any] = set()
    stack = list(roots)
    stack.reverse()  # the first root is expanded first
    pop, push, extend, emit, mark, done = (
        stack.pop,
        stack.append,
        stack.extend,
        order.append,
        seen.add,
        _EMIT,
    )
    while stack:
        v = pop()
        if v is done:
            emit(pop())
            continue
        if v is None:
            continue
        k = v if hashable else id(v)
        if k in seen:
            continue
        mark(k)
        push(v)
        push(done)
        extend(parents_of(v))
    order.reverse()
    return order


def start(roots: Sequence[Any], grads: Sequence[Any], parents_of: Parents) -> tuple:
    """The set-up of a backward walk: how many consumers (within the graph reachable from
    ``roots``) each vertex has, the roots' gradients (added where a root repeats), and the
    roots ready to step. Returns ``(deps, pending, ready)``, keyed by ``id``."""
    deps: dict[int, int] = {}
    seen = []  # each vertex once, read as it grows (a stack popped empty and refilled at
    for r in roots:  # each link of a chain has its memory freed and taken again: ~0.6k
        if id(r) not in deps:  # instructions a W2 op with the pop calls)
            deps[id(r)] = 0
            seen.append(r)
    for v in seen:
        for p in parents_of(v):
            if p is None:
                continue
            k = id(p)
            if k in deps:
                deps[k] += 1
            else:
                deps[k] = 1
                seen.append(p)
    pending: dict[int, Any] = {}
    for r, g in zip(roots, grads):
        k = id(r)
        pending[k] = pending[k] + g if k in pending else g
    ready = []
    queued: set[int] = set()
    for r in roots:
        if deps[id(r)] == 0 and id(r) not in queued:
            queued.add(id(r))
            ready.append(r)
    return deps, pending, ready


def backprop(
    roots: Sequence[Any],
    grads: Sequence[Any],
    parents_of: Parents,
    step: Callable[[Any, Any], Sequence[Any]],
    first: type | None = None,
) -> None:
    """Run reverse-mode differentiation from ``roots`` seeded with ``grads``.

    A vertex is stepped exactly once, when every consumer reachable from the roots has
    handed it its gradient (Kahn's algorithm on dependency counts). Gradients meeting at a
    vertex are added with ``+``. A vertex's gradient is dropped as soon as it has been
    stepped, so memory is released while the walk goes on. ``step`` may receive ``None``
    (no gradient reached the vertex) and may return ``None`` entries. Vertices of type
    ``first`` (the tensor engine's leaves) are stepped as soon as they are ready, before
    any other: torch's ready queue runs AccumulateGrad first, which decides what ``.grad``
    holds when a later node raises.
    """
    deps, pending, ready = start(roots, grads, parents_of)
    pop = pending.pop
    leaves: list[Any] = []
    while ready or leaves:
        v = leaves.pop() if leaves else ready.pop()
        out = step(v, pop(id(v), None))
        for p, g in zip(parents_of(v), out):
            if p is None:
                continue
            k = id(p)
            if g is not None:
                old = pending.get(k)
                pending[k] = g if old is None else old + g
            n = deps[k] - 1
            if n:
                deps[k] = n
            elif first is not None and type(p) is first:
                leaves.append(p)
            else:
                ready.append(p)

"""``cr.compile`` (torch.compile's name and calling convention) and ``chainrule.compiler``.

``cr.compile(fn)`` / ``cr.compile(module)`` / ``@cr.compile`` / ``@cr.compile(mode=...)``
return a callable that, on its first call with a new kind of input, runs ``fn`` eagerly
while a tracer records every kernel it ran (forward, backward, the optimizer's step) and
then replays that program on later calls: the same NumPy kernels on the same arrays, with
none of the op layer's Python dispatch, and runs of elementwise kernels fused into one
generated C loop. A replay is used only when its guards hold (torch's): the arguments'
types, shapes, dtypes and requires_grad, grad mode, the default dtype, the tensors the
program read from outside (shapes, dtypes, requires_grad), the identity of the function's
closure and global tensors and modules, the modules' training flags and parameters.
Otherwise the call is traced again (up to ``recompile_limit``, 8 as torch's, after which it
runs eagerly). A call the tracer cannot capture (``.item()``, data-dependent control flow,
printing, an in-place write, a hook ...) just runs eagerly, and so do later calls with the
same guards; ``CHAINRULE_LOGS=compile`` says why, on the ``chainrule.compile`` logger
(``fullgraph=True`` raises ``Unsupported`` instead).
"""

from __future__ import annotations

import functools
import threading
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._tensor import Tensor
from chainrule._trace import state as trace
from chainrule.compiler._log import say as _say
from chainrule.compiler._program import Program, encode
from chainrule.compiler._tracer import Tracer, patched
from chainrule.graph import grad_mode

__all__ = [
    "compile", "reset", "disable", "is_compiling", "is_dynamo_compiling", "list_backends",
    "Unsupported", "InvalidBackend", "CompiledFunction", "OptimizedModule", "config",
]  # fmt: skip

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_BACKENDS = ("inductor", "eager", "aot_eager")


class Unsupported(RuntimeError):
    """Raised under ``fullgraph=True`` when the function cannot be captured whole."""


class InvalidBackend(RuntimeError):
    """``cr.compile(backend=...)`` named a backend that does not exist (torch's
    ``torch._dynamo.exc.InvalidBackend``); ``list_backends()`` gives the valid names."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"Invalid backend: {name!r}, see `chainrule.compiler.list_backends()` for "
            "available backends."
        )


class _Config:
    """``chainrule.compiler.config`` (torch._dynamo.config's names)."""

    recompile_limit = 8  # traces per compiled function before it stays eager
    fuse = True  # fuse runs of elementwise kernels into generated C (inductor backend)


config = _Config()


def list_backends() -> list[str]:
    """The names ``cr.compile(backend=...)`` accepts (torch's ``torch.compiler.list_backends``)."""
    return list(_BACKENDS)


def is_compiling() -> bool:
    """True while a compiled function is being traced (torch.compiler.is_compiling)."""
    return trace.tracer is not None


is_dynamo_compiling = is_compiling


def disable(fn: Any = None, recursive: bool = True, *, reason: str | None = None) -> Any:
    """``torch.compiler.disable``: ``fn`` always runs eagerly (here: as it is)."""
    if fn is None:
        return functools.partial(disable, recursive=recursive, reason=reason)
    return fn


_registry: list = []  # every CompiledFunction, for reset()


def reset() -> None:
    """Forget every trace (torch.compiler.reset)."""
    for ref in _registry:
        cf = ref()
        if cf is not None:
            cf.entries.clear()


# ---------------------------------------------------------------------------- flattening


def _flatten(x: Any, flat: list) -> Any:
    """The structure of ``x`` with tensors replaced by their position in ``flat``."""
    if isinstance(x, Tensor):
        flat.append(x)
        return ("T",)
    if type(x) in (list, tuple):
        return (type(x), tuple(_flatten(v, flat) for v in x))
    if type(x) is dict:
        return (dict, tuple((k, _flatten(v, flat)) for k, v in x.items()))
    if x is None or type(x) in (int, float, bool, str, complex):
        return ("V", type(x), x)
    if isinstance(x, dtypes.dtype):
        return ("V", type(x), x)
    flat.append(x)  # any other object: by identity
    return ("O", type(x), id(x))


def _tensor_key(t: Tensor, flat: list, i: int) -> tuple:
    first = i
    for j in range(i):  # which earlier argument shares its memory (torch guards aliasing)
        o = flat[j]
        if isinstance(o, Tensor) and o._data is t._data:
            first = j
            break
    return (
        type(t), t._data.shape, t._data.dtype, t._data.strides, t._requires_grad,
        t.grad_fn is None, first,
    )  # fmt: skip


def _key(args: tuple, kwargs: dict) -> tuple[tuple, list]:
    flat: list = []
    structure = _flatten((args, kwargs), flat)
    keys = tuple(
        _tensor_key(x, flat, i) if isinstance(x, Tensor) else (type(x), id(x))
        for i, x in enumerate(flat)
    )
    return (structure, keys, grad_mode.enabled, dtypes.get_default_dtype()), flat


# ---------------------------------------------------------------------------- guards


def _scope(fn: Any) -> list[tuple]:
    """The tensors and modules a function reaches by name (closure cells, globals): their
    identity is guarded, as torch guards the objects a frame reads."""
    from chainrule.nn.module import Module

    out = []
    seen = set()
    f = fn
    while f is not None and id(f) not in seen:
        seen.add(id(f))
        code = getattr(f, "__code__", None)
        if code is None:
            f = getattr(f, "__func__", None) or getattr(f, "__wrapped__", None)
            continue
        for cell in f.__closure__ or ():
            try:
                v = cell.cell_contents
            except ValueError:
                continue
            if isinstance(v, Tensor | Module) or callable(v) or type(v) in _VALUES:
                out.append(("cell", cell, v))
        g = f.__globals__
        for name in code.co_names:
            v = g.get(name, _ABSENT)
            if isinstance(v, Tensor | Module) or type(v) in _VALUES:
                out.append(("global", g, name, v))
        f = getattr(f, "__wrapped__", None)
    return out


_VALUES = (int, float, bool, str, complex)


def _scope_holds(scope: list) -> bool:
    for item in scope:
        if item[0] == "cell":
            try:
                v = item[1].cell_contents
            except ValueError:
                return False
            want = item[2]
        else:
            v = item[1].get(item[2], _ABSENT)
            want = item[3]
        if type(want) in _VALUES:  # a number or string the trace baked in: by value
            if type(v) is not type(want) or v != want:
                return False
        elif v is not want:
            return False
    return True


_ABSENT = object()


def _writes(fn: Any) -> str | None:
    """Does ``fn`` assign a global or a variable of an enclosing function (state a replay
    would not change)? Returns what, for the log."""
    import dis

    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    for ins in dis.get_instructions(code):
        if ins.opname == "STORE_GLOBAL":
            return f"assigns the global {ins.argval!r}"
        if ins.opname == "STORE_DEREF" and ins.argval in code.co_freevars:
            return f"assigns the nonlocal {ins.argval!r}"
    return None


class _Entry:
    """One trace: its guards and its program (or the reason it runs eagerly)."""

    __slots__ = ("key", "program", "reason", "captured", "modules", "scope")

    def __init__(self, key: tuple, program: Program | None, reason: str | None,
                 tracer: Tracer | None, scope: list) -> None:  # fmt: skip
        self.key = key
        self.program = program
        self.reason = reason
        self.scope = scope
        if tracer is None:
            self.captured: tuple = ()
            self.modules: tuple = ()
        else:
            self.captured = tuple(
                (t, t._data.shape, t._data.dtype, t._data.strides, t._requires_grad,
                 t.grad_fn is None)
                for t in tracer.captured.values()
            )  # fmt: skip
            self.modules = tuple(tracer.modules.values())

    def holds(self) -> bool:
        for t, shape, dt, strides, rg, leaf in self.captured:
            d = t._data
            if d.shape != shape or d.dtype != dt or t._requires_grad != rg:
                return False
            if d.strides != strides:
                return False
            if (t.grad_fn is None) != leaf:
                return False
        for m, training, own in self.modules:
            if m.training != training:
                return False
            for d, name, v in own:
                if d.get(name) is not v:
                    return False
        return _scope_holds(self.scope)


# ---------------------------------------------------------------------------- outputs


def _live_output(tracer: Tracer, result: Any) -> tuple | None:
    """A result whose graph the call left for later (backward called by the caller): record
    that graph's backward now, from a placeholder gradient to each leaf's gradient (torch's
    AOTAutograd), so a replay can give its result a node that runs those kernels."""
    from chainrule._engine import reachable, run_backward
    from chainrule._tensor import _make
    from chainrule.compiler._program import Live

    outs: list = []
    _flatten(result, outs)
    live = [t for t in outs if isinstance(t, Tensor) and t.grad_fn is not None]
    live = [t for t in live if not _graph_freed(t)]
    if not live:
        return None
    if len(live) > 1 or any(t is not live[0] for t in live):
        tracer.fail("several results with live graphs")
        return None
    o = live[0]
    if any(isinstance(x, Tensor) and x.grad_fn is not None for x in tracer.keep[0]):
        tracer.fail("an argument with a graph of its own and a result with a live graph")
        return None
    verts = reachable([o])
    leaves = [v for v in verts if isinstance(v, Tensor)]
    sources = []
    for v in verts:
        if isinstance(v, Tensor):
            if getattr(v, "_hooks", None) or getattr(v, "_post_hooks", None):
                tracer.fail("a tensor hook on a leaf of the result's graph")
                return None
            s = tracer.tensor_source(v, "the result's graph")
            if s is None:
                return None
            if s[0] == "wrap":
                tracer.fail("a leaf made inside the compiled function")
                return None
            sources.append(s)
        elif v._hooks or v._prehooks or v._node_hooks or v._retained is not None:
            tracer.fail(f"a hook or retain_grad on {v.name()} of the result's graph")
            return None
    g0 = np.ones(o._data.shape, o._data.dtype)
    tracer.known[id(g0)] = ("gin",)
    tracer.keep.append(g0)
    forward_code, tracer.code = tracer.code, []
    tracer.aot = True
    trace.tracer = tracer
    try:
        got = run_backward([o], [_make(g0)], True, False, leaves, False)
    finally:
        trace.tracer = None
        tracer.aot = False
    backward_code, tracer.code = tracer.code, forward_code
    if tracer.failed is not None:
        return None
    grads = []
    for v in leaves:
        g = got.get(id(v))
        if g is None:
            grads.append(None)
            continue
        s = tracer.known.get(id(g._data))
        if s is None:
            tracer.fail("a leaf's gradient made outside the traced ops")
            return None
        grads.append(s)
    read = []
    for ins in backward_code:
        for s in ins[3] if ins[0] == 0 else ():
            if s[0] == "cap" and all(t is not s[1] for t in read):
                read.append(s[1])
    return o, Live(backward_code, sources, grads, read)


def _output_spec(tracer: Tracer, x: Any, live: Tensor | None = None) -> Any:
    if isinstance(x, Tensor):
        j = tracer.argobj.get(id(x))
        if j is not None:
            return ("tensor", (7, j), False)  # ARGOBJ
        if id(x) in tracer.pre_obj:
            return ("tensor", (8, x), False)  # CAPOBJ
        assigned = tracer.grads_set.get(id(x))
        if assigned is not None and getattr(assigned[1], "_grad", None) is x:
            return ("tensor", encode(("grad", assigned[2])), False)  # a .grad it assigned
        s = tracer.known.get(id(x._data))
        if s is None or s[0] not in ("reg", "grad"):
            tracer.fail("returns a tensor made outside the traced ops")
            return None
        if s[0] == "grad":
            return ("tensor", encode(s), False)
        if getattr(x, "_view_base", None) is not None:
            tracer.fail("returns a view")
            return None
        if x is live:
            return ("tensor", encode(s), "live")
        history = x.grad_fn is not None
        if history and not _graph_freed(x):
            tracer.fail(
                "returns a tensor whose graph is still live (backward after the compiled "
                "call is not captured: call backward inside the compiled function)"
            )
            return None
        if x._requires_grad and not history:
            tracer.fail("returns a leaf that requires grad, made inside")
            return None
        if type(x) is not Tensor:
            tracer.fail(f"returns a {type(x).__name__}")
            return None
        return ("tensor", encode(s), history)
    if type(x) in (list, tuple):
        parts = [_output_spec(tracer, v, live) for v in x]
        return None if None in parts else ("seq", type(x), tuple(parts))
    if type(x) is dict:
        items = [(k, _output_spec(tracer, v, live)) for k, v in x.items()]
        return None if any(v is None for _, v in items) else ("dict", tuple(items))
    if x is None or type(x) in (int, float, bool, str, complex):
        return ("const", x)
    tracer.fail(f"returns a {type(x).__name__}")
    return None


def _graph_freed(x: Tensor) -> bool:
    """Did the traced call's backward free this tensor's graph (so a replay's result,
    whose history is a freed node, behaves the same under a second backward)?"""
    from chainrule._engine import reachable

    return any(getattr(v, "_freed", False) for v in reachable([x]) if not isinstance(v, Tensor))


# ---------------------------------------------------------------------------- the front end


class CompiledFunction:
    """What ``cr.compile(fn)`` returns: call it as ``fn``."""

    def __init__(self, fn: Any, *, fullgraph: bool, backend: str, recompile_limit: int | None,
                 name: str | None = None) -> None:  # fmt: skip
        import weakref

        self.fn = fn
        self.fullgraph = fullgraph
        self.fuse = backend == "inductor"
        self.recompile_limit = recompile_limit
        self.entries: list[_Entry] = []
        self.traces = 0  # how many times the function was traced (compiles)
        self.lock = threading.Lock()
        self.name = name or getattr(fn, "__qualname__", type(fn).__name__)
        self.writes = _writes(fn)  # a global or nonlocal the function assigns (None: none)
        functools.update_wrapper(self, fn, updated=())
        _registry.append(weakref.ref(self))

    def __get__(self, obj: Any, objtype: Any = None) -> Any:  # a decorated method
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if trace.tracer is not None:  # traced from inside another compiled call: inline
            return self.fn(*args, **kwargs)
        key, flat = _key(args, kwargs)
        for entry in self.entries:
            if entry.key == key and entry.holds():
                if entry.program is None:
                    return self.fn(*args, **kwargs)
                return entry.program.run(flat)
        limit = self.recompile_limit if self.recompile_limit is not None else (
            config.recompile_limit
        )  # fmt: skip
        if self.traces >= limit:
            _say("%s: hit recompile_limit (%d): running eagerly", self.name, limit)
            return self.fn(*args, **kwargs)
        if not self.lock.acquire(blocking=False):  # another thread is tracing
            return self.fn(*args, **kwargs)
        try:
            return self._trace(key, flat, args, kwargs)
        finally:
            self.lock.release()

    def _trace(self, key: tuple, flat: list, args: tuple, kwargs: dict) -> Any:
        self.traces += 1
        if self.entries:
            _say("%s: recompiling (guards failed; trace %d)", self.name, self.traces)
        scope = _scope(self.fn)
        tracer = Tracer(flat)
        trace.tracer = tracer
        try:
            with patched(tracer):
                result = self.fn(*args, **kwargs)
        finally:
            trace.tracer = None
        spec = None
        if tracer.failed is None and self.writes:
            tracer.fail(self.writes)
        live = None
        if tracer.failed is None:
            live = _live_output(tracer, result)
        if tracer.failed is None:
            spec = _output_spec(tracer, result, live[0] if live else None)
        if tracer.failed is None:
            outs: list = []
            _flatten(result, outs)
            tracer.escaped([t for t in outs if isinstance(t, Tensor)])
        if tracer.failed is not None:
            _say("%s: running eagerly: %s", self.name, tracer.failed)
            self.entries.append(_Entry(key, None, tracer.failed, None, scope))
            if self.fullgraph:
                raise Unsupported(f"cr.compile(fullgraph=True): {tracer.failed}")
            return result
        program = Program(tracer.code, tracer.nslots, tracer.attr_nodes, spec, tracer.meta)
        if live is not None:
            program.live = live[1]
        if self.fuse:  # (the inductor backend: rewrites, then fused loops)
            from chainrule.compiler._program import _outputs_regs
            from chainrule.compiler._rewrite import rewrite

            keep: set = set()
            _outputs_regs(program.outputs, keep)
            if program.live is not None:
                keep |= program.live.reads
            rewrite(program, keep)
        if self.fuse and config.fuse:
            from chainrule.compiler._fuse import fuse

            fuse(program)
        program.add_frees()
        _say("%s: captured %d kernels", self.name, program.kernels)
        self.entries.append(_Entry(key, program, None, tracer, scope))
        return result


def _optimized_module_class() -> type:
    from chainrule.nn.module import Module

    class OptimizedModule(Module):
        """What ``cr.compile(module)`` returns (torch's name): calls go through the compiled
        ``module.__call__``; the module itself is ``_orig_mod`` (its state_dict keys are
        prefixed ``_orig_mod.``, as torch's)."""

        def __init__(self, mod: Module, compiled: CompiledFunction) -> None:
            super().__init__()
            self._orig_mod = mod
            object.__setattr__(self, "_compiled", compiled)

        def forward(self, *args: Any, **kwargs: Any) -> Any:
            return self._compiled(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self._modules["_orig_mod"], name)

        def __repr__(self) -> str:
            return f"OptimizedModule({self._orig_mod!r})"

    return OptimizedModule


_OPTIMIZED: list = []


def __getattr__(name: str) -> Any:
    if name == "OptimizedModule":
        if not _OPTIMIZED:
            _OPTIMIZED.append(_optimized_module_class())
        return _OPTIMIZED[0]
    raise AttributeError(f"module 'chainrule.compiler' has no attribute {name!r}")


def compile(
    model: Any = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: str | None = "inductor",
    mode: str | None = None,
    options: dict | None = None,
    name: str | None = None,
    disable: bool = False,
    recompile_limit: int | None = None,
) -> Any:
    """torch.compile: trace ``model`` (a function or a Module) on its first call, replay the
    kernels it ran on later calls (see ``chainrule.compiler``). ``dynamic`` is accepted;
    every new shape is traced anew (as ``dynamic=False``)."""
    if model is None:
        return functools.partial(
            compile, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
            options=options, name=name, disable=disable, recompile_limit=recompile_limit,
        )  # fmt: skip
    if mode is not None and options is not None:
        raise RuntimeError(
            "Either mode or options can be specified, but both can't be specified at the same time."
        )
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    backend = "inductor" if backend is None else backend
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise InvalidBackend(backend if isinstance(backend, str) else repr(backend))
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    from chainrule.nn.module import Module

    if isinstance(model, Module):
        compiled = CompiledFunction(
            model.__call__, fullgraph=fullgraph, backend=backend,
            recompile_limit=recompile_limit, name=name or type(model).__name__,
        )  # fmt: skip
        return __getattr__("OptimizedModule")(model, compiled)
    return CompiledFunction(
        model, fullgraph=fullgraph, backend=backend, recompile_limit=recompile_limit, name=name
    )

"""The tracer: one eager run of a compiled function, watched, becomes a replayable program.

The traced call *is* an eager call (its results are the eager results); the core reports
to the tracer as it goes (``chainrule._trace``): every kernel ``Op.apply`` ran (forward
ops and the ops inside backward rules alike), the seeds of each backward, each leaf
gradient accumulation, each optimizer ``step``/``zero_grad`` and module ``zero_grad``
(recorded whole: they are NumPy code on the parameters, no op dispatch), each
``Module.__call__`` (its training flag becomes a guard), each ``t.grad = v`` of an
argument or a captured tensor (an effect: the replay assigns again).

Every array a kernel reads must have a known origin: a function argument, a tensor that
existed before the call (a parameter, a closure's tensor: "captured", read afresh at each
replay), an earlier kernel's output, an array that an earlier kernel's node computed in its
forward (a mask a rule reads), a leaf's ``.grad``, or a backward seed. Anything else (a
creation function called inside, library code computing an array from values outside an
op, an in-place write, ``.item()``, printing, a tensor hook, ``create_graph``) ends the
trace: the call goes on eagerly, and the reason is logged (``CHAINRULE_LOGS=compile``).
"""

from __future__ import annotations

import builtins
import gc
import threading
import weakref
from typing import Any

import numpy as np

from chainrule import _engine
from chainrule._tensor import Tensor
from chainrule._trace import state as trace
from chainrule.graph import grad_mode
from chainrule.ops.op import forward_ad

__all__ = ["Tracer", "KERNEL", "EFFECT"]

KERNEL, EFFECT = 0, 1

# Tensor methods through which values leave the graph as Python objects (torch.compile's
# graph breaks): calling one while tracing ends the trace
_LEAKS = {
    "item": "Tensor.item() (a value read into Python)",
    "tolist": "Tensor.tolist() (values read into Python)",
    "numpy": "Tensor.numpy() (values handed to NumPy)",
    "__array__": "a tensor converted to a NumPy array",
    "__bool__": "data-dependent Python control flow (bool of a tensor)",
    "__float__": "float() of a tensor (a value read into Python)",
    "__int__": "int() of a tensor (a value read into Python)",
    "__index__": "a tensor used as a Python index",
    "__complex__": "complex() of a tensor",
    "__repr__": "printing a tensor",
    "__format__": "formatting a tensor",
    "register_hook": "Tensor.register_hook inside the compiled function",
    "retain_grad": "Tensor.retain_grad inside the compiled function",
    "requires_grad_": "Tensor.requires_grad_ inside the compiled function",
    "detach_": "Tensor.detach_ inside the compiled function",
}
_SETTERS = {
    "data": "assigning Tensor.data",
    "requires_grad": "assigning Tensor.requires_grad",
}


class Tracer:
    """Watches one eager call (see the module docstring); ``failed`` says why it could not
    be captured, else ``code``/``outputs`` describe the program."""

    def __init__(self, flat: list) -> None:
        self.thread = threading.get_ident()
        self.failed: str | None = None
        self.inside = 0  # depth of recorded effects being run (their insides are not traced)
        self.result: Any = None  # the result of the last recorded effect
        self.code: list[tuple] = []
        self.nslots = 0
        self.known: dict[int, tuple] = {}  # id(array) -> its source
        self.keep: list = []  # every array and tensor looked at stays alive: ids stay unique
        self.captured: dict[int, Tensor] = {}
        self.modules: dict[int, Any] = {}
        self.attr_nodes: set[int] = set()  # kernels whose node a later kernel reads from
        self.meta: dict[int, tuple] = {}  # kernel -> its result's and inputs' layouts (_fuse)
        self.made: list = []  # weak references to the tensors the kernels made (escapes)
        self.aot = False  # recording the backward of a result's live graph
        # id(a tensor assigned to a .grad) -> (it, the tensor whose .grad, that one's source)
        self.grads_set: dict[int, tuple] = {}
        self.argobj = {}
        for j, x in enumerate(flat):
            if isinstance(x, Tensor):
                self.argobj.setdefault(id(x), j)
                self.known.setdefault(id(x._data), ("arg", j))
        self.keep.append(flat)
        # the tensors that exist before the call: what a kernel may read as "captured"
        self.pre: dict[int, Tensor] = {}
        self.pre_obj: dict[int, Tensor] = {}
        for o in gc.get_objects():
            if issubclass(type(o), Tensor):  # (not isinstance: no __class__ lookups)
                self.pre_obj[id(o)] = o
                self.pre.setdefault(id(o._data), o)
        self.keep.append([t._data for t in self.pre.values()])

    # ------------------------------------------------------------------ state

    def fail(self, reason: str) -> None:
        """Stop tracing: the call goes on eagerly; ``reason`` is what the log says."""
        if self.failed is None:
            self.failed = reason
        if trace.tracer is self:
            trace.tracer = None

    def _ours(self) -> bool:
        return not self.inside and threading.get_ident() == self.thread

    def source(self, a: Any, where: str) -> tuple | None:
        if type(a) is not np.ndarray:
            if isinstance(a, Tensor):
                self.fail(f"a tensor passed as a parameter of {where}")
                return None
            if isinstance(a, tuple | list) and any(isinstance(x, np.ndarray | Tensor) for x in a):
                parts = [self.source(x, where) for x in a]
                return None if None in parts else ("seq", type(a), tuple(parts))
            return ("const", a)
        s = self.known.get(id(a))
        if s is not None:
            return s
        t = self.pre.get(id(a))
        if t is not None:
            s = ("cap", t)
            self.known[id(a)] = s
            self.captured[id(t)] = t
            return s
        self.fail(
            f"an array of shape {list(a.shape)} ({a.dtype}) made outside the traced ops "
            f"(a creation function or library code inside the compiled function) reached {where}"
        )
        return None

    def _note_attrs(self, s: tuple) -> None:
        """Keep the replay's node of each kernel whose forward made an array read here."""
        if s[0] == "attr":
            self.attr_nodes.add(s[1])
        elif s[0] == "seq":
            for p in s[2]:
                self._note_attrs(p)

    def tensor_source(self, x: Tensor, where: str) -> tuple | None:
        """Where a tensor *object* handed to a recorded effect comes from."""
        j = self.argobj.get(id(x))
        if j is not None:
            return ("argobj", j)
        if id(x) in self.pre_obj:
            self.captured[id(x)] = x
            return ("capobj", x)
        s = self.known.get(id(x._data))
        if s is None or x.grad_fn is not None or x._requires_grad:
            self.fail(f"a tensor made inside the compiled function was handed to {where}")
            return None
        self._note_attrs(s)  # (a gradient a kernel's node holds: LayerNormGrad's dw)
        return ("wrap", s)

    # ------------------------------------------------------------------ reports from the core

    def kernel(self, cls: type, node: Any, inputs: tuple, arrays: list, params: dict, out: Any,
               t: Tensor) -> None:  # fmt: skip
        if not self._ours():
            return
        name = cls.__name__
        if forward_ad.level:
            self.fail(f"forward-mode AD ({name} inside a dual level)")
            return
        if t._data is not out:
            self.fail(f"{name}: a read-only view made writable")
            return
        srcs = []
        for x, a in zip(inputs, arrays):
            if type(x) is np.ndarray and not x.ndim and id(x) not in self.known:
                srcs.append(("const", x))  # a number made an array by promotion (binary)
                continue
            s = self.source(a, name)
            if s is None:
                return
            srcs.append(s)
        if params:
            ps = {}
            for k, v in params.items():
                s = self.source(v, name)
                if s is None:
                    return
                ps[k] = s
            psrc = None if all(s[0] == "const" for s in ps.values()) else ps
        else:
            psrc = None
        for s in srcs if psrc is None else [*srcs, *psrc.values()]:
            self._note_attrs(s)
        k = self.nslots
        self.nslots += 1
        self.code.append((KERNEL, cls, params, tuple(srcs), psrc, grad_mode.enabled, k))
        self.made.append(weakref.ref(t))
        self.meta[k] = (
            out.shape, out.dtype, out.strides,
            tuple(_describe(a) for a in arrays),
        )  # fmt: skip
        self.known[id(out)] = ("reg", k)
        self.keep.append(out)
        d = node.__dict__
        if d:
            for attr, v in d.items():
                if type(v) is np.ndarray and id(v) not in self.known:
                    self.known[id(v)] = ("attr", k, attr)
                    self.keep.append(v)

    def backward(self, roots: list, seeds: list, implicit: list, create_graph: bool,
                 inputs: Any, accumulate: bool) -> None:  # fmt: skip
        if not self._ours():
            return
        if create_graph:
            self.fail("backward with create_graph=True")
            return
        if self.aot:  # the compiler's own backward of a result's live graph
            return
        if not accumulate:
            self.fail("autograd.grad inside the compiled function")
            return
        if inputs is not None:
            self.fail("backward(inputs=...) inside the compiled function")
            return
        for v in _engine.reachable(roots):
            if isinstance(v, Tensor):
                if getattr(v, "_hooks", None) or getattr(v, "_post_hooks", None):
                    self.fail("a tensor hook on a leaf of the graph")
                    return
            elif v._hooks or v._prehooks or v._node_hooks or v._retained is not None:
                self.fail(f"a hook or retain_grad on {v.name()}")
                return
        for g, made in zip(seeds, implicit):
            a = g._data
            if made:  # the ones run_backward made for a scalar output: a constant
                self.known[id(a)] = ("const", a)
                self.keep.append(a)
            elif self.source(a, "backward's gradient") is None:
                return

    def effect(self, fn: Any, *args: Any, **kwargs: Any) -> bool:
        """A call recorded whole (replayed by calling ``fn`` again): returns True after
        running it (the caller returns ``self.result``), False if it is not recorded (inside
        another effect, another thread) and the caller should just run."""
        if not self._ours():
            return False
        where = getattr(fn, "__qualname__", repr(fn))
        srcs = []
        for x in args:
            s = self.tensor_source(x, where) if isinstance(x, Tensor) else ("const", x)
            if s is None:
                return False
            srcs.append(s)
        if kwargs.get("closure") is not None or (len(args) > 1 and callable(args[1])):
            self.fail(f"{where} with a closure")
            return False
        self.code.append((EFFECT, fn, tuple(srcs), kwargs))
        self.inside += 1
        try:
            self.result = fn(*args, **kwargs)
        finally:
            self.inside -= 1
        if fn is _engine._accumulate:  # the leaf's .grad: readable by later kernels
            g = getattr(args[0], "_grad", None)
            if g is not None:
                self.known[id(g._data)] = ("grad", srcs[0])
                self.keep.append(g._data)
        return True

    def set_grad(self, fset: Any, t: Tensor, value: Any) -> bool:
        """``t.grad = value`` (None, or a tensor with a known origin) on an argument or a
        tensor from before the call: an effect the replay performs again (torch.compile
        replays it as a side effect too). Returns False when not recorded (the caller just
        assigns)."""
        if not self._ours() or self.failed is not None:
            return False
        owner = self.tensor_source(t, "a Tensor.grad assignment")
        if owner is None:
            return False
        if owner[0] == "wrap":
            self.fail("assigning Tensor.grad of a tensor made inside the compiled function")
            return False
        if value is not None and not isinstance(value, Tensor):
            fset(t, value)  # torch's TypeError
        if not self.effect(fset, t, value):
            return False
        if isinstance(value, Tensor):
            self.grads_set[id(value)] = (value, t, owner)
        return True

    def constant(self, a: np.ndarray) -> None:
        """An array a creation function made from its arguments alone (``arange(T)``,
        ``zeros(n)``): the same values at every replay, so a constant of the program (a
        result built from it is copied, and an in-place write into it ends the trace)."""
        if self._ours():
            self.known[id(a)] = ("const", a)
            self.keep.append(a)

    def write(self, t: Tensor) -> None:
        if self._ours():
            self.fail(f"an in-place write into a tensor of shape {list(t._data.shape)}")

    def module(self, m: Any) -> None:
        if not self._ours() or id(m) in self.modules:
            return
        if m._forward_hooks or m._forward_pre_hooks:
            self.fail(f"{type(m).__name__} has forward hooks")
            return
        own = tuple(
            (d, name, v)
            for d in (m._parameters, m._buffers)
            for name, v in d.items()
        )  # fmt: skip
        self.modules[id(m)] = (m, m.training, own)

    def escaped(self, outputs: list) -> None:
        """Fail if a tensor a kernel made outlives the call other than as a result (or
        saved by a result's graph): a side effect (``cache.append(y)``, ``obj.y = y``) that
        a replay would not repeat."""
        held = list(outputs)
        for v in _engine.reachable(outputs):
            if not isinstance(v, Tensor):
                held += [x for x in (v.inputs or ()) + (v._saved_ix or ()) if x is not None]
        held += [v for v, _, _ in self.grads_set.values()]  # (the replay assigns its own)
        allowed = set()
        for x in held:
            while x is not None and id(x) not in allowed:  # a view keeps its base alive
                allowed.add(id(x))
                x = getattr(x, "_view_base", None)
        for r in self.made:
            t = r()
            if t is not None and id(t) not in allowed:
                self.fail(
                    f"a tensor of shape {list(t._data.shape)} made inside is kept after the "
                    "call (a side effect a replay would not repeat)"
                )
                return

    def leak(self, what: str) -> None:
        if self._ours():
            self.fail(what)


def _describe(a: Any) -> tuple:
    """A kernel input as the fuser needs to know it: an array's shape, dtype and strides,
    else the Python value itself."""
    if type(a) is np.ndarray:
        return ("array", a.shape, a.dtype, a.strides)
    return ("value", a)


class patched:
    """While tracing: the ways values leave the graph (``.item()``, ``print``, hooks ...)
    report to the tracer before doing what they do."""

    def __init__(self, tracer: Tracer) -> None:
        self.tracer = tracer
        self.saved: list[tuple] = []

    def __enter__(self) -> None:
        for name, what in _LEAKS.items():
            self._wrap_method(name, what)
        for name, what in _SETTERS.items():
            prop = Tensor.__dict__[name]
            self.saved.append((Tensor, name, prop))
            setattr(Tensor, name, self._wrap_setter(prop, what))
        prop = Tensor.__dict__["grad"]
        self.saved.append((Tensor, "grad", prop))
        setattr(Tensor, "grad", self._grad_setter(prop))  # noqa: B010 (a property)
        self.saved.append((builtins, "print", builtins.print))
        builtins.print = self._wrap(builtins.print, "print() inside the compiled function")

    def __exit__(self, *exc: object) -> None:
        for owner, name, old in reversed(self.saved):
            if old is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, old)

    def _wrap(self, fn: Any, what: str) -> Any:
        tracer = self.tracer

        def reporting(*args: Any, **kwargs: Any) -> Any:
            tracer.leak(what)
            return fn(*args, **kwargs)

        return reporting

    def _wrap_method(self, name: str, what: str) -> None:
        old = Tensor.__dict__.get(name)
        if old is None:
            for klass in Tensor.__mro__[1:]:
                if name in klass.__dict__:
                    old = klass.__dict__[name]
                    break
        if old is None:
            return
        self.saved.append((Tensor, name, Tensor.__dict__.get(name, _MISSING)))
        setattr(Tensor, name, self._wrap(old, what))

    def _wrap_setter(self, prop: property, what: str) -> property:
        tracer = self.tracer
        fset = prop.fset

        def setter(obj: Any, value: Any) -> None:
            tracer.leak(what)
            fset(obj, value)

        return property(prop.fget, setter, prop.fdel, prop.__doc__)

    def _grad_setter(self, prop: property) -> property:
        tracer = self.tracer
        fset = prop.fset

        def setter(obj: Any, value: Any) -> None:
            if not tracer.set_grad(fset, obj, value):
                fset(obj, value)

        return property(prop.fget, setter, prop.fdel, prop.__doc__)


_MISSING = object()

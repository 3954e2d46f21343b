"""A traced call as a program: the kernels it ran, replayed on arrays with no op dispatch.

A kernel is replayed as ``Op.apply`` ran it, minus everything around the math: a blank node
of the op's class, its ``forward`` on the input arrays with the recorded parameters, the
result laid out by the class's rule (as ``Op.apply``). No input checks, no promotion, no
graph, no tensors: what is left is the NumPy the eager call ran, in the same order on the
same arrays, so the results are the eager results bit for bit. Effects (leaf gradient
accumulation, an optimizer's step, ``zero_grad``) are replayed by calling the recorded
function again with the replay's tensors, so ``.grad`` and optimizer state change exactly
as eagerly. Runs of elementwise kernels may be replaced by one generated C loop
(``_fuse``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import _engine
from chainrule._fp import ignore_fp_errors, restore_fp_errors
from chainrule._layout import elementwise as elementwise_layout
from chainrule._layout import to_contiguous
from chainrule._tensor import Tensor, _make
from chainrule.compiler._tracer import EFFECT, KERNEL
from chainrule.graph import grad_mode
from chainrule.ops.op import Op, _modified_message

__all__ = ["Program", "CompiledFunctionBackward", "FUSED"]

FUSED = 2  # an instruction: a generated C loop standing for a run of elementwise kernels
FREE = 3  # an instruction: drop registers (and kernels' nodes) nothing later reads
TAKE = 4  # an instruction: a leaf's accumulation of a register nothing later reads

# source tags (see _tracer.Tracer.source): where an array or a tensor comes from at replay
REG, ARG, CAP, CONST, ATTR, GRAD, SEQ, ARGOBJ, CAPOBJ, WRAP, GIN = range(11)
_TAGS = {
    "reg": REG, "arg": ARG, "cap": CAP, "const": CONST, "attr": ATTR, "grad": GRAD,
    "seq": SEQ, "argobj": ARGOBJ, "capobj": CAPOBJ, "wrap": WRAP, "gin": GIN,
}  # fmt: skip

_new = object.__new__


def encode(s: tuple) -> tuple:
    """A tracer source with an integer tag (nested sources encoded too)."""
    tag = _TAGS[s[0]]
    if tag == SEQ:
        return (SEQ, s[1], tuple(encode(p) for p in s[2]))
    if tag in (GRAD, WRAP):
        return (tag, encode(s[1]))
    return (tag, *s[1:])


def _encode_ins(ins: tuple, meta: dict | None = None) -> tuple:
    """An instruction with its sources encoded; a kernel's gets the strides its result had
    when traced (``meta``; None if unknown): a replay's result with those strides needs no
    layout step (the same NumPy code on arrays of the same layouts gives the same layouts,
    and ``Op.apply``'s layout step leaves a result already in its layout as it is)."""
    if ins[0] == KERNEL:
        _, cls, params, srcs, psrc, mode, k = ins
        ps = None if psrc is None else {n: encode(s) for n, s in psrc.items()}
        strides = meta[k][2] if meta is not None and k in meta else None
        return (KERNEL, cls, params, tuple(encode(s) for s in srcs), ps, mode, k, strides)
    _, fn, srcs, kwargs = ins
    return (EFFECT, fn, tuple(encode(s) for s in srcs), kwargs)


class CompiledFunctionBackward(Op):
    """The history of a tensor a replay returns whose graph the traced call already ran
    backward through (and so freed): a second backward raises torch's error, as eagerly."""

    torch_name = "CompiledFunctionBackward"

    def backward(self, grad: Tensor) -> None:  # pragma: no cover - never reached: freed
        raise RuntimeError("CompiledFunctionBackward has no saved graph")


def _freed_history() -> CompiledFunctionBackward:
    node = _new(CompiledFunctionBackward)
    node._edges = ()
    node._shapes = None
    node.inputs = node.out_data = None
    node._freed = True
    return node


class Program:
    """The replayable form of one traced call (see the module docstring)."""

    def __init__(self, code: list, nslots: int, attr_nodes: set, outputs: Any,
                 meta: dict | None = None) -> None:  # fmt: skip
        self.nslots = nslots
        self.meta = meta or {}
        self.scratch = 0  # bytes of the fused loops' shared buffer (see _fuse)
        self.copied: set = set()  # registers that are views of it
        self.attr_nodes = attr_nodes
        self.outputs = outputs
        self.code: list[tuple] = [_encode_ins(ins, self.meta) for ins in code]
        self.live: Live | None = None  # the backward of a result with a live graph
        self.kernels = sum(1 for ins in self.code if ins[0] == KERNEL)

    def add_frees(self) -> None:
        """Drop each register (and each node a later kernel reads an array of) right after
        its last reader, as eager code drops a temporary or backward frees a saved value:
        a replay then holds no more memory than the eager call, and the allocator reuses
        what it freed instead of faulting in fresh pages every call. What the results and
        a live graph's backward read is kept."""
        keep: set = set()
        _outputs_regs(self.outputs, keep)
        if self.live is not None:
            keep |= self.live.reads
        last_reg: dict[int, int] = {}
        last_node: dict[int, int] = {}
        for i, ins in enumerate(self.code):
            regs: set = set()
            nodes: set = set()
            kind = ins[0]
            if kind == KERNEL:
                regs.add(ins[6])  # written here: freed here if nothing reads it
                for src in (*ins[3], *(ins[4] or {}).values()):
                    _collect_all(src, regs, nodes)
            elif kind == FUSED:
                regs.update(ins[4])
            else:
                for src in ins[2]:
                    _collect_all(src, regs, nodes)
            for r in regs:
                last_reg[r] = i
            for n in nodes:
                last_node[n] = i
        if self.live is not None:  # nodes the live backward reads arrays of stay
            for ins in self.live.code:
                srcs = (*ins[3], *(ins[4] or {}).values()) if ins[0] == KERNEL else ins[2]
                nodes = set()
                for src in srcs:
                    _collect_all(src, set(), nodes)
                for n in nodes:
                    last_node.pop(n, None)
        at: dict[int, tuple[list, list]] = {}
        for r, i in last_reg.items():
            if r not in keep:
                at.setdefault(i, ([], []))[0].append(r)
        for n, i in last_node.items():
            at.setdefault(i, ([], []))[1].append(n)
        code = []
        for i, ins in enumerate(self.code):
            if i in at:
                regs_, nodes_ = at[i]
                k = _taken(ins)
                if k is not None and k in regs_:  # the gradient's last reader: TAKE
                    ins = (TAKE, ins[2][0], k)
                    regs_ = [r for r in regs_ if r != k]
                code.append(ins)
                if regs_ or nodes_:
                    code.append((FREE, tuple(regs_), tuple(nodes_)))
            else:
                code.append(ins)
        self.code = code

    def run(self, flat: list) -> Any:
        frame = _Frame(self.nslots, flat, self.scratch)
        _exec(self.code, frame, self.attr_nodes)
        out = _build(self.outputs, frame, self)
        if self.live is not None:  # the result's node keeps only what its backward reads
            keep = self.live.reads
            regs = frame.regs
            for k in range(len(regs)):
                if k not in keep:
                    regs[k] = None
            frame.flat = [x if i in self.live.args else None for i, x in enumerate(flat)]
        return out


def _taken(ins: tuple) -> int | None:
    """The register of a leaf accumulation's gradient (``_accumulate(t, g, False)``, g a
    kernel's result), or None for any other instruction."""
    if ins[0] != EFFECT or ins[1] is not _engine._accumulate or ins[3]:
        return None
    srcs = ins[2]
    if len(srcs) != 3 or srcs[2] != (CONST, False):
        return None
    g = srcs[1]
    if g[0] != WRAP or g[1][0] != REG:
        return None
    return g[1][1]


class _Frame:
    """One replay's values: the registers, the nodes whose arrays a later kernel reads,
    the arguments, the incoming gradient of a compiled graph's backward, the scratch."""

    __slots__ = ("regs", "nodes", "flat", "gin", "scratch")

    def __init__(self, nslots: int, flat: list, scratch: int) -> None:
        self.regs: list = [None] * nslots
        self.nodes: dict[int, Any] = {}
        self.flat = flat
        self.gin: Any = None
        self.scratch = np.empty(scratch, np.uint8) if scratch else None

    def get(self, s: tuple) -> Any:
        tag = s[0]
        if tag == REG:
            return self.regs[s[1]]
        if tag == CAP:
            return s[1]._data
        if tag == CONST:
            return s[1]
        if tag == ARG:
            return self.flat[s[1]]._data
        if tag == ATTR:
            return self.nodes[s[1]].__dict__[s[2]]
        if tag == GRAD:
            return self.obj(s[1])._grad._data
        if tag == SEQ:
            return s[1](self.get(p) for p in s[2])
        if tag == GIN:
            return self.gin
        return self.obj(s)

    def obj(self, s: tuple) -> Any:
        tag = s[0]
        if tag == ARGOBJ:
            return self.flat[s[1]]
        if tag == CAPOBJ:
            return s[1]
        if tag == WRAP:
            return _make(self.get(s[1]))
        if tag == CONST:
            return s[1]
        return self.get(s)


def _exec(code: list, frame: _Frame, attr_nodes: set) -> None:
    """Run instructions on ``frame`` (see the module docstring)."""
    regs, nodes, get, obj = frame.regs, frame.nodes, frame.get, frame.obj
    prev_mode = grad_mode.enabled
    mode = prev_mode
    token = ignore_fp_errors()
    try:
        for ins in code:
            kind = ins[0]
            if kind == KERNEL:
                _, cls, params, srcs, psrc, kmode, k, strides = ins
                arrays = [regs[s[1]] if s[0] == REG else get(s) for s in srcs]
                if psrc is not None:
                    params = {n: get(s) for n, s in psrc.items()}
                if kmode is not mode:
                    grad_mode.enabled = mode = kmode
                node = _new(cls)
                out = node.forward(*arrays, **params)
                if type(out) is not np.ndarray:
                    out = np.asarray(out)
                if out.strides != strides:  # (as traced: already laid out)
                    layout = cls.layout  # as Op.apply lays out the result
                    if layout == "contiguous":
                        if not out.flags.c_contiguous:
                            out = to_contiguous(out, arrays)
                    elif layout is not None and (out.ndim > 1 or not out.flags.c_contiguous):
                        out = elementwise_layout(out, arrays)
                regs[k] = out
                if k in attr_nodes:
                    nodes[k] = node
            elif kind == FUSED:
                ins[1](regs, get, frame.scratch)
            elif kind == FREE:
                for r in ins[1]:
                    regs[r] = None
                for n in ins[2]:
                    nodes.pop(n, None)
            elif kind == TAKE:  # the register goes first: then the array may be taken
                a = regs[ins[2]]
                regs[ins[2]] = out = arrays = None  # (the last kernel's result and inputs)
                if mode is not prev_mode:
                    grad_mode.enabled = mode = prev_mode
                restore_fp_errors(token)
                try:
                    _engine._take(obj(ins[1]), a)
                finally:
                    token = ignore_fp_errors()
                del a
            else:
                _, fn, srcs, kwargs = ins
                if mode is not prev_mode:
                    grad_mode.enabled = mode = prev_mode
                restore_fp_errors(token)
                try:
                    fn(*[obj(s) for s in srcs], **kwargs)
                finally:
                    token = ignore_fp_errors()
    finally:
        restore_fp_errors(token)
        grad_mode.enabled = prev_mode


_DOUBLE = "torch.compile with aot_autograd does not currently support double backward"


class CompiledGraph(Op):
    """The history of a replayed result whose graph the compiled call left for later (a
    compiled module's output, backward called by the caller): one node whose rule replays
    the backward kernels recorded at trace time (torch's AOTAutograd), from the gradient
    it receives to the gradient of each leaf the graph reached (its edges)."""

    torch_name = "CompiledFunctionBackward"
    save_inputs = False

    def backward(self, grad: Tensor) -> tuple:
        if grad_mode.enabled:
            raise RuntimeError(_DOUBLE)
        frame, program = self.frame, self.program
        live = program.live
        for t, version in self.versions:  # torch's saved-tensor check on what it read
            if t._version != version:
                raise RuntimeError(_modified_message(t._data, t.grad_fn, t._version, version))
        frame.gin = grad._data if grad._data.dtype == self.out_dtype else (
            grad._data.astype(self.out_dtype)
        )  # fmt: skip
        _exec(live.code, frame, program.attr_nodes)
        return tuple(None if s is None else _make(frame.get(s)) for s in live.grads)

    def _release(self) -> None:
        self.frame = None
        self._freed = True


def _build(spec: Any, frame: _Frame, program: Program) -> Any:
    kind = spec[0]
    if kind == "tensor":
        _, s, history = spec
        if s[0] in (REG, CONST):
            a = frame.get(s)
            fresh = s[0] == REG and s[1] not in program.copied
            t = _make(a if fresh else np.array(a, copy=True))
            if history == "live":
                t.grad_fn = _live_history(frame, program, a.dtype)
                t._requires_grad = True
            elif history:
                t.grad_fn = _freed_history()
                t._requires_grad = True
            return t
        if s[0] == GRAD:
            return frame.obj(s[1])._grad
        return frame.obj(s)
    if kind == "const":
        return spec[1]
    if kind == "seq":
        items = [_build(x, frame, program) for x in spec[2]]
        return spec[1](items) if spec[1] in (list, tuple) else spec[1](*items)
    if kind == "dict":
        return {k: _build(v, frame, program) for k, v in spec[1]}
    raise AssertionError(kind)


def _live_history(frame: _Frame, program: Program, dtype: Any) -> CompiledGraph:
    live = program.live
    node = _new(CompiledGraph)
    node._edges = tuple(frame.obj(s) for s in live.leaves)
    node._shapes = None
    node.inputs = node.out_data = None
    node.frame, node.program, node.out_dtype = frame, program, dtype
    node.versions = tuple((t, t._version) for t in live.read)
    return node


class Live:
    """The backward of a compiled call's result with a live graph: its kernels (reading
    the forward's registers and the incoming gradient), the leaves it reaches (as
    argument/captured sources) and where each leaf's gradient is after it runs."""

    def __init__(self, code: list, leaves: list, grads: list, read: list) -> None:
        self.code = [_encode_ins(ins) for ins in code]
        self.leaves = tuple(encode(s) for s in leaves)
        self.grads = tuple(None if s is None else encode(s) for s in grads)
        self.read = tuple(read)  # captured tensors the backward reads (version-checked)
        self.reads: set = set()  # registers of the forward it reads
        self.args: set = set()  # arguments it reads
        for ins in self.code:
            srcs = [*ins[3], *(ins[4] or {}).values()] if ins[0] == KERNEL else ins[2]
            for src in srcs:
                _collect(src, self.reads, self.args)
        for src in self.leaves:
            _collect(src, self.reads, self.args)


def _collect(s: tuple, regs: set, args: set) -> None:
    tag = s[0]
    if tag == REG:
        regs.add(s[1])
    elif tag in (ARG, ARGOBJ):
        args.add(s[1])
    elif tag == SEQ:
        for p in s[2]:
            _collect(p, regs, args)
    elif tag in (GRAD, WRAP):
        _collect(s[1], regs, args)


def _collect_all(s: tuple, regs: set, nodes: set) -> None:
    """The registers and the nodes (ATTR) a source reads."""
    tag = s[0]
    if tag == REG:
        regs.add(s[1])
    elif tag == ATTR:
        nodes.add(s[1])
    elif tag == SEQ:
        for p in s[2]:
            _collect_all(p, regs, nodes)
    elif tag in (GRAD, WRAP):
        _collect_all(s[1], regs, nodes)


def _outputs_regs(spec: Any, out: set) -> None:
    """The registers the results are built from."""
    if spec is None:
        return
    if spec[0] == "tensor":
        _collect_all(spec[1], out, set())
    elif spec[0] == "seq":
        for x in spec[2]:
            _outputs_regs(x, out)
    elif spec[0] == "dict":
        for _, x in spec[1]:
            _outputs_regs(x, out)

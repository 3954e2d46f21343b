"""Fusion: a run of elementwise kernels in a program becomes one generated C loop.

Each element goes through the whole run in registers (``v = x + a; v = v * m; v =
tanh(v) ...``) instead of one NumPy pass, one temporary array and one Python call per op.
Values that something outside the run reads are stored in one scratch buffer shared by the
program's loops (a later loop reads them there; Python gets a view); the rest never leave
the loop. A run is made of consecutive kernels of one shape and one float dtype, whose
inputs are arrays of that shape (C-contiguous), arrays broadcast along leading dims
(element ``i % size``: a bias, a causal mask), single elements (a scalar argument) or
numbers (literals); ``masked_fill`` with a number is ``mask ? value : x`` (its boolean
mask read as bytes). A few kernels between two members that read none of the run's values
(the mask's comparison) are moved before the loop; reductions, effects and anything else
end a run.

The C source is compiled once (``cc -O2 -ffp-contract=off``: no fused multiply-add, no
fast-math, so every ``+ - * /`` rounds exactly as NumPy's) and cached on disk under a name
derived from the source, so the same graph never compiles twice (``CHAINRULE_CACHE_DIR``,
else ``$XDG_CACHE_HOME/chainrule`` or ``~/.cache/chainrule``); it is loaded with cffi. With
no cffi or no C compiler (or ``CHAINRULE_FUSE=0``) nothing is fused and the program replays
its kernels one by one.

Exactness: ``+ - * /`` and negation are IEEE operations in C as in NumPy, relu is
NumPy's ``maximum(x, 0)`` written out (a nan passes with its bits, -0 becomes +0) and
masked_fill a selection of bits (a nan fill value is left to NumPy), so a
fused run of them is bit-identical to eager (but for which of two nan operands a product
or sum passes on: the C compiler may commute them). ``tanh`` calls the C library's
``tanh``/``tanhf``, which may differ from NumPy's own SIMD tanh by an ulp or so: a run
containing tanh agrees with eager to within float tolerance (``rtol`` 1e-6 in float32,
1e-15 in float64, the tolerance torch's own compiled kernels are held to), not bit for
bit. exp, sigmoid and gelu are not fused: NumPy's SIMD exp and the native kernels' libmvec
calls round differently from the C library's scalar functions. Pass ``backend="eager"`` (or set
``chainrule.compiler.config.fuse = False``) for a bit-identical replay.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Any

import numpy as np

from chainrule.compiler._log import say
from chainrule.compiler._tracer import EFFECT, KERNEL

__all__ = ["fuse", "cache_dir", "compiler_available"]

_CFLAGS = ["-O2", "-shared", "-fPIC", "-ffp-contract=off", "-fno-fast-math", "-std=c99"]
MIN_RUN = 2  # kernels: a shorter run is left to NumPy
MAX_LIFT = 4  # independent kernels between a run's members moved before it


def _ops() -> tuple[dict, dict, set, type]:
    from chainrule.ops.elementwise.arithmetic import Add, Div, Mul, Rsub, Sub
    from chainrule.ops.elementwise.unary import Neg, Relu, Tanh
    from chainrule.ops.index.mask import MaskedFill

    binary = {Add: "+", Sub: "-", Rsub: "-", Mul: "*", Div: "/"}
    unary = {Neg: "neg", Tanh: "tanh", Relu: "relu"}
    exact = {Add, Sub, Rsub, Mul, Div, Neg, Relu, MaskedFill}
    return binary, unary, exact, MaskedFill


def cache_dir() -> pathlib.Path:
    d = os.environ.get("CHAINRULE_CACHE_DIR")
    if d:
        return pathlib.Path(d)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return pathlib.Path(base) / "chainrule" / "fused"


def _cc() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")


def compiler_available() -> bool:
    try:
        import cffi  # noqa: F401
    except ImportError:
        return False
    return _cc() is not None and os.environ.get("CHAINRULE_FUSE", "1") != "0"


# ---------------------------------------------------------------------------- planning


def _contiguous(shape: tuple, strides: tuple, itemsize: int) -> bool:
    step = itemsize
    for n, st in zip(reversed(shape), reversed(strides)):
        if n != 1 and st != step:
            return False
        step *= n
    return True


def _tail(ashape: tuple, strides: tuple, itemsize: int, shape: tuple) -> bool:
    """Is an array of ``ashape`` broadcast to ``shape`` read at flat index ``i % size``
    (leading 1s, then the loop's own trailing dims; C-contiguous)?"""
    lead = len(shape) - len(ashape)
    if lead < 0 or not ashape:
        return False
    d = 0
    while d < len(ashape) and ashape[d] == 1:
        d += 1
    if d == len(ashape) or tuple(ashape[d:]) != tuple(shape[lead + d :]):
        return False
    return _contiguous(ashape, strides, itemsize)


def _kind(desc: tuple, src: tuple, shape: tuple, dt: np.dtype) -> str | None:
    """How a fused loop reads one kernel input: "vec" (an array of the loop's shape),
    "tail" (an array broadcast along leading dims: element ``i % size``), "one" (a single
    element), "lit" (a number known now), or None (it cannot)."""
    if desc[0] == "value":
        v = desc[1]
        if type(v) is int and abs(v) < 2**24:
            return "lit"
        if type(v) is float or (isinstance(v, np.floating) and np.dtype(type(v)) == dt):
            return None if np.isnan(v) else "lit"  # (a nan's bits: left to NumPy)
        return None
    _, ashape, adt, strides = desc
    if adt != dt:
        return None
    size = int(np.prod(ashape)) if ashape else 1
    if size == 1 or (size and all(st == 0 for st in strides)):
        if len(ashape) > len(shape) or np.broadcast_shapes(ashape, shape) != shape:
            return None
        return "lit" if src[0] == 3 else "one"  # a constant array: its value, now
    if src[0] not in (0, 1, 2, 3):  # reg, arg, captured, const
        return None
    if ashape == shape and _contiguous(ashape, strides, adt.itemsize):
        return "vec"
    return "tail" if _tail(ashape, strides, adt.itemsize, shape) else None


def _mask_kind(s: tuple, meta: dict, shape: tuple) -> str | None:
    """How a fused loop reads masked_fill's boolean mask ("vec" or "tail"), if it can."""
    if s[0] == 0:  # a register: its layout as traced
        if s[1] not in meta:
            return None
        mshape, mdt, mstrides = meta[s[1]][:3]
    elif s[0] in (2, 3):  # captured (layout guarded), constant
        a = s[1]._data if s[0] == 2 else s[1]
        if type(a) is not np.ndarray:
            return None
        mshape, mdt, mstrides = a.shape, a.dtype, a.strides
    else:
        return None
    if mdt != np.bool_:
        return None
    if mshape == shape and _contiguous(mshape, mstrides, 1):
        return "vec"
    return "tail" if _tail(mshape, mstrides, 1, shape) else None


def _eligible(ins: tuple, meta: dict, attr_nodes: set, ops: tuple) -> tuple | None:
    binary, unary, _, masked = ops
    if ins[0] != KERNEL:
        return None
    _, cls, params, srcs, psrc, _, k = ins[:7]
    if cls is masked:  # masked_fill with a number: the mask is a parameter
        if psrc is None or set(psrc) != {"mask", "tensor_value"} or params["tensor_value"]:
            return None
    elif (cls not in binary and cls not in unary) or psrc is not None or params:
        return None
    if k in attr_nodes or k not in meta:
        return None
    shape, dt, strides, descs = meta[k]
    if (
        dt not in (np.float32, np.float64)
        or not shape
        or not _contiguous(shape, strides, 1 * dt.itemsize)
    ):
        return None
    kinds = tuple(_kind(d, s, shape, dt) for d, s in zip(descs, srcs))
    if cls is masked:
        if kinds[1] != "lit":
            return None
        kinds += (_mask_kind(psrc["mask"], meta, shape),)
    if None in kinds:
        return None
    return (shape, dt, kinds)


def _reads_any(ins: tuple, regs: set) -> bool:
    found: set = set()
    for s in (*ins[3], *(ins[4] or {}).values()):
        regs_read(s, found.add)
    return not found.isdisjoint(regs)


def regs_read(s: tuple, add: Any) -> None:
    """``add(r)`` for each register ``r`` the source ``s`` reads (once per read)."""
    tag = s[0]
    if tag == 0:  # REG
        add(s[1])
    elif tag == 6:  # SEQ
        for p in s[2]:
            regs_read(p, add)
    elif tag in (5, 9):  # GRAD, WRAP
        regs_read(s[1], add)


def _outputs_read(spec: Any, out: set) -> None:
    if spec is None:
        return
    if spec[0] == "tensor":
        regs_read(spec[1], out.add)
    elif spec[0] == "seq":
        for x in spec[2]:
            _outputs_read(x, out)
    elif spec[0] == "dict":
        for _, x in spec[1]:
            _outputs_read(x, out)


def fuse(program: Any) -> int:
    """Replace runs of elementwise kernels in ``program`` by generated C loops; returns how
    many runs were fused (0 with no compiler, or if compiling failed: the program is left
    as it was, and replays its kernels one by one)."""
    if not compiler_available():
        return 0
    try:
        return _fuse(program)
    except (OSError, subprocess.CalledProcessError) as e:
        say("fusion skipped: %s", getattr(e, "stderr", None) or e)
        return 0


def _fuse(program: Any) -> int:
    ops = _ops()
    code = program.code
    plan = [_eligible(ins, program.meta, program.attr_nodes, ops) for ins in code]
    runs: list[list[int]] = []
    hoisted: dict[int, list[int]] = {}  # a run's first position -> kernels moved before it
    cur: list[int] = []
    made: set = set()  # the registers the current run writes
    lift: list[int] = []  # kernels between its members that read none of them
    pending: list[int] = []
    for i, p in enumerate(plan):
        if p is not None and cur and plan[cur[0]][:2] == p[:2]:
            cur.append(i)
            made.add(code[i][6])
            lift += pending
            pending = []
            continue
        if (
            p is None and cur and len(pending) < MAX_LIFT and code[i][0] == KERNEL
            and not _reads_any(code[i], made)
        ):  # fmt: skip
            pending.append(i)  # (pure, independent of the run: may run before it)
            continue
        if len(cur) >= MIN_RUN:
            runs.append(cur)
            if lift:
                hoisted[cur[0]] = lift
        cur = [i] if p is not None else []
        made = {code[i][6]} if p is not None else set()
        lift, pending = [], []
    if len(cur) >= MIN_RUN:
        runs.append(cur)
        if lift:
            hoisted[cur[0]] = lift
    if not runs:
        return 0
    # who reads each register: instruction positions (and the outputs, as -1)
    readers: dict[int, set] = {}
    for i, ins in enumerate(code):
        regs: set = set()
        if ins[0] == KERNEL:
            for s in ins[3]:
                regs_read(s, regs.add)
            for s in (ins[4] or {}).values():
                regs_read(s, regs.add)
        elif ins[0] == EFFECT:
            for s in ins[2]:
                regs_read(s, regs.add)
        for r in regs:
            readers.setdefault(r, set()).add(i)
    outs: set = set()
    _outputs_read(program.outputs, outs)
    if program.live is not None:  # what a live graph's backward reads (saved values) too:
        outs |= program.live.reads  # stored by the loop, as a result is
    for r in outs:
        readers.setdefault(r, set()).add(-1)
    fused_at = {i: n for n, run in enumerate(runs) for i in run}
    by_pointer: set = set()  # registers a loop reads broadcast (not from the scratch)
    for run in runs:
        for i in run:
            for src, kind in zip(code[i][3], plan[i][2]):
                if src[0] == 0 and kind != "vec":
                    by_pointer.add(src[1])
    slot_of: dict[int, int] = {}  # register -> byte offset in the scratch buffer
    scratch = 0
    replaced: dict[int, tuple] = {}
    exported: set = set()
    for run in runs:
        shape, dt, _ = plan[run[0]]
        members = set(run)
        stores, to_python = [], []
        for i in run:
            k = code[i][6]
            rd = readers.get(k, set())
            if rd - members:
                slot_of[k] = scratch
                scratch += -(-int(np.prod(shape)) * dt.itemsize // 64) * 64
                stores.append(k)
                if k in by_pointer or any(j == -1 or fused_at.get(j) is None for j in rd - members):
                    to_python.append(k)  # (else only later loops read it, in the scratch)
        runner = _build_run(
            code, program.meta, run, plan, slot_of, stores, to_python, shape, dt, ops
        )
        replaced[run[0]] = runner
        exported.update(to_python)
    program.scratch = scratch
    program.copied = exported  # a returned one is copied out of the scratch buffer
    new = []
    dropped = {i for run in runs for i in run[1:]}
    dropped.update(j for lift in hoisted.values() for j in lift)
    for i, ins in enumerate(code):
        if i in replaced:
            new.extend(code[j] for j in hoisted.get(i, ()))
            new.append(replaced[i])
        elif i not in dropped:
            new.append(ins)
    program.code = new
    return len(runs)


# ---------------------------------------------------------------------------- code


def _literal(v: Any, ctype: str) -> str:
    f = float(v)
    if np.isinf(f):
        return f"(({ctype})(-INFINITY))" if f < 0 else f"(({ctype})INFINITY)"
    return f"(({ctype}){f.hex()})"


def _build_run(code: list, meta: dict, run: list, plan: list, slot_of: dict, stores: list,
               to_python: list, shape: tuple, dt: np.dtype, ops: tuple) -> tuple:  # fmt: skip
    from chainrule.compiler._program import FUSED

    binary, unary, _, masked = ops
    ctype = "float" if dt == np.float32 else "double"
    tanh = "tanhf" if ctype == "float" else "tanh"
    size = int(np.prod(shape))
    local: set = set()
    vec_srcs: list = []  # pointer arguments
    vec_index: dict = {}
    one_srcs: list = []  # scalar arguments
    tails: set = set()  # the sizes of the inputs broadcast along leading dims
    body = []

    def operand(s: tuple, kind: str, desc: tuple, ptype: str = ctype) -> str:
        if s[0] == 0 and s[1] in local:
            return f"v{s[1]}"
        if s[0] == 0 and s[1] in slot_of and s[1] not in local and kind == "vec":
            off = slot_of[s[1]]
            return f"(({ctype} *)(S + {off}))[i]"
        if kind == "lit":
            v = desc[1] if desc[0] == "value" else np.asarray(s[1]).reshape(-1)[0]
            return _literal(v, ctype)
        if kind == "one":
            one_srcs.append(s)
            return f"(({ctype})c{len(one_srcs) - 1})"
        key = s if s[0] not in (2, 3) else (s[0], id(s[1]))  # captured, constant: by identity
        if key not in vec_index:
            vec_index[key] = len(vec_srcs)
            n = size if kind == "vec" else _size(s, desc, meta)
            vec_srcs.append((s, ptype, n))
        j = vec_index[key]
        if kind == "vec":
            return f"p{j}[i]"
        tails.add(vec_srcs[j][2])
        return f"p{j}[@{vec_srcs[j][2]}@]"  # (the index: see the loop below)

    for i in run:
        _, cls, _, srcs, psrc, _, k = code[i][:7]
        _, _, kinds = plan[i]
        descs = meta[k][3]
        args = [operand(s, kd, d) for s, kd, d in zip(srcs, kinds, descs)]
        if cls is masked:  # np.where(mask, value, x): the value's bits where the mask holds
            m = operand(psrc["mask"], kinds[2], ("mask",), "unsigned char")
            expr = f"{m} ? {args[1]} : {args[0]}"
        elif cls in binary:
            expr = f"{args[0]} {binary[cls]} {args[1]}"
        elif unary[cls] == "neg":
            expr = f"-{args[0]}"
        elif unary[cls] == "relu":  # np.maximum(x, 0): a nan passes (its bits), -0 gives +0
            a = args[0]
            expr = f"({a} > 0 || {a} != {a}) ? {a} : ({ctype})0"
        else:
            expr = f"{tanh}({args[0]})"
        body.append(f"    {ctype} v{k} = {expr};")
        local.add(k)
        if k in slot_of:
            body.append(f"    (({ctype} *)(S + {slot_of[k]}))[i] = v{k};")
    params = ["char *S"]
    params += [f"const {t} *p{j}" for j, (_, t, _) in enumerate(vec_srcs)]
    params += [f"double c{j}" for j in range(len(one_srcs))]
    sig = ", ".join(params)
    text = "\n".join(body)
    if len(tails) == 1:  # one broadcast size: an inner loop over it (vectorizable)
        n = tails.pop()
        text = text.replace(f"@{n}@", "t")
        loop = (
            f"  for (long o = 0; o < {size}; o += {n}) {{\n"
            f"  for (long t = 0; t < {n}; t++) {{\n    long i = o + t;\n" + text + "\n  }}\n"
        )
    else:
        for n in tails:
            text = text.replace(f"@{n}@", f"i % {n}")
        loop = f"  for (long i = 0; i < {size}; i++) {{\n" + text + "\n  }\n"
    src = f"#include <math.h>\nvoid FNAME({sig}) {{\n" + loop + "}\n"
    digest = hashlib.sha256((src + " ".join(_CFLAGS)).encode()).hexdigest()[:24]
    name = f"cr_fused_{digest}"
    src = src.replace("FNAME", name)
    fn, ffi = _load(name, src, f"void {name}({sig});")
    cptr = f"{ctype}[]"
    nbytes = size * dt.itemsize
    exports = tuple((code_k, slot_of[code_k]) for code_k in to_python)
    from_buffer = ffi.from_buffer

    def run_loop(regs: list, get: Any, scratch: np.ndarray) -> None:
        ptrs = []
        for s, t, n in vec_srcs:
            a = get(s)
            want = np.bool_ if t == "unsigned char" else dt
            if a.dtype != want or a.size != n or not a.flags.c_contiguous:
                raise RuntimeError(  # never silently wrong: the guards should prevent this
                    f"cr.compile: a fused loop's input changed layout ({a.shape}, {a.dtype})"
                )
            ptrs.append(from_buffer("unsigned char[]" if t == "unsigned char" else cptr, a))
        ones = [float(np.asarray(get(s)).reshape(-1)[0]) for s in one_srcs]
        # (a program whose loops store nothing has no scratch: a loop of dead values)
        fn(ffi.NULL if scratch is None else from_buffer("char[]", scratch), *ptrs, *ones)
        for k, off in exports:
            regs[k] = scratch[off : off + nbytes].view(dt).reshape(shape)

    reads: set = set()  # the registers it reads (the program frees them after their last read)
    for s in (*(v[0] for v in vec_srcs), *one_srcs):
        regs_read(s, reads.add)
    return (FUSED, run_loop, len(run), src, tuple(reads))


def _size(s: tuple, desc: tuple, meta: dict) -> int:
    """The number of elements of a broadcast input (a kernel input's or the mask's)."""
    if desc[0] == "array":
        return int(np.prod(desc[1]))
    if s[0] == 0:
        return int(np.prod(meta[s[1]][0]))
    return int((s[1]._data if s[0] == 2 else s[1]).size)


def _load(name: str, src: str, cdef: str) -> tuple:
    import cffi

    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    lib = d / f"{name}.so"
    if not lib.exists():
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            c = pathlib.Path(tmp) / f"{name}.c"
            c.write_text(src)
            out = pathlib.Path(tmp) / f"{name}.so"
            subprocess.run(
                [_cc(), *_CFLAGS, "-o", str(out), str(c), "-lm"],
                check=True, capture_output=True,
            )  # fmt: skip
            os.replace(out, lib)  # atomic: another process may compile the same graph
    ffi = cffi.FFI()
    ffi.cdef(cdef)
    handle = ffi.dlopen(str(lib))
    return getattr(handle, name), ffi

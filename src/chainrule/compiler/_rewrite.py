"""Rewrites of a traced program: fewer passes over memory, the same bits.

A rewrite replaces a pattern of kernels by one kernel computing exactly the same values
(bit for bit: every rounding the eager kernels did is done here too), applied before
fusion (``_fuse``) and before registers are freed (``Program.add_frees``).

* **The gradient of a split** (``q, k, v = x.split(n, dim)``: torch's SplitBackward0):
  eagerly each piece's gradient becomes a full-size array of zeros with the piece filled in
  (``SliceAdjoint``), and backward adds them up (``Add``): for three pieces three zeroed
  arrays and two full-size sums. When the pieces are disjoint, each element of that sum
  is one piece's value plus zeros, which is the value plus ``+0`` (exact, but for ``-0``,
  which becomes ``+0``, and a nan, which stays a nan): ``SliceSum`` writes ``g + 0`` of each
  piece into its place in one new array (zeros only where no piece lands), the same bits
  in one pass.
* **Attention's scores** (``softmax(att.masked_fill(mask, value) * scale)`` written as
  ``att * scale``, ``masked_fill``, ``softmax`` over the last dim, and their gradients
  ``softmax_backward``, ``masked_fill(0)``, ``* scale``): each three kernels become one
  (``ScaledMaskedSoftmax`` / ``ScaledMaskedSoftmaxBackward``, the kernels
  ``K.scaled_masked_softmax`` and its backward), which computes the same values with the
  same operations row by row (NumPy's table: the three reference kernels in turn), so
  the two intermediate arrays are neither written nor read back. Only when the scale is
  a Python float, the fill a number, and the intermediates are read by nothing else.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.backend import K
from chainrule.compiler._fuse import regs_read
from chainrule.compiler._tracer import EFFECT, KERNEL
from chainrule.ops.shape.slices import sum_disjoint

__all__ = ["rewrite", "SliceSum", "ScaledMaskedSoftmax", "ScaledMaskedSoftmaxBackward"]


class SliceSum:
    """The sum of the gradients of disjoint slices of one array (see the module
    docstring): ``out[index_i] = g_i + 0``, zeros elsewhere. Not an op: a kernel of a
    replayed program only."""

    layout = None  # a new C-contiguous array, as the sum it stands for

    def forward(self, *gs: np.ndarray, shape: tuple, indexes: tuple, covered: bool) -> np.ndarray:
        return sum_disjoint(list(zip(indexes, gs)), shape, gs[0].dtype, covered)


class ScaledMaskedSoftmax:
    """``softmax(masked_fill(x * scale, mask, value), dim)`` in one kernel (see the module
    docstring). Not an op: a kernel of a replayed program only."""

    layout = None  # a new C-contiguous array, as softmax's

    def forward(self, x: np.ndarray, mask: np.ndarray, *, scale: float, value: Any,
                dim: int) -> np.ndarray:  # fmt: skip
        return K.scaled_masked_softmax(x, scale, mask, value, dim)


class ScaledMaskedSoftmaxBackward:
    """Its gradient: ``softmax_backward(g, y, dim)``, ``masked_fill(mask, 0)``, ``* scale``
    in one kernel. Not an op: a kernel of a replayed program only."""

    layout = None

    def forward(self, g: np.ndarray, y: np.ndarray, mask: np.ndarray, *, scale: float,
                dim: int) -> np.ndarray:  # fmt: skip
        return K.scaled_masked_softmax_backward(g, y, mask, scale, dim)


def _basic(index: Any) -> bool:
    parts = index if type(index) is tuple else (index,)
    return all(p is None or p is Ellipsis or type(p) in (slice, int) for p in parts)


def rewrite(program: Any, keep: set) -> int:
    """Apply the rewrites to ``program.code`` (registers in ``keep`` are read after the
    program: results, a live graph's backward); returns how many were made."""
    return _slice_sums(program, keep) + _attention_softmax(program, keep)


def _reads(code: list) -> dict[int, int]:
    """register -> how many times instructions read it"""
    reads: dict[int, int] = {}
    for ins in code:
        srcs: list = []
        if ins[0] == KERNEL:
            srcs = [*ins[3], *(ins[4] or {}).values()]
        elif ins[0] == EFFECT:
            srcs = list(ins[2])
        regs: list = []
        for s in srcs:
            regs_read(s, regs.append)
        for r in regs:
            reads[r] = reads.get(r, 0) + 1
    return reads


def _slice_sums(program: Any, keep: set) -> int:
    """The gradient of a split: SliceAdjoints and their Adds become one SliceSum."""
    from chainrule.ops.elementwise.arithmetic import Add
    from chainrule.ops.shape.slices import SliceAdjoint

    code = program.code
    meta = program.meta
    reads = _reads(code)
    # register -> (the instruction positions it stands for, its pieces [(g source, index)])
    groups: dict[int, tuple[list, list]] = {}
    absorbed: set[int] = set()  # registers taken into a larger group
    for i, ins in enumerate(code):
        if ins[0] != KERNEL or ins[4] is not None or ins[6] in program.attr_nodes:
            continue
        cls, params, srcs, k = ins[1], ins[2], ins[3], ins[6]
        if k not in meta:
            continue
        shape, dt = meta[k][0], meta[k][1]
        if dt not in (np.float32, np.float64):
            continue
        if cls is SliceAdjoint:
            g = srcs[0]
            gdesc = meta[k][3][0]
            if gdesc[0] != "array" or gdesc[2] != dt or not _basic(params["index"]):
                continue
            groups[k] = ([i], [(g, params["index"])])
        elif cls is Add and not params and len(srcs) == 2:
            a, b = srcs
            if a[0] != 0 or b[0] != 0 or a[1] == b[1]:
                continue
            ga, gb = groups.get(a[1]), groups.get(b[1])
            if ga is None or gb is None:
                continue
            if any(reads.get(r, 0) != 1 or r in keep for r in (a[1], b[1])):
                continue
            if meta[a[1]][0] != shape or meta[b[1]][0] != shape:
                continue
            if meta[a[1]][1] != dt or meta[b[1]][1] != dt:
                continue
            groups[k] = ([*ga[0], *gb[0], i], [*ga[1], *gb[1]])
            absorbed.update((a[1], b[1]))
    new_at: dict[int, tuple] = {}
    dropped: set[int] = set()
    for k, (positions, pieces) in groups.items():
        if k in absorbed or len(pieces) < 2:
            continue
        lo, hi = min(positions), max(positions)
        if any(code[j][0] == EFFECT for j in range(lo, hi)):
            continue  # (an effect may write an array a piece is read from: read it in order)
        shape, dt, strides = meta[k][0], meta[k][1], meta[k][2]
        if strides != np.empty(shape, dt).strides:
            continue
        mark = np.zeros(shape, np.int8)
        for _, ix in pieces:
            mark[ix] += 1
        if mark.max(initial=0) > 1:  # overlapping pieces: a real sum
            continue
        covered = bool(mark.all())
        last = code[positions[-1]]
        params = {
            "shape": shape,
            "indexes": tuple(ix for _, ix in pieces),
            "covered": covered,
        }
        srcs = tuple(g for g, _ in pieces)
        new_at[positions[-1]] = (KERNEL, SliceSum, params, srcs, None, last[5], k, strides)
        dropped.update(positions[:-1])
    if not new_at:
        return 0
    program.code = [
        new_at.get(i, ins) for i, ins in enumerate(code) if i not in dropped
    ]  # fmt: skip
    return len(new_at)


_REG, _CONST = 0, 3  # (the program's source tags, _program.REG and CONST)


def _attention_softmax(program: Any, keep: set) -> int:
    """``x * scale``, ``masked_fill``, ``softmax`` (and the gradient's ``softmax_backward``,
    ``masked_fill(0)``, ``* scale``) become one kernel each (see the module docstring)."""
    from chainrule.ops.elementwise.arithmetic import Mul
    from chainrule.ops.index.mask import MaskedFill
    from chainrule.ops.softmax import Softmax, SoftmaxBackward

    code, meta, attr = program.code, program.meta, program.attr_nodes
    reads = _reads(code)
    made = {ins[6]: i for i, ins in enumerate(code) if ins[0] == KERNEL}  # register -> position

    def producer(src: tuple, cls: type) -> int | None:
        """The position of the kernel of class ``cls`` that made register ``src`` if only
        one instruction reads it (the one asking) and nothing after the program does."""
        if src[0] != _REG or reads.get(src[1], 0) != 1 or src[1] in keep or src[1] in attr:
            return None
        i = made.get(src[1])
        if i is None or code[i][1] is not cls or (code[i][4] is not None and cls is not MaskedFill):
            return None
        return i

    def scaled(ins: tuple, dt: np.dtype) -> tuple | None:
        """(the array source, the scale) of ``x * scale`` with a Python float, or None."""
        srcs = ins[3]
        if ins[2] or len(srcs) != 2:
            return None
        a, b = srcs
        if a[0] == _REG and b[0] == _CONST and type(b[1]) is float and meta[a[1]][1] == dt:
            return a, b[1]  # (a product in x's own dtype)
        return None

    def filled(ins: tuple) -> tuple | None:
        """(x source, mask source, value) of masked_fill with a number, or None."""
        srcs, psrc = ins[3], ins[4]
        if len(srcs) != 2 or srcs[1][0] != _CONST or ins[2].get("tensor_value") is not False:
            return None
        if psrc is not None:
            tv = psrc.get("tensor_value", (_CONST, False))
            if set(psrc) - {"mask", "tensor_value"} or tv != (_CONST, False):
                return None
            mask = psrc["mask"]
        else:
            mask = (_CONST, ins[2]["mask"])
        return srcs[0], mask, srcs[1][1]

    new_at: dict[int, tuple] = {}
    dropped: set[int] = set()
    for i, ins in enumerate(code):
        if ins[0] != KERNEL or ins[4] is not None or ins[6] in attr or ins[6] not in meta:
            continue
        shape, dt = meta[ins[6]][0], meta[ins[6]][1]
        if dt not in (np.float32, np.float64) or not shape:
            continue
        if ins[1] is Softmax and ins[2].get("dim") == len(shape) - 1:  # of masked_fill(x * s)
            f = producer(ins[3][0], MaskedFill)
            fill = None if f is None else filled(code[f])
            m = None if fill is None else producer(fill[0], Mul)
            prod = None if m is None else scaled(code[m], dt)
            if prod is None or meta[code[m][6]][0] != shape:
                continue
            params = {"scale": prod[1], "value": fill[2], "dim": ins[2]["dim"]}
            new = (KERNEL, ScaledMaskedSoftmax, params, (prod[0], fill[1]), None, ins[5],
                   ins[6], ins[7])  # fmt: skip
            first = m
        elif ins[1] is Mul:  # softmax_backward, masked_fill(0), * scale
            prod = scaled(ins, dt)
            f = None if prod is None else producer(prod[0], MaskedFill)
            fill = None if f is None else filled(code[f])
            if fill is None or type(fill[2]) is not dt.type or fill[2] != 0 or np.signbit(fill[2]):
                continue
            b = producer(fill[0], SoftmaxBackward)
            if b is None or code[b][2].get("dim") != len(shape) - 1 or len(code[b][3]) != 2:
                continue
            if meta[code[b][6]][0] != shape:
                continue
            g, y = code[b][3]
            params = {"scale": prod[1], "dim": code[b][2]["dim"]}
            new = (KERNEL, ScaledMaskedSoftmaxBackward, params, (g, y, fill[1]), None, ins[5],
                   ins[6], ins[7])  # fmt: skip
            first = b
        else:
            continue
        if code[first][5] is not ins[5] or code[f][5] is not ins[5]:
            continue  # (all three in one grad mode)
        if any(code[j][0] == EFFECT for j in range(first, i)):
            continue  # (an effect may write an array read here: read it in order)
        new_at[i] = new
        dropped.update((first, f))
    if not new_at:
        return 0
    program.code = [new_at.get(i, ins) for i, ins in enumerate(code) if i not in dropped]
    return len(new_at)

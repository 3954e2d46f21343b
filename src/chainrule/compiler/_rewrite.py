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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.compiler._fuse import regs_read
from chainrule.compiler._tracer import EFFECT, KERNEL
from chainrule.ops.shape.slices import sum_disjoint

__all__ = ["rewrite", "SliceSum"]


class SliceSum:
    """The sum of the gradients of disjoint slices of one array (see the module
    docstring): ``out[index_i] = g_i + 0``, zeros elsewhere. Not an op: a kernel of a
    replayed program only."""

    layout = None  # a new C-contiguous array, as the sum it stands for

    def forward(self, *gs: np.ndarray, shape: tuple, indexes: tuple, covered: bool) -> np.ndarray:
        return sum_disjoint(list(zip(indexes, gs)), shape, gs[0].dtype, covered)


def _basic(index: Any) -> bool:
    parts = index if type(index) is tuple else (index,)
    return all(p is None or p is Ellipsis or type(p) in (slice, int) for p in parts)


def rewrite(program: Any, keep: set) -> int:
    """Apply the rewrites to ``program.code`` (registers in ``keep`` are read after the
    program: results, a live graph's backward); returns how many were made."""
    from chainrule.ops.elementwise.arithmetic import Add
    from chainrule.ops.shape.slices import SliceAdjoint

    code = program.code
    meta = program.meta
    reads: dict[int, int] = {}  # register -> how many times instructions read it
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

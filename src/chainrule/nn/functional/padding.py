"""pad: constant mode is a primitive (its vjp is the opposite pad, so it is closed under
differentiation); reflect, replicate and circular are index_select compositions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule.amp.autocast_mode import cast_for
from chainrule.ops.index.select import index_select
from chainrule.ops.op import Op

_NON_CONSTANT = (
    "\nSupported combinations for non-constant padding:\n"
    "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
    "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
    "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)"
)


class ConstantPad(Op):
    """Crop negative pads, then surround with ``value``; the vjp pads ``g`` by the negated
    widths (crop what was added, zero-fill what was cropped)."""

    save_inputs = False
    torch_name = "ConstantPadNdBackward0"

    def forward(self, x, pads, value):
        self.pads = pads
        x = x[tuple(slice(max(-b, 0), n - max(-a, 0)) for n, (b, a) in zip(x.shape, pads))]
        shape = tuple(n + max(b, 0) + max(a, 0) for n, (b, a) in zip(x.shape, pads))
        out = np.full(shape, value, dtype=x.dtype)
        out[tuple(slice(max(b, 0), max(b, 0) + n) for n, (b, _) in zip(x.shape, pads))] = x
        return out

    def backward(self, g):
        return ConstantPad.apply(g, pads=tuple((-b, -a) for b, a in self.pads), value=0)


def _source_index(n: int, before: int, after: int, mode: str) -> np.ndarray:
    i = np.arange(-before, n + after)
    if mode == "reflect":
        i = np.abs(i)
        return (n - 1) - np.abs((n - 1) - i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return i % n  # circular


@op(namespace="nn.functional", method=False)
def pad(
    input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None
) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims, last dim first: ``(left, right, top, bottom, ...)``;
    negative widths crop. Modes: constant, reflect, replicate, circular."""
    x = input._data
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    k = len(pad) // 2
    if k > x.ndim:
        raise RuntimeError(
            "Padding length should be less than or equal to two times the input dimension but "
            f"got padding length {len(pad)} and input of dimension {x.ndim}"
        )
    pairs = [(pad[2 * j], pad[2 * j + 1]) for j in range(k)]  # last dim first
    if mode == "constant":
        for j, (b, a) in enumerate(pairs):
            if x.shape[x.ndim - 1 - j] + min(b, 0) + min(a, 0) < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        pads = ((0, 0),) * (x.ndim - k) + tuple(reversed(pairs))
        return ConstantPad.apply(input, pads=pads, value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    if mode != "circular":  # reflection_pad/replication_pad are on torch's autocast fp32 list
        input = cast_for("fp32", input)
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor." + _NON_CONSTANT
        )
    out = input
    for j, (b, a) in enumerate(pairs):
        d = x.ndim - 1 - j
        n = x.shape[d]
        if mode == "reflect" and (b >= n or a >= n):
            raise RuntimeError(
                f"Argument #{2 + len(pad)}: Padding size should be less than the corresponding "
                f"input dimension, but got: padding ({b}, {a}) at dimension {d} of input "
                f"{list(x.shape)}"
            )
        if mode == "circular" and (b > n or a > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        out = index_select(out, d, _make(_source_index(n, b, a, mode)))
    return out

"""linear (a primitive: one matmul forward, one matmul per input backward); bilinear is
declared with the products (ops/linalg/compose.py), as torch has it at the top level too."""

from __future__ import annotations

import math

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make
from chainrule._trace import state as trace
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.backend import K
from chainrule.graph import grad_mode
from chainrule.nn.functional._utils import type_name
from chainrule.ops.linalg.products import matmul
from chainrule.ops.op import Op, forward_ad, plain_view
from chainrule.ops.shape.views import Reshape, View

_C = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
      "int32": "int"}  # fmt: skip
_FAST = (np.dtype(np.float32), np.dtype(np.float64))  # the plain backward's dtypes


class Linear(Op):
    """``y = x Wᵀ + b`` over the last dim of ``x``; leading dims are folded into one matmul.

    vjp: ``gx = g W``, ``gW = gᵀ x`` (leading dims folded), ``gb = sum of g`` over them.
    """

    formula = "d(x @ Wᵀ + b) = g @ W, gᵀ @ x, g summed over the batch"
    saved_for = ((1,), (0,), ())  # torch's addmm/mm: W for x's gradient, x for W's; never b

    def forward(self, x, w, b):
        self.two_d, self.one_d, self.bias = x.ndim == 2, x.ndim == 1, b is not None
        self.x_shape = x.shape
        if x.ndim == 2 and b is not None:  # torch's addmm: the bias added inside the GEMM
            return K.addmm(b, x, w.T)
        if x.ndim == 2 or x.ndim == 1:
            out = x @ w.T
        else:
            rows = math.prod(x.shape[:-1])  # not -1: a size-0 feature dim leaves it open
            out = (x.reshape(rows, x.shape[-1]) @ w.T).reshape(*x.shape[:-1], w.shape[0])
        if b is not None:
            out += b
        return out

    def backward(self, g):
        x, w, _ = self.inputs
        gx = gw = gb = None
        if (
            not self.one_d
            and not (grad_mode.enabled or forward_ad.level or trace.tracer)
            and g._data.dtype in _FAST
        ):  # the plain backward: the same NumPy calls as the ops below, without recording
            ga = g._data  # (x and w are the saved ones: w if x needs a gradient, x if w does)
            g2 = ga
            if not self.two_d:  # leading dims folded (their count, not -1: a size-0 dim)
                g2 = ga.reshape(math.prod(self.x_shape[:-1]), ga.shape[-1])
            if self.needs(0):
                gx = _make(K.matmul(g2, w._data))
                if not self.two_d:  # a view back to x's shape, as below
                    gx = plain_view(gx, gx._data.reshape(self.x_shape))
            if self.needs(1):  # a view of the product (`.T.T`), as below
                x2 = x._data if self.two_d else x._data.reshape(len(g2), x._data.shape[-1])
                prod = K.matmul(g2.T, x2)
                gw = plain_view(_make(prod), prod.T.T)
            if self.bias and self.needs(2):
                gb = _make(K.sum_rows(ga))
            return gx, gw, gb
        if self.needs(0):
            if self.two_d:
                gx = matmul(g, w)
            else:  # torch folds x to 2-d: its gradient is a view back to x's shape
                gx = matmul(g.reshape(-1, g._data.shape[-1]), w).reshape(self.x_shape)
        if self.needs(1):
            if x._data.ndim == 1:
                gw = matmul(g.reshape(-1, 1), x.reshape(1, -1))
            else:
                rows = math.prod(x._data.shape[:-1])
                g2 = g.reshape(rows, g._data.shape[-1])
                gw = matmul(g2.T, x.reshape(rows, x._data.shape[-1]))
            # torch's is mm's gradient of Wᵀ (column-major: the transpose of a product), then
            # transposed back: a view, made with grad mode off in a plain backward
            gw = gw.T.T
        if self.bias and self.needs(2):
            gb = g.sum(tuple(range(g._data.ndim - 1))) if g._data.ndim > 1 else g
        return gx, gw, gb

    def _run_unwanted(self, retain_graph):
        """``backward(inputs=[out])`` runs only out's node: for an input not 2-d, torch's is
        the view around its addmm/mm, which saved nothing (see Matmul)."""
        if self.two_d:
            super()._run_unwanted(retain_graph)

    def name(self) -> str:
        """torch's grad_fn names: addmm / mm for 2-d input, the view around them otherwise."""
        if self.two_d:
            return "AddmmBackward0" if self.bias else "MmBackward0"
        if self.bias:
            return "ViewBackward0"
        return "SqueezeBackward4" if self.one_d else "UnsafeViewBackward0"


@op(namespace="nn.functional", method=False)
@autocast_policy("lower_precision_fp")
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input (*, in_features), weight (out_features, in_features)."""
    x, w = input._data, weight._data
    if x.ndim == 0 or w.ndim == 0:
        raise RuntimeError(
            f"both arguments to linear need to be at least 1D, but they are {x.ndim}D and {w.ndim}D"
        )
    if bias is not None and bias._data.dtype != w.dtype:  # torch's addmm checks bias first
        raise RuntimeError(
            "self and mat2 must have the same dtype, but got "
            f"{type_name(bias)} and {type_name(weight)}"
        )
    if x.dtype != w.dtype:
        if bias is not None:
            raise RuntimeError(
                "mat1 and mat2 must have the same dtype, but got "
                f"{type_name(input)} and {type_name(weight)}"
            )
        raise RuntimeError(
            "expected m1 and m2 to have the same dtype, but got: "
            f"{_C.get(x.dtype.name, x.dtype.name)} != {_C.get(w.dtype.name, w.dtype.name)}"
        )
    if w.ndim == 1:  # torch allows a vector weight: a dot product over the last dim
        out = matmul(input, weight)
        return out if bias is None else out + bias
    if x.shape[-1] != w.shape[1]:
        rows = math.prod(x.shape[:-1]) if x.ndim > 1 else 1
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and "
            f"{w.shape[1]}x{w.shape[0]})"
        )
    if bias is not None and bias._data.shape not in ((w.shape[0],), (), (1,)):
        target = [*x.shape[:-1], w.shape[0]]
        raise RuntimeError(
            f"The expanded size of the tensor ({w.shape[0]}) must match the existing size "
            f"({bias._data.shape[-1]}) at non-singleton dimension {len(target) - 1}.  Target "
            f"sizes: {target}.  Tensor sizes: {list(bias._data.shape)}"
        )
    if bias is not None and bias._data.shape != (w.shape[0],):
        return Linear.apply(input, weight, None) + bias
    if bias is not None and x.ndim != 2:
        if not x.flags.c_contiguous:  # torch: matmul (x folded by a copy), the bias added
            return Linear.apply(input, weight, None) + bias
        # torch runs addmm on the rows and views the result back, so the output is a view
        # (detach_ refuses it); without a bias its matmul result is not one
        rows = Reshape.apply(input, shape=(math.prod(x.shape[:-1]), x.shape[-1]))
        return View.apply(Linear.apply(rows, weight, bias), shape=(*x.shape[:-1], w.shape[0]))
    return Linear.apply(input, weight, bias)

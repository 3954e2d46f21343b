"""``beta * input + alpha * product`` in one node: baddbmm, addbmm, addmv and addr.

Each is one op (torch's BaddbmmBackward0 ...), ``input`` broadcast to the product's shape
(its gradient summed back by the base class) and ignored when ``beta`` is 0 (its nan and
inf do not reach the result, as torch documents). Each input's gradient reads what torch's
saves: the other factor of the product.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule._registry import op
from chainrule._tensor import Tensor, wrap_dim
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.backend import K
from chainrule.dtypes import c_type_name, kind_of, scalar_type_name
from chainrule.ops.op import Op, expand
from chainrule.ops.shape.grids import _broadcast_pair


def _scaled(t: Tensor | None, s: Any) -> Tensor | None:
    """torch's maybe_multiply: ``t * s``, or ``t`` itself when ``s`` is 1."""
    if t is None or s == 1:
        return t
    return t * s


def _combine(inp: np.ndarray, prod: np.ndarray, beta: Any, alpha: Any) -> np.ndarray:
    dt = prod.dtype
    if dt == np.bool_:  # torch's logical form: (beta and input) or (alpha and product)
        out = prod & bool(alpha)
        return out | (inp & bool(beta)) if beta else np.broadcast_to(out, prod.shape).copy()
    if kind_of(dt) in "iu":
        beta, alpha = dt.type(beta), dt.type(alpha)
    out = prod if alpha == 1 else prod * np.asarray(alpha, dtype=dt)
    if beta == 0:  # input ignored
        return np.array(np.broadcast_to(out, prod.shape), dtype=dt)
    scaled = inp if beta == 1 else inp * np.asarray(beta, dtype=dt)
    return np.asarray(scaled + out, dtype=dt)


class _AddProduct(Op):
    elementwise = True  # input broadcast to the product's shape: its gradient summed back
    saved_for = ((), (2,), (1,))  # each factor's gradient reads the other factor

    def forward(self, inp, a, b, beta, alpha):
        self.beta, self.alpha = beta, alpha
        return _combine(inp, self.product(a, b), beta, alpha)

    def backward(self, g):
        _, a, b = self.inputs
        ga = _scaled(self.grad_a(g, b), self.alpha) if self.needs(1) else None
        gb = _scaled(self.grad_b(g, a), self.alpha) if self.needs(2) else None
        return (_scaled(g, self.beta) if self.needs(0) else None), ga, gb


class Baddbmm(_AddProduct):
    formula = "d(beta*C + alpha*A@B) = beta*g, alpha*g@Bᵀ, alpha*Aᵀ@g (batched)"

    def product(self, a, b):
        return K.matmul(a, b)

    def grad_a(self, g, b):
        return g @ b.mT

    def grad_b(self, g, a):
        return a.mT @ g


class Addbmm(_AddProduct):
    formula = "d(beta*C + alpha*sum_i A_i@B_i) = beta*g, alpha*g@B_iᵀ, alpha*A_iᵀ@g"

    def product(self, a, b):
        self.batches = a.shape[0]
        return K.matmul(a, b).sum(axis=0)

    def grad_a(self, g, b):
        n, p = g._data.shape
        return g.unsqueeze(0).expand(self.batches, n, p) @ b.mT

    def grad_b(self, g, a):
        n, p = g._data.shape
        return a.mT @ g.unsqueeze(0).expand(self.batches, n, p)


class Addmv(_AddProduct):
    formula = "d(beta*y + alpha*A@x) = beta*g, alpha*g xᵀ, alpha*Aᵀ@g"

    def product(self, a, b):
        return K.matmul(a, b)

    def grad_a(self, g, b):
        return g.unsqueeze(-1) * b

    def grad_b(self, g, a):
        return a.mT @ g


class Addr(_AddProduct):
    formula = "d(beta*M + alpha*u vᵀ) = beta*g, alpha*g@v, alpha*gᵀ@u"

    def product(self, a, b):
        return np.multiply.outer(a, b) if a.dtype != np.bool_ else np.logical_and.outer(a, b)

    def grad_a(self, g, b):
        return g @ b

    def grad_b(self, g, a):
        return g.mT @ a


def _check_expand(input: Tensor, shape: tuple) -> None:
    """torch's expand of ``input`` to the product's shape (its error text), not recorded."""
    if input._data.shape != shape:
        expand(input.detach(), shape)


def _dim_size(t: Tensor, dim: int) -> int:
    return t._data.shape[wrap_dim(dim, t._data.ndim)] if t._data.ndim else wrap_dim(dim, 0)


@op(inplace=True)
@autocast_policy("lower_precision_fp")
def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
            alpha: Any = 1) -> Tensor:  # fmt: skip
    """``beta * input + alpha * (batch1 @ batch2)`` for 3-d batches (input broadcast; ignored
    when ``beta`` is 0)."""
    shape = (_dim_size(batch1, 0), _dim_size(batch1, 1), _dim_size(batch2, 2))
    _check_expand(input, shape)
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t._data.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    (b, _, k), (b2, k2, _) = batch1._data.shape, batch2._data.shape
    if (b, k) != (b2, k2):
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{b}, {k}] "
            f"but got: [{b2}, {k2}]."
        )
    if input._data.dtype != batch1._data.dtype:
        raise RuntimeError(
            f"Input dtypes must be the same, got: input {c_type_name(input._data.dtype)}, "
            f"batch1: {c_type_name(batch1._data.dtype)}, "
            f"batch2: {c_type_name(batch2._data.dtype)}"
        )
    if batch2._data.dtype != batch1._data.dtype:
        raise RuntimeError(
            f"expected scalar type {scalar_type_name(batch1)} but found {scalar_type_name(batch2)}"
        )
    return Baddbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)


@op(inplace=True)
@autocast_policy("lower_precision_fp")
def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta: Any = 1,
           alpha: Any = 1) -> Tensor:  # fmt: skip
    """``beta * input + alpha * sum_i batch1[i] @ batch2[i]`` (the batch products summed;
    input broadcast, ignored when ``beta`` is 0)."""
    shape = (_dim_size(batch1, 1), _dim_size(batch2, 2))
    _check_expand(input, shape)
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if t._data.ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    (b, n, k), (b2, k2, p) = batch1._data.shape, batch2._data.shape
    if b != b2:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got {b} and {b2}")
    if k != k2:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({n}x{k} and {k2}x{p})")
    if input._data.dtype != batch2._data.dtype:
        raise RuntimeError(
            "self and mat2 must have the same dtype, but got "
            f"{scalar_type_name(input)} and {scalar_type_name(batch2)}"
        )
    if batch1._data.dtype != batch2._data.dtype:
        raise RuntimeError(
            "mat1 and mat2 must have the same dtype, but got "
            f"{scalar_type_name(batch1)} and {scalar_type_name(batch2)}"
        )
    return Addbmm.apply(input, batch1, batch2, beta=beta, alpha=alpha)


@op(inplace=True, inplace_function=True)
@autocast_policy("off")
def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)`` (input a vector or one number, broadcast;
    ignored when ``beta`` is 0)."""
    if mat._data.ndim != 2 or vec._data.ndim != 1 or input._data.ndim > 1:
        raise RuntimeError(
            "vector + matrix @ vector expected, got "
            f"{input._data.ndim}, {mat._data.ndim}, {vec._data.ndim}"
        )
    (m, n), k = mat._data.shape, vec._data.shape[0]
    if n != k or (input._data.size != m and input._data.size != 1):
        size = input._data.shape[0] if input._data.ndim else input._data.size
        raise RuntimeError(f"size mismatch, got input ({size}), mat ({m}x{n}), vec ({k})")
    if not input._data.dtype == mat._data.dtype == vec._data.dtype:
        raise RuntimeError(
            "addmv input tensors must have the same dtype, but got "
            f"{scalar_type_name(input)}, {scalar_type_name(mat)}, and {scalar_type_name(vec)}"
        )
    return Addmv.apply(input, mat, vec, beta=beta, alpha=alpha)


@op(inplace=True)
@autocast_policy("off")
def addr(input: Tensor, vec1: Tensor, vec2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * outer(vec1, vec2)`` (types promoted; input broadcast,
    ignored when ``beta`` is 0; for bools ``(beta and input) or (alpha and outer)``)."""
    for name, v in (("vec1", vec1), ("vec2", vec2)):
        if v._data.ndim != 1:
            raise RuntimeError(f"addr: Expected 1-D argument {name}, but got {v._data.ndim}-D")
    dt = dtypes.result_type(input, vec1, vec2)
    if kind_of(dt) in "iub":
        for name, s in (("beta", beta), ("alpha", alpha)):
            if isinstance(s, float):
                raise RuntimeError(
                    f"For integral input tensors, argument {name} must not be a floating point "
                    "number."
                )
    shape = (vec1._data.shape[0], vec2._data.shape[0])
    _check_expand(input, shape)
    _broadcast_pair(input._data.shape, shape)
    ts = [t if t._data.dtype == dt else t.to(dtypes.FROM_NP[dt]) for t in (input, vec1, vec2)]
    return Addr.apply(*ts, beta=beta, alpha=alpha)

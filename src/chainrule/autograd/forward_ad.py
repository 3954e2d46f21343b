"""Forward-mode AD with dual tensors (``torch.autograd.forward_ad``).

Inside ``dual_level()``, a tensor made by ``make_dual(primal, tangent)`` carries its tangent
through every op: ``Op.apply`` asks the op's ``jvp`` for the output's tangent. The default
``jvp`` (``default_jvp`` below) is exact for every op in the catalog, so no op needs a second
hand-written rule; ops may still override ``jvp`` with a cheaper one.
"""

from __future__ import annotations

import weakref
from collections import namedtuple
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make, version_counter
from chainrule.autograd._grad import grad
from chainrule.dtypes import kind_of
from chainrule.graph import enable_grad
from chainrule.ops.elementwise.casts import real_part
from chainrule.ops.op import Op, complex_conj, expand, forward_ad, sum_to_size

__all__ = [
    "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual",
    "UnpackedDualTensor",
]  # fmt: skip

_new = object.__new__
_duals: list = []  # weak references to tensors holding a tangent at the open level

UnpackedDualTensor = namedtuple("UnpackedDualTensor", ["primal", "tangent"])


def enter_dual_level() -> int:
    """Open a level of forward AD (one at a time, as torch)."""
    if forward_ad.level:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    forward_ad.level = 1
    return 0


def exit_dual_level(*, level: int | None = None) -> None:
    """Close the level: every dual tensor made inside it loses its tangent."""
    for ref in _duals:
        t = ref()
        if t is not None:
            t._fw = None
    _duals.clear()
    forward_ad.level = 0


class dual_level:
    """``with dual_level(): ...`` scopes dual tensors, like torch's context manager."""

    def __enter__(self) -> int:
        return enter_dual_level()

    def __exit__(self, *exc: object) -> None:
        exit_dual_level()


def _set_tangent(t: Tensor, tangent: Tensor | None) -> None:
    t._fw = tangent
    if tangent is not None:
        _duals.append(weakref.ref(t))


def make_dual(tensor: Tensor, tangent: Tensor, *, level: int | None = None) -> Tensor:
    """A view of ``tensor`` that carries ``tangent`` as its forward gradient."""
    if not forward_ad.level:
        raise RuntimeError(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to "
            "enter_dual_level() first."
        )
    if tangent._data.shape != tensor._data.shape:
        raise RuntimeError(
            "Trying to set a forward gradient that has a different size than that of the "
            "original Tensor, this is not supported. Tensor is of size "
            f"{list(tensor._data.shape)} while the given forward gradient is of size "
            f"{list(tangent._data.shape)}."
        )
    if kind_of(tangent._data.dtype) not in "fc" or kind_of(tensor._data.dtype) not in "fc":
        raise ValueError("Expected primal and tangent to be floating point or complex tensors")
    level, forward_ad.level = forward_ad.level, 0  # the alias itself has no tangent to pass
    try:
        dual = tensor.view_as(tensor)
    finally:
        forward_ad.level = level
    if tangent._data.dtype != tensor._data.dtype:
        tangent = tangent.to(tensor.dtype)
    _set_tangent(dual, tangent)
    return dual


def unpack_dual(tensor: Tensor, *, level: int | None = None) -> UnpackedDualTensor:
    """``(primal, tangent)``: the primal is a view without the tangent; tangent may be None."""
    primal = _make(tensor._data, tensor.grad_fn)
    primal._requires_grad = tensor._requires_grad
    primal._vc = version_counter(tensor)
    return UnpackedDualTensor(primal, getattr(tensor, "_fw", None))


# --------------------------------------------------------------------------- propagation


def propagate(node: Op, inputs: tuple, params: dict, out: Tensor) -> None:
    """Give ``out`` the tangent of the op that made it (called by ``Op.apply``)."""
    tangents = [getattr(x, "_fw", None) if isinstance(x, Tensor) else None for x in inputs]
    if all(t is None for t in tangents) or kind_of(out._data.dtype) not in "fc":
        return
    shadow = _new(type(node))  # a copy of the node holding what the rules read
    shadow.__dict__.update(node.__dict__)
    shadow.__dict__["_jvp_shadow"] = out  # what the rules read as self.output
    shadow._params = params
    shadow.inputs, shadow.out_data = inputs, out._data
    shadow._edges = tuple(x if t is not None else None for x, t in zip(inputs, tangents))
    shadow._shapes = None
    level, forward_ad.level = forward_ad.level, 0  # ops inside a jvp carry no tangents
    try:
        tangent = shadow.jvp(tangents)
    finally:
        forward_ad.level = level
    if tangent is not None:
        if tangent._data.shape != out._data.shape:
            tangent = expand(tangent, out._data.shape)
        if tangent._data.dtype != out._data.dtype:
            tangent = tangent.to(out.dtype)
        _set_tangent(out, tangent)
        if type(node).save_output:  # rules reading self.output see the tangent too
            node.__dict__["_fw"] = tangent
            node._look = True  # (_release drops it with the saved output)
            _duals.append(weakref.ref(node))


def _zero(x: Any) -> Any:
    if isinstance(x, Tensor):
        return _make(np.zeros_like(x._data))
    if isinstance(x, np.ndarray):
        return np.zeros_like(x)
    if isinstance(x, bool | int | float | complex):
        return type(x)(0)
    return x


def _add(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return b if a is None else a if b is None else a + b


def default_jvp(node: Op, tangents: list) -> Tensor | None:
    """J·t for any op, by the strategy its class declares (``Op.jvp_rule``)."""
    cls, inputs, params = type(node), node.inputs, node._params
    rule = cls.jvp_rule
    if rule == "linear":  # the op itself, applied to the tangents (zero for constants)
        args = [t if t is not None else _zero(x) for x, t in zip(inputs, tangents)]
        return cls.apply(*args, **params)
    if rule == "multilinear":  # product rule: one input replaced by its tangent at a time
        total = None
        for i, t in enumerate(tangents):
            if t is not None:
                args = list(inputs)
                args[i] = t
                total = _add(total, cls.apply(*args, **params))
        return total
    out_shape = node.out_data.shape
    to_real = node.out_data.dtype.kind != "c" and any(
        t is not None and t._data.dtype.kind == "c" for t in tangents
    )  # a real result of a complex input (abs, var): not analytic
    if rule == "diagonal":  # elementwise (diagonal Jacobians): the backward rule is the jvp
        total = None
        for i, t in enumerate(tangents):
            if t is None:
                continue
            node._edges = tuple(x if j == i else None for j, x in enumerate(inputs))
            if to_real:  # torch's: Re(conj(∂y/∂z) t), ∂y/∂z the rule at ones
                d = node.backward(_make(np.ones(out_shape, node.out_data.dtype)))
                d = d[i] if type(d) is tuple else d
                total = _add(total, real_part(complex_conj[0](d) * t))
                continue
            g = t if t._data.shape == out_shape else expand(t, out_shape)
            grads = node.backward(g)
            grads = grads if type(grads) is tuple else (grads,)
            total = _add(total, grads[i])
        return total
    if rule == "reduction":  # J·t = sum over each slice of (∂y/∂x ⊙ t), ∂y/∂x = the rule at ones
        (t,) = tangents
        rule = node.backward(_make(np.ones(out_shape, node.out_data.dtype)))
        axes, keepdim = node.reduced_axes()
        product = real_part(complex_conj[0](rule) * t) if to_real else rule * t
        return product.sum(axes if axes is not None else None, keepdim=keepdim)
    # anything else: J·t = d/du <vjpᵀ(u), t>, the vjp being linear in u
    with enable_grad():
        u = _make(np.zeros(out_shape, node.out_data.dtype))
        u._requires_grad = True
        grads = node.backward(u)
        grads = grads if type(grads) is tuple else (grads,)
        s = None
        for g, t in zip(grads, tangents):
            if t is not None and g is not None and g._requires_grad:
                if g._data.shape != t._data.shape:
                    g = sum_to_size(g, t._data.shape)
                s = _add(s, (g * t).sum())
        if s is None:
            return None
        # keep the graph when the tangent itself will be differentiated (reverse-over-forward)
        live = [x for x in (*inputs, *tangents) if isinstance(x, Tensor) and x._requires_grad]
        (ju,) = grad([s], [u], allow_unused=True, create_graph=bool(live))
    # a complex u: grad gives torch's conjugate gradient, conj(d<vjp(u), t>/du)
    return complex_conj[0](ju) if ju is not None and ju._data.dtype.kind == "c" else ju


# the hooks Op.apply and Op.jvp call while a dual level is open (op.py cannot import this
# module, which is built on Op)
forward_ad.propagate = propagate
forward_ad.default_jvp = default_jvp
forward_ad.set_tangent = _set_tangent

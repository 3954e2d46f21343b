"""torch.func's forward-mode transforms: jvp, jacfwd, and hessian = jacfwd(jacrev(f)).

``jvp`` uses forward-mode AD (``chainrule.autograd.forward_ad``) when no dual level is open;
inside one (nested forward mode, e.g. ``jacfwd(jacfwd(f))``) it computes J·t by the
double-vjp identity instead. See ``_transforms.py`` for how results stay differentiable.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd import grad as _autograd_grad
from chainrule.creation import observe_draws
from chainrule.func._pytree import tree_flatten, tree_map, tree_unflatten
from chainrule.func._transforms import (
    _args_with,
    _check_argnums,
    _grads,
    _only_tensors,
    _reaches_outside,
    _release,
    _select,
    _split_aux,
    _wrap_all,
    _zeros,
    jacrev,
)
from chainrule.func._vmap import Randomness, check_randomness
from chainrule.graph import enable_grad, is_grad_enabled
from chainrule.ops.op import forward_ad as _fw_state

__all__ = ["jvp", "jacfwd", "hessian"]

STRICT_ERROR = (
    "jvp(f, primals, tangents, strict=True): The output of f is independent of the inputs. "
    "This is not allowed with strict=True."
)


# --------------------------------------------------------------------------- forward mode


def jvp(
    func: Callable, primals: Any, tangents: Any, *, strict: bool = False, has_aux: bool = False
) -> tuple:
    """``(func(*primals), J·tangents)`` by forward mode (double-vjp inside a dual level).
    With ``strict=True`` an output that does not depend on the inputs (no tangent) raises
    torch's error instead of getting a zero tangent."""
    where = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(
            f"{where}: Expected primals to be a tuple. E.g. it should be valid to call f(*primals)."
        )
    flat, spec = tree_flatten(primals)
    t_flat, t_spec = tree_flatten(tangents)
    if t_spec != spec:
        raise RuntimeError(
            f"{where}: Expected primals and tangents to have the same python structure. For "
            "example, if primals is a tuple of 3 tensors, tangents also must be. Got primals "
            f"with structure {spec} and tangents with structure {t_spec}"
        )
    for p in flat:
        if not isinstance(p, Tensor):
            raise ValueError(f"Thing passed to transform API must be Tensor, got {type(p)}")
    if _fw_state.level:
        return _jvp_by_double_vjp(func, flat, spec, t_flat, has_aux, where, strict)
    outer = is_grad_enabled()
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(flat, t_flat)]
        out, aux = _split_aux(func(*tree_unflatten(duals, spec)), has_aux, where)
        out_flat, out_spec = tree_flatten(out)
        _only_tensors(out_flat, where)
        pairs = [fwAD.unpack_dual(o) for o in out_flat]
    if strict and any(t is None for _, t in pairs):
        raise RuntimeError(STRICT_ERROR)
    tangents_out = [t for _, t in pairs if t is not None]
    keep = outer and _reaches_outside(out_flat + tangents_out, set())
    primal_out = [_release(p, keep) for p, _ in pairs]
    tangent_out = [_release(t, keep) if t is not None else _zeros(p) for (p, t) in pairs]
    res = (tree_unflatten(primal_out, out_spec), tree_unflatten(tangent_out, out_spec))
    if has_aux:
        return (*res, tree_map(lambda a: _release(a, keep), aux))
    return res


def _jvp_by_double_vjp(func, flat, spec, t_flat, has_aux, where, strict) -> tuple:
    """J·t = d/du <Jᵀu, t> (u a dummy cotangent): a jvp inside another forward level."""
    outer = is_grad_enabled()
    with enable_grad():
        wrapped, own = _wrap_all(flat)
        out, aux = _split_aux(func(*tree_unflatten(wrapped, spec)), has_aux, where)
        out_flat, out_spec = tree_flatten(out)
        _only_tensors(out_flat, where)
        us = [_zeros(o).requires_grad_() for o in out_flat]
        gs = _grads(out_flat, wrapped, us, True)
        live = any(t.requires_grad for t in t_flat)
        keep = outer and (_reaches_outside(out_flat, own) or live)
        # a tangent carrying the enclosing level's tangent (jacfwd(lambda y: jvp(f, (y,),
        # (y,)))): J·t is built as a graph so that tangent flows through it
        dual = any(getattr(t, "_fw", None) is not None for t in t_flat)
        pairs = [(g, t) for g, t in zip(gs, t_flat) if g.requires_grad]
        if pairs:
            jts = _autograd_grad(
                [g for g, _ in pairs], us, [t for _, t in pairs], retain_graph=True,
                create_graph=keep or dual, allow_unused=True,
            )  # fmt: skip
        else:
            jts = [None] * len(us)
        if strict and any(j is None for j in jts):  # u_i unused: output i ignores the inputs
            raise RuntimeError(STRICT_ERROR)
        jts = [_zeros(o) if j is None else j for j, o in zip(jts, out_flat)]
    res = (
        tree_unflatten([_release(o, keep) for o in out_flat], out_spec),
        tree_unflatten([_release_tangent(_release(j, keep), keep) for j in jts], out_spec),
    )
    if has_aux:
        return (*res, tree_map(lambda a: _release(a, keep), aux))
    return res


def _release_tangent(x: Tensor, keep: bool) -> Tensor:
    """A released J·t whose forward tangent was computed on this call's graph (``dual``
    above): that tangent is released too."""
    tangent = getattr(x, "_fw", None)
    if not keep and tangent is not None and tangent.requires_grad and _fw_state.level:
        fwAD._set_tangent(x, tangent.detach())
    return x


def jacfwd(
    func: Callable, argnums: int | tuple = 0, has_aux: bool = False, *, randomness: str = "error"
) -> Callable:
    """The Jacobian by forward mode: one jvp per input element (same layout as jacrev).
    torch computes the columns as a vmap of jvp with this ``randomness``; here each column
    is one slice of that rule (``_vmap.Randomness``): ``"error"`` forbids random draws,
    ``"same"`` gives every column the same numbers, ``"different"`` new ones."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check_randomness(randomness)
        with observe_draws(level := Randomness(randomness)):
            return columns_of(level, *args, **kwargs)

    def columns_of(level: Randomness, *args: Any, **kwargs: Any) -> Any:
        from chainrule.ops.shape.join import stack

        nums = _check_argnums(argnums, len(args))
        flat, spec = tree_flatten(_select(args, argnums, nums))
        for p in flat:
            if not isinstance(p, Tensor):
                raise ValueError(f"Thing passed to transform API must be Tensor, got {type(p)}")

        def f(*leaves: Tensor) -> Any:
            return func(
                *_args_with(args, argnums, nums, tree_unflatten(list(leaves), spec)), **kwargs
            )

        columns: list[list] = []  # per input leaf: list of tangent outputs (flat)
        out_flat, out_spec, aux = None, None, None
        for j, p in enumerate(flat):
            cols = []
            for k in range(p.numel()):
                basis = [_zeros(q) for q in flat]
                one_hot = np.zeros_like(basis[j]._data)
                one_hot.flat[k] = 1
                basis[j] = _make(one_hot)
                level.next_slice()
                res = jvp(f, tuple(flat), tuple(basis), has_aux=has_aux)
                o_flat, o_spec = tree_flatten(res[0])
                out_flat, out_spec = o_flat, o_spec
                cols.append(tree_flatten(res[1])[0])
                if has_aux:
                    aux = res[2]
            columns.append(cols)
        if out_flat is None:  # no input elements at all: evaluate once for the shapes
            res = f(*flat)
            out, aux = _split_aux(res, has_aux, "jvp(f, primals, tangents)")
            out_flat, out_spec = tree_flatten(out)
        jacs = []
        for i, o in enumerate(out_flat):
            per_input = []
            for j, p in enumerate(flat):
                if columns[j]:
                    block = stack([c[i] for c in columns[j]], dim=-1)
                    per_input.append(block.reshape(o.shape + p.shape))
                else:
                    per_input.append(_make(np.zeros(o._data.shape + p._data.shape, o._data.dtype)))
            jacs.append(tree_unflatten(per_input, spec))
        result = tree_unflatten(jacs, out_spec)
        return (result, aux) if has_aux else result

    return wrapper


def hessian(func: Callable, argnums: int | tuple = 0) -> Callable:
    """The Hessian, as torch: ``jacfwd(jacrev(func, argnums), argnums)``."""
    return jacfwd(jacrev(func, argnums), argnums)

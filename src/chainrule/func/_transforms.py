"""torch.func's reverse-mode transforms on chainrule's tape: grad, grad_and_value, vjp,
jacrev (forward mode, jvp/jacfwd/hessian, is in ``_forward.py``).

Each call differentiates with respect to fresh tensors standing for the chosen arguments:
a detached leaf when the argument is a plain tensor, or an alias (a view, which keeps the
connection) when it already requires grad or carries a tangent, i.e. when an enclosing
transform, or ordinary autograd, will differentiate the result again. The inner gradient is
then built with ``create_graph=True`` exactly when its graph reaches a leaf that is not
one of this call's own (an argument of an enclosing transform, or a captured tensor that
requires grad); otherwise results come back detached, as torch.func's do. Forward mode is
used for ``jvp``/``jacfwd`` when no dual level is open; inside one (``jacfwd(jacfwd(f))``)
the jvp is computed by the double-vjp identity instead.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd import grad as _autograd_grad
from chainrule.autograd import graph as _graph
from chainrule.func._pytree import pprint, tree_flatten, tree_map, tree_unflatten
from chainrule.graph import enable_grad, is_grad_enabled
from chainrule.ops.op import forward_ad as _fw_state

__all__ = ["grad", "grad_and_value", "vjp", "jacrev"]


# --------------------------------------------------------------------------- plumbing


def _wrap(t: Any) -> tuple[Tensor, bool]:
    """A tensor to differentiate with respect to, and whether it is this call's own leaf."""
    if not isinstance(t, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(t)}")
    if t.requires_grad:
        return t.view_as(t), False
    if getattr(t, "_fw", None) is not None:  # a dual tensor: keep its tangent
        a = t.view_as(t)
        return a.requires_grad_(), True
    return t.detach().requires_grad_(), True


def _wrap_all(flat: list) -> tuple[list, set]:
    wrapped, own = [], set()
    for t in flat:
        a, is_own = _wrap(t)
        wrapped.append(a)
        if is_own:
            own.add(id(a))
    return wrapped, own


def _reaches_outside(outputs: list, own: set) -> bool:
    """Does the graph of ``outputs`` reach a leaf requiring grad that is not ours?"""
    return any(id(t) not in own for t in _graph.leaves(outputs))


def _release(x: Any, keep: bool) -> Any:
    """Detach a result nobody outside will differentiate (keeping a forward tangent)."""
    if keep or not isinstance(x, Tensor) or not x.requires_grad:
        return x
    d = x.detach()
    tangent = getattr(x, "_fw", None)
    if tangent is not None and _fw_state.level:
        fwAD._set_tangent(d, tangent)
    return d


def _zeros(ref: Tensor) -> Tensor:
    return _make(np.zeros(ref._data.shape, ref._data.dtype))


def _check_argnums(argnums: Any, n: int) -> tuple[int, ...]:
    if isinstance(argnums, int) and not isinstance(argnums, bool):
        nums = (argnums,)
    elif isinstance(argnums, tuple):
        if not argnums:
            raise RuntimeError("argnums must be non-empty")
        if not all(isinstance(a, int) for a in argnums):
            raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
        if len(set(argnums)) != len(argnums):
            raise RuntimeError(f"argnums elements must be unique, got {argnums}")
        nums = argnums
    else:
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    for a in nums:
        if not -n <= a < n:
            raise RuntimeError(f"Got argnum={a}, but only {n} positional inputs")
    return tuple(a % n for a in nums)


def _args_with(args: tuple, argnums: Any, nums: tuple, new: Any) -> tuple:
    out = list(args)
    if isinstance(argnums, int):
        out[nums[0]] = new
    else:
        for i, v in zip(nums, new):
            out[i] = v
    return tuple(out)


def _select(args: tuple, argnums: Any, nums: tuple) -> Any:
    return args[nums[0]] if isinstance(argnums, int) else tuple(args[i] for i in nums)


def _split_aux(out: Any, has_aux: bool, where: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise RuntimeError(
            f"{where}: output of function f should be a tuple: (output, aux) if has_aux is True"
        )
    return out


def _only_tensors(flat: list, where: str) -> None:
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(
                f"{where}: expected f(*primals) to return only tensors, got unsupported type "
                f"{type(o)}"
            )


def _grads(outs: list, wrt: list, cots: list | None, keep: bool, retain: bool = True) -> list:
    """Gradients of ``outs`` (weighted by ``cots``) for each of ``wrt``; zeros if unused.
    ``retain=False`` frees the graph (a second call raises the engine's error)."""
    pairs = [(o, c) for o, c in zip(outs, cots or [None] * len(outs)) if o.requires_grad]
    if not pairs:
        return [_zeros(w) for w in wrt]
    gs = _autograd_grad(
        [o for o, _ in pairs], wrt, [c for _, c in pairs], retain_graph=retain,
        create_graph=keep, allow_unused=True,
    )  # fmt: skip
    return [_zeros(w) if g is None else g for g, w in zip(gs, wrt)]


# --------------------------------------------------------------------------- reverse mode


def grad_and_value(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """``(gradient, value)`` of a scalar function (``((gradient, (value, aux))`` with aux)."""
    where = "grad_and_value(f)(*args)"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nums = _check_argnums(argnums, len(args))
        outer = is_grad_enabled()
        with enable_grad():
            flat, spec = tree_flatten(_select(args, argnums, nums))
            wrapped, own = _wrap_all(flat)
            new = _args_with(args, argnums, nums, tree_unflatten(wrapped, spec))
            out, aux = _split_aux(func(*new, **kwargs), has_aux, where)
            if not isinstance(out, Tensor):
                raise RuntimeError(
                    f"{where}: Expected f(*args) to return a Tensor, got {type(out)}"
                )
            if out.dim() != 0:
                raise RuntimeError(
                    f"{where}: Expected f(*args) to return a scalar Tensor, got tensor with "
                    f"{out.dim()} dims. Maybe you wanted to use the vjp or jacrev APIs instead?"
                )
            keep = outer and _reaches_outside([out], own)
            gs = _grads([out], wrapped, None, keep)
        gs = tree_unflatten([_release(g, keep) for g in gs], spec)
        out = _release(out, keep)
        if has_aux:
            return gs, (out, tree_map(lambda a: _release(a, keep), aux))
        return gs, out

    return wrapper


def grad(func: Callable, argnums: int | tuple = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar function with respect to the ``argnums`` arguments."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` gives one gradient per primal."""
    where = "vjp(f, *primals)"
    outer = is_grad_enabled()
    with enable_grad():
        flat, spec = tree_flatten(primals)
        wrapped, own = _wrap_all(flat)
        out, aux = _split_aux(func(*tree_unflatten(wrapped, spec)), has_aux, where)
        out_flat, out_spec = tree_flatten(out)
        _only_tensors(out_flat, where)
        reaches = _reaches_outside(out_flat, own)

    def vjp_fn(cotangents: Any, retain_graph: bool = True, create_graph: bool | None = None):
        """The gradients for ``cotangents``; torch's options: ``retain_graph=False`` frees
        the graph (calling again raises), ``create_graph`` (default: grad mode) builds the
        result's graph where it reaches tensors requiring grad outside this call."""
        ct_flat, ct_spec = tree_flatten(cotangents)
        if ct_spec != out_spec:
            raise RuntimeError(
                "Expected pytree structure of cotangents to be the same as pytree structure of "
                f"outputs to the function. cotangents: {pprint(ct_spec)}, primal output: "
                f"{pprint(out_spec)}"
            )
        build = is_grad_enabled() if create_graph is None else create_graph
        live = any(isinstance(c, Tensor) and c.requires_grad for c in ct_flat)
        keep = bool(build) and (reaches or live)
        with enable_grad():
            gs = _grads(out_flat, wrapped, ct_flat, keep, retain_graph)
        return tree_unflatten([_release(g, keep) for g in gs], spec)

    keep_out = outer and reaches
    out = tree_unflatten([_release(o, keep_out) for o in out_flat], out_spec)
    if has_aux:
        return out, vjp_fn, tree_map(lambda a: _release(a, keep_out), aux)
    return out, vjp_fn


def jacrev(
    func: Callable,
    argnums: int | tuple = 0,
    *,
    has_aux: bool = False,
    chunk_size: int | None = None,
    _preallocate_and_copy: bool = False,
) -> Callable:
    """The Jacobian by reverse mode: one backward per output element. Output i with respect
    to argument j has shape ``out_i.shape + arg_j.shape`` (nested like outputs, then args).

    ``chunk_size`` (torch: how many rows one vmapped vjp computes at once; ``1`` is torch's
    for-loop) is checked as torch checks it and changes nothing else here: the rows are
    computed one at a time already, and the Jacobian is the same. ``_preallocate_and_copy``
    (torch: write the chunks into one preallocated tensor) likewise only changes memory."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")
    where = "vjp(f, *primals)"

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from chainrule.ops.shape.join import stack

        nums = _check_argnums(argnums, len(args))
        outer = is_grad_enabled()
        with enable_grad():
            flat, spec = tree_flatten(_select(args, argnums, nums))
            wrapped, own = _wrap_all(flat)
            new = _args_with(args, argnums, nums, tree_unflatten(wrapped, spec))
            out, aux = _split_aux(func(*new, **kwargs), has_aux, where)
            out_flat, out_spec = tree_flatten(out)
            _only_tensors(out_flat, where)
            keep = outer and _reaches_outside(out_flat, own)
            jacs = []
            for o in out_flat:
                rows = [_grads([e], wrapped, None, keep) for e in o.reshape(-1)]
                per_input = []
                for j, w in enumerate(wrapped):
                    if rows:
                        block = stack([r[j] for r in rows]).reshape(o.shape + w.shape)
                    else:
                        block = _make(np.zeros(o._data.shape + w._data.shape, w._data.dtype))
                    per_input.append(_release(block, keep))
                jacs.append(tree_unflatten(per_input, spec))
        result = tree_unflatten(jacs, out_spec)
        if has_aux:
            return result, tree_map(lambda a: _release(a, keep), aux)
        return result

    return wrapper

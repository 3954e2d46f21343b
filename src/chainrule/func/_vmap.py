"""``vmap`` as a loop: the function runs once per slice of the mapped dimension and the
results are stacked (torch's semantics and errors; torch batches the ops instead). Being
built from ``select`` and ``stack``, it nests and composes with the other transforms."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrule._tensor import Tensor
from chainrule.func._pytree import LEAF, tree_flatten, tree_unflatten

__all__ = ["vmap"]


def _broadcast_dims(dims: Any, spec: Any, name: str, in_dims: Any, what: str) -> list:
    """One in_dim (or out_dim) per leaf of ``spec``."""
    if dims is None or isinstance(dims, int):
        return [dims] * (1 if spec == LEAF else spec.num_leaves())
    dflat, dspec = tree_flatten(dims)
    if spec == LEAF or dspec == LEAF or len(dspec.children) != len(spec.children):
        raise ValueError(
            f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible with "
            f"the structure of `inputs`. in_dims has structure {dspec} but inputs has "
            f"structure {spec}."
        )
    out = []
    for d, child in zip(dims, spec.children):
        out += _broadcast_dims(d, child, name, in_dims, what)
    return out


def vmap(
    func: Callable,
    in_dims: Any = 0,
    out_dims: Any = 0,
    randomness: str = "error",
    *,
    chunk_size: int | None = None,
) -> Callable:
    """Map ``func`` over a dimension of its inputs (``in_dims``), stacking the results at
    ``out_dims``. A first version: a loop over the batch (see the module docstring)."""
    name = getattr(func, "__name__", repr(func))

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from chainrule.ops.shape.join import stack

        flat, spec = tree_flatten(args)
        dims_in = in_dims if not isinstance(in_dims, list) else tuple(in_dims)
        dims = _broadcast_dims(dims_in, spec, name, in_dims, "in_dims")
        sizes = []
        for x, d in zip(flat, dims):
            if d is None:
                continue
            if not isinstance(x, Tensor):
                raise ValueError(
                    f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for an input "
                    f"but the input is of type {type(x)}. We cannot vmap over non-Tensor "
                    "arguments, please use None as the respective in_dim"
                )
            n = x.dim()
            if not -n <= d < n:
                raise ValueError(
                    f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={d} for some "
                    f"input, but that input is a Tensor of dimensionality {n} so expected in_dim "
                    f"to satisfy -{n} <= in_dim < {n}."
                )
            sizes.append(x.shape[d])
        if not sizes:
            raise ValueError(
                f"vmap({name}, in_dims={in_dims}, ...)(<inputs>): at least one input must be a "
                "Tensor to be mapped over (got in_dims=None for every input)"
            )
        if len(set(sizes)) != 1:
            raise ValueError(
                "vmap: Expected all tensors to have the same size in the mapped dimension, got "
                f"sizes {sizes} for the mapped dimension"
            )
        results = []
        for b in range(sizes[0]):
            sliced = [x if d is None else _take(x, d, b) for x, d in zip(flat, dims)]
            results.append(func(*tree_unflatten(sliced, spec), **kwargs))
        outs = [tree_flatten(r) for r in results]
        out_spec = outs[0][1]
        odims = _broadcast_dims(out_dims, out_spec, name, out_dims, "out_dims")
        stacked = []
        for i, od in enumerate(odims):
            column = [o[0][i] for o in outs]
            if od is None:
                stacked.append(column[0])
                continue
            for c in column:
                if not isinstance(c, Tensor):
                    raise ValueError(
                        f"vmap({name}, ...): `{name}` must only return Tensors, got type "
                        f"{type(c)}. Did you mean to set out_dims= to None for output?"
                    )
            stacked.append(stack(column, dim=od))
        return tree_unflatten(stacked, out_spec)

    return wrapper


def _take(x: Tensor, dim: int, i: int) -> Tensor:
    """Slice ``i`` of dimension ``dim`` (a differentiable view)."""
    index = [slice(None)] * x.dim()
    index[dim] = i
    return x[tuple(index)]

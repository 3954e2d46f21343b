"""``vmap`` as a loop: the function runs once per slice of the mapped dimension and the
results are stacked (torch's semantics and errors; torch batches the ops instead). Being
built from ``select`` and ``stack``, it nests and composes with the other transforms.

Random draws inside the mapped function follow ``randomness`` as torch defines it (see
``Randomness``); ``jacfwd``, a vmap of jvp in torch, uses the same rule per column."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from chainrule._tensor import Tensor
from chainrule.creation import Generator, observe_draws
from chainrule.func._pytree import LEAF, tree_flatten, tree_unflatten

__all__ = ["vmap"]

RANDOMNESS_ERROR = (
    "vmap: called random operation while in randomness error mode. Please either use the "
    "'same' or 'different' randomness flags on vmap or perform the randomness operation out "
    "of vmap"
)


def check_randomness(randomness: Any) -> None:
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(
            "Only allowed values for randomness are 'error', 'different', or 'same'. Got "
            f"{randomness}"
        )


class Randomness:
    """One vmap level's rule for the random draws of the mapped function, as torch's:
    ``"error"`` forbids them (torch's RuntimeError, also from a vmap nested inside);
    ``"different"`` lets every slice draw afresh, so each batch element gets its own
    numbers; ``"same"`` rewinds each generator the function draws from to where it stood at
    its first draw before every slice, so every batch element gets the same numbers and the
    generator ends one slice's draws further on (torch draws once for the whole batch).

    Installed with ``creation.observe_draws(level)`` around the loop; ``next_slice()``
    before each slice. torch's two errors about batched tensors (``"same"`` with a random
    op's batched input, ``"different"`` for an in-place draw into an unbatched tensor) are
    not raised: a loop does not know which tensors are batched."""

    def __init__(self, mode: str) -> None:
        check_randomness(mode)
        self.mode = mode
        self.start: dict[int, tuple[Generator, Any]] = {}

    def __call__(self, generator: Generator) -> None:
        if self.mode == "error":
            raise RuntimeError(RANDOMNESS_ERROR)
        if self.mode == "same" and id(generator) not in self.start:
            self.start[id(generator)] = (generator, generator.get_state())

    def next_slice(self) -> None:
        for generator, state in self.start.values():
            generator.set_state(state)


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
    ``out_dims``: a loop over the batch (see the module docstring). ``randomness`` is
    torch's (``Randomness``). ``chunk_size`` (torch: how many slices one batched call
    computes at once, trading memory for speed) is checked as torch checks it and changes
    nothing else: a loop already computes one slice at a time, and torch's chunks follow
    the same randomness rule (``"same"`` rewinds the generator for each chunk)."""
    check_randomness(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")
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
        level = Randomness(randomness)
        with observe_draws(level):
            for b in range(sizes[0]):
                sliced = [x if d is None else _take(x, d, b) for x, d in zip(flat, dims)]
                level.next_slice()
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

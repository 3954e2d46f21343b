"""Parameters flattened into one vector and back (parameters_to_vector, vector_to_parameters)."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule._tensor import Tensor, _make

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-d tensor (differentiable, like torch)."""
    from chainrule.ops.shape.join import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Make each parameter's data a slice of ``vec`` (shares memory with ``vec``, like torch)."""
    if not isinstance(vec, Tensor):
        from chainrule.nn.module import typename

        raise TypeError(f"expected chainrule.Tensor, but got: {typename(vec)}")
    pointer = 0
    for param in parameters:
        n = param._data.size
        # torch's `param.data = ...`: rebinding, not a write, so the version does not move
        param.data = _make(vec._data[pointer : pointer + n].reshape(param._data.shape))
        pointer += n

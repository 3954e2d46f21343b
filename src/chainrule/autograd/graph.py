"""The computation graph, for reading (``torch.autograd.graph``), and a window on backward.

A tensor made by a recorded op has a ``grad_fn``: a ``Node``. ``node.name()`` is torch's
name for it (``MulBackward0``), ``node.next_functions`` its inputs as ``(node, 0)`` pairs
(``None`` where no gradient goes; an ``AccumulateGrad`` node, whose ``.variable`` is the
tensor, for a leaf), and ``register_hook``/``register_prehook`` attach hooks the engine runs
as torch does. Two additions of chainrule's, so that tools never re-walk the graph on their
own:

* ``walk(roots)``: every node reachable from ``roots`` in reverse topological order (the
  order backward steps them in); ``leaves(roots)``: the leaf tensors requiring grad that
  the graph reaches. Both take ``stop=``, tensors or nodes the walk does not pass.
* ``observe(observer)``: a ``BackwardObserver`` sees every step of the one backward walk
  (hooks, each node's gradient in and out, each leaf's accumulation) of ``backward`` and
  ``autograd.grad`` inside the block. ``explain_backward``, ``viz`` and ``func`` are built
  on these.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, NamedTuple

from chainrule._engine import AccumulateGrad, BackwardObserver, observe, reachable, vertex
from chainrule._tensor import Tensor
from chainrule.ops.op import Op, _accumulator

__all__ = [
    "Node", "GradientEdge", "get_gradient_edge", "walk", "leaves", "observe",
    "BackwardObserver",
]  # fmt: skip


class Node(abc.ABC):
    """What every ``grad_fn`` is (``isinstance(t.grad_fn, Node)``): op nodes and leaves'
    ``AccumulateGrad`` nodes."""

    @abc.abstractmethod
    def name(self) -> str:
        """The node's name, as torch names its ``grad_fn`` (``"MulBackward0"``)."""

    @property
    @abc.abstractmethod
    def next_functions(self) -> tuple:
        """``((node, input_nr), ...)``: per input, the node its gradient goes to next (an
        ``AccumulateGrad`` for a leaf, ``None`` for an input without gradient)."""


Node.register(Op)
Node.register(AccumulateGrad)


class GradientEdge(NamedTuple):
    """Where a tensor's gradient goes: its ``grad_fn`` (or its leaf's ``AccumulateGrad``)."""

    node: Any
    output_nr: int


def get_gradient_edge(tensor: Tensor) -> GradientEdge:
    """The gradient edge of ``tensor`` (torch's ``get_gradient_edge``)."""
    if not tensor.requires_grad:
        raise RuntimeError(
            "It is not possible to get the gradient edge for a Tensor that does not require "
            "gradients"
        )
    v = vertex(tensor)
    return GradientEdge(_accumulator(v) if isinstance(v, Tensor) else v, 0)


def _node(v: Any) -> Any:
    return _accumulator(v) if isinstance(v, Tensor) else v


def walk(roots: Any, *, stop: Iterable[Any] = ()) -> list[Any]:
    """The nodes reachable from ``roots`` (a tensor, a node, or a sequence of them), each
    listed before the nodes of its inputs: a reverse topological order, the one backward
    follows. Leaves appear as their ``AccumulateGrad`` node. The vertices of ``stop``
    (tensors or nodes) are neither listed nor walked through."""
    return [_node(v) for v in reachable(_seq(roots), stop)]


def leaves(roots: Any, *, stop: Iterable[Any] = ()) -> list[Tensor]:
    """The leaf tensors requiring grad that the graph of ``roots`` reaches (a root that is
    such a leaf included), not passing through the vertices of ``stop``."""
    return [v for v in reachable(_seq(roots), stop) if isinstance(v, Tensor)]


def _seq(roots: Any) -> list[Any]:
    if isinstance(roots, Tensor | Op | AccumulateGrad):
        return [roots]
    return [r for r in roots if isinstance(r, Tensor | Op | AccumulateGrad)]

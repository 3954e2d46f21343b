"""Nested tuples, lists and dicts of tensors ("pytrees") as flat lists, and back."""

from __future__ import annotations

from typing import Any

__all__: list[str] = []

LEAF = "*"


class TreeSpec:
    """The shape of a pytree: a container type, its keys and its children's specs."""

    def __init__(self, kind: type, context: Any, children: list) -> None:
        self.kind, self.context, self.children = kind, context, children

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TreeSpec)
            and (self.kind, self.context) == (other.kind, other.context)
            and self.children == other.children
        )

    def __hash__(self) -> int:
        return hash((self.kind, len(self.children)))

    def __repr__(self) -> str:
        inner = ",\n  ".join(c if c == LEAF else repr(c) for c in self.children)
        return f"TreeSpec({self.kind.__name__}, {self.context}, [{inner}])"

    def num_leaves(self) -> int:
        return sum(1 if c == LEAF else c.num_leaves() for c in self.children)


def tree_flatten(tree: Any) -> tuple[list, Any]:
    if isinstance(tree, tuple | list):
        leaves, specs = [], []
        for c in tree:
            ls, s = tree_flatten(c)
            leaves += ls
            specs.append(s)
        return leaves, TreeSpec(type(tree), None, specs)
    if isinstance(tree, dict):
        leaves, specs = [], []
        keys = list(tree)
        for k in keys:
            ls, s = tree_flatten(tree[k])
            leaves += ls
            specs.append(s)
        return leaves, TreeSpec(dict, keys, specs)
    return [tree], LEAF


def tree_unflatten(leaves: list, spec: Any) -> Any:
    it = iter(leaves)

    def build(s: Any) -> Any:
        if s == LEAF:
            return next(it)
        children = [build(c) for c in s.children]
        if s.kind is dict:
            return dict(zip(s.context, children))
        if s.kind in (tuple, list):
            return s.kind(children)
        return s.kind(*children)  # namedtuple

    return build(spec)


def tree_map(fn: Any, tree: Any) -> Any:
    leaves, spec = tree_flatten(tree)
    return tree_unflatten([fn(x) for x in leaves], spec)


def pprint(spec: Any) -> str:
    """The short form torch prints in vjp's messages: ``(*, *)``, ``[*]``, ``{'a': *}``."""
    if spec == LEAF:
        return LEAF
    parts = [pprint(c) for c in spec.children]
    if spec.kind is dict:
        return "{" + ", ".join(f"{k!r}: {p}" for k, p in zip(spec.context, parts)) + "}"
    if spec.kind is list:
        return "[" + ", ".join(parts) + "]"
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"

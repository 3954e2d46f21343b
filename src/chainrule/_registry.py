"""The op registry: one declaration per public operation, from which chainrule's namespaces
and ``Tensor``'s methods are built.

An op is declared where it is defined, by decorating its public function::

    @op(aliases=("absolute",), inplace=True, inplace_function=("abs_",))
    def abs(input: Tensor) -> Tensor:
        ...

That one line gives ``chainrule.abs`` and ``chainrule.absolute`` (the namespace), the
methods ``Tensor.abs`` / ``Tensor.absolute``, the in-place ``Tensor.abs_`` /
``Tensor.absolute_`` and the in-place function ``chainrule.abs_`` (torch has no
``torch.absolute_``). The rest of an op's declaration lives on its ``Op`` class, next to
its forward and backward: torch's grad_fn name (``torch_name``, ``overload``), the
derivative in words for ``explain_backward`` (``formula``) and the forward-mode rule
(``jvp_rule``); the dtypes it refuses are checked by its function. Options of ``op``:

* ``namespace``: where the function is public, as torch has it: ``""`` (``chainrule.X``,
  the default), ``"nn.functional"``, ``"linalg"``, or a tuple of several;
* ``method``: also a ``Tensor`` method taking the tensor as its first argument (default);
* ``inplace``: also the in-place method ``name_`` (the op followed by a write into self);
  ``inplace="view"`` for a view op: ``name_`` makes self that view (``t_``, ``squeeze_``);
* ``inplace_function``: also the in-place *function* ``name_`` (``torch.exp_(x)``,
  ``F.elu_(x)``), which torch has for some ops only: ``True`` in each of the op's
  namespaces under each of its names, or the ones torch has, spelled as torch does
  (``("tanh_",)``: ``chainrule.tanh_`` but no ``nn.functional.tanh_``; ``("abs_",)``: no
  ``absolute_``; ``"nn.functional.relu_"``). It is ``input.name_(...)`` (the method), or,
  for a function with an ``inplace`` parameter, the function with ``inplace=True`` (its
  signature less that parameter: ``F.elu_(input, alpha=1.0)``); its ``inplace_of`` is the
  op's function;
* ``dunders``: operators bound to the function: ``"__add__"`` as is, ``"__radd__"`` with
  the operands swapped, ``"__iadd__"`` in place.

``tensor_method`` declares a method with no function of the same name (``Tensor.view``,
``Tensor.T``, ``Tensor.new_zeros``). Nothing here imports NumPy or the rest of chainrule:
``ops/__init__.py`` binds the methods once every family has registered, and the package
``__init__`` files export ``names(namespace)``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "op",
    "tensor_method",
    "Method",
    "FUNCTIONS",
    "METHODS",
    "names",
    "export",
    "export_package",
]

F = TypeVar("F", bound=Callable[..., Any])

# namespace ("" for chainrule itself) -> public name -> function
FUNCTIONS: dict[str, dict[str, Callable[..., Any]]] = {}


@dataclass(frozen=True)
class Method:
    """A Tensor attribute to bind: ``fn`` taken as a method, property or operator."""

    fn: Callable[..., Any]
    # "method", "property", "inplace" (fn then write), "inplace_view" (self becomes the view
    # fn makes) or "reflected"
    kind: str = "method"


# Tensor attribute name -> how to make it
METHODS: dict[str, Method] = {}

# set by chainrule.ops once it has bound METHODS onto Tensor: a method declared later (a
# module imported afterwards) is bound as it is declared
late_binder: Callable[[str, Method], None] | None = None


def _add(table: dict, key: str, value: Any, what: str) -> None:
    old = table.get(key)
    if old is not None and _origin(old) != _origin(value):
        raise ValueError(f"{what} {key!r} is declared twice: {_origin(old)} and {_origin(value)}")
    table[key] = value


def _origin(x: Any) -> str:
    fn = x.fn if isinstance(x, Method) else x
    where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}"
    return f"{where} ({getattr(x, 'kind', 'function')})"


def op(
    fn: F | None = None,
    *,
    name: str | None = None,
    aliases: tuple[str, ...] = (),
    namespace: str | tuple[str, ...] = "",
    method: bool = True,
    inplace: bool | str = False,
    inplace_function: bool | str | tuple[str, ...] = False,
    dunders: tuple[str, ...] = (),
) -> Any:
    """Declare a public op (see the module docstring); returns the function unchanged."""

    if inplace not in (False, True, "view"):
        raise ValueError(f"inplace must be True, False or 'view', not {inplace!r}")

    def declare(fn: F) -> F:
        spaces = (namespace,) if isinstance(namespace, str) else namespace
        publics = (name or fn.__name__, *aliases)
        wanted = _inplace_functions(inplace_function, spaces, publics, fn)
        # made (and checked) before anything is registered; one object in every namespace
        made = {
            public: _inplace_function(fn, public, bool(inplace))
            for public in {p for _, p in wanted}
        }
        for public in publics:
            for space in spaces:
                _add(FUNCTIONS.setdefault(space, {}), public, fn, "function")
                if (space, public) in wanted:
                    _add(FUNCTIONS[space], f"{public}_", made[public], "function")
            if method:
                _add(METHODS, public, Method(fn), "method")
            if inplace:
                kind = "inplace_view" if inplace == "view" else "inplace"
                _add(METHODS, f"{public}_", Method(fn, kind), "method")
        for dunder in dunders:
            kind = _dunder_kind(dunder)
            _add(METHODS, dunder, Method(fn, kind), "operator")
        _bind_late(fn)
        return fn

    return declare if fn is None else declare(fn)


# Python's binary operators: "__r" + one is reflected, "__i" + one in place ("__rshift__"
# itself is not a reflected "shift")
_BINARY_DUNDERS = {
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor",
    "lshift", "rshift",
}  # fmt: skip


def _dunder_kind(dunder: str) -> str:
    if dunder[3:-2] in _BINARY_DUNDERS:
        return {"__r": "reflected", "__i": "inplace"}.get(dunder[:3], "method")
    return "method"


def _inplace_functions(
    spec: bool | str | tuple[str, ...],
    spaces: tuple[str, ...],
    publics: tuple[str, ...],
    fn: Callable[..., Any],
) -> set[tuple[str, str]]:
    """The (namespace, name) pairs ``inplace_function=`` asks for: all of them for ``True``,
    else the ones it names (``"tanh_"``, ``"nn.functional.relu_"``), which must be the op's."""
    every = {(space, public) for space in spaces for public in publics}
    if spec is True or spec is False:
        return every if spec else set()
    wanted = set()
    for qualified in (spec,) if isinstance(spec, str) else spec:
        space, _, public = qualified.rpartition(".")
        if (space, public[:-1]) not in every or not public.endswith("_"):
            raise ValueError(
                f"{fn.__qualname__}: inplace_function {qualified!r} is not one of its names "
                "followed by '_' (namespace first, as 'nn.functional.relu_')"
            )
        wanted.add((space, public[:-1]))
    return wanted


def _inplace_function(fn: Callable[..., Any], public: str, has_method: bool) -> Callable[..., Any]:
    """The function ``public_``: ``fn`` with ``inplace=True`` if it has that parameter
    (``F.elu_``), else the in-place method ``input.public_(...)`` (``torch.exp_``)."""
    sig = inspect.signature(fn)
    name = f"{public}_"
    if "inplace" in sig.parameters:

        def inplace_fn(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs, inplace=True)

        sig = sig.replace(parameters=[p for p in sig.parameters.values() if p.name != "inplace"])
    elif has_method:

        def inplace_fn(input: Any, *args: Any, **kwargs: Any) -> Any:
            method = getattr(type(input), name, None)
            if method is None:  # not a tensor
                raise TypeError(
                    f"{name}(): argument 'input' (position 1) must be Tensor, "
                    f"not {type(input).__name__}"
                )
            return method(input, *args, **kwargs)

        first = next(iter(sig.parameters))  # torch's in-place functions call it ``input``
        if first != "input":
            raise ValueError(f"{fn.__qualname__}: in-place function's first parameter {first!r}")
    else:
        raise ValueError(
            f"{fn.__qualname__}: an in-place function {name} needs the in-place method "
            "(inplace=True) or an `inplace` parameter"
        )
    inplace_fn.__name__ = name
    inplace_fn.__qualname__ = f"{fn.__qualname__}_" if public == fn.__name__ else name
    inplace_fn.__module__ = fn.__module__
    inplace_fn.__doc__ = f"In-place ``{public}``: ``input`` itself, written (torch's ``{name}``)."
    inplace_fn.__signature__ = sig  # type: ignore[attr-defined]
    inplace_fn.__wrapped__ = fn  # type: ignore[attr-defined]
    inplace_fn.inplace_of = fn  # type: ignore[attr-defined]
    return inplace_fn


def tensor_method(fn: F | None = None, *, name: str | None = None, property: bool = False) -> Any:
    """Declare a Tensor method (or property) that has no function of its own name."""

    def declare(fn: F) -> F:
        _add(
            METHODS, name or fn.__name__, Method(fn, "property" if property else "method"), "method"
        )
        return fn

    return declare if fn is None else declare(fn)


def _bind_late(fn: Callable[..., Any]) -> None:
    if late_binder is not None:
        for name, m in METHODS.items():
            if m.fn is fn:
                late_binder(name, m)


def names(namespace: str = "") -> list[str]:
    """The public names of a namespace, in declaration order."""
    return list(FUNCTIONS.get(namespace, {}))


def export(scope: dict[str, Any], namespace: str) -> list[str]:
    """Put a namespace's functions into a module's globals; returns its ``__all__``."""
    table = FUNCTIONS.get(namespace, {})
    scope.update(table)
    return list(table)


def export_package(scope: dict[str, Any], package: str) -> list[str]:
    """Put the functions declared in a package's modules (under any public name) into the
    package's globals, so ``from chainrule.ops.elementwise import add`` works; returns them."""
    found: dict[str, Any] = {}
    for table in FUNCTIONS.values():
        for public, fn in table.items():
            if fn.__module__ == package or fn.__module__.startswith(package + "."):
                found[public] = fn
    scope.update(found)
    return list(found)

"""``func.functional_call``: run a module with some parameters and buffers swapped for given
tensors, then put the module's own back (torch.func's stateless call)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_MISSING = object()


def functional_call(
    module: Any,
    parameter_and_buffer_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    args: Any = None,
    kwargs: dict[str, Any] | None = None,
    *,
    tie_weights: bool = True,
    strict: bool = False,
) -> Any:
    """``module(*args, **kwargs)`` with the named tensors in place of the module's own.

    Several dicts may be given (none may repeat a key); with ``tie_weights`` a tensor given
    for one name of a tied parameter replaces every name it is tied to; ``strict`` requires
    exactly the module's parameters and buffers."""
    dicts = (
        [parameter_and_buffer_dicts]
        if isinstance(parameter_and_buffer_dicts, Mapping)
        else list(parameter_and_buffer_dicts)
    )
    values: dict[str, Any] = {}
    for d in dicts:
        repeated = sorted(k for k in d if k in values)
        if repeated:
            raise ValueError(
                f"{repeated} appeared in multiple dictionaries; behavior of functional call "
                "is ambiguous"
            )
        values.update(d)
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _swapped(module, values, tie_weights, strict):
        return module(*args, **(kwargs or {}))


def _tied_names(module: Any) -> dict[str, list[str]]:
    """Each parameter or buffer name -> every name sharing that tensor."""
    by_id: dict[int, list[str]] = {}
    for name, t in [
        *module.named_parameters(remove_duplicate=False),
        *module.named_buffers(remove_duplicate=False),
    ]:
        by_id.setdefault(id(t), []).append(name)
    return {name: names for names in by_id.values() for name in names}


@contextlib.contextmanager
def _swapped(
    module: Any, values: dict[str, Any], tie_weights: bool, strict: bool
) -> Iterator[None]:
    tied = _tied_names(module)
    if strict:
        unexpected = sorted(k for k in values if k not in tied)
        missing = sorted(k for k in tied if k not in values)
        if unexpected or missing:
            lines = [f"Error(s) in reparametrizing for {type(module).__name__}:"]
            if unexpected:
                lines.append(
                    "\tUnexpected key(s): " + ", ".join(f"'{k}'" for k in unexpected) + "."
                )
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(f"'{k}'" for k in missing) + ".")
            raise RuntimeError("\n".join(lines))
    if tie_weights:
        values = dict(values)
        for name, tensor in list(values.items()):
            for other in tied.get(name, ()):
                if other in values and values[other] is not tensor:
                    group = sorted(n for n in tied[name] if n in values)
                    raise ValueError(
                        f"functional_call got multiple values for keys {group}, which are "
                        "tied. Consider using tie_weights=False"
                    )
                values[other] = tensor
    saved = []
    try:
        for name, tensor in values.items():
            owner_path, _, attr = name.rpartition(".")
            owner = module.get_submodule(owner_path)
            d = owner.__dict__
            slot = next(
                (s for s in (d["_parameters"], d["_buffers"]) if attr in s), d
            )  # a parameter, a buffer, or (not strict) a plain attribute for the call
            saved.append((slot, attr, slot.get(attr, _MISSING)))
            slot[attr] = tensor
        yield
    finally:
        for slot, attr, old in reversed(saved):
            if old is _MISSING:
                del slot[attr]
            else:
                slot[attr] = old

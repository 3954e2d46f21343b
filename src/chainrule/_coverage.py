"""Which of torch's public names chainrule has: the supported-API page and the hint in
AttributeError.

``python -m chainrule._coverage`` (run where torch is installed, as the test oracle is)
records torch's public names per namespace in ``_torch_names.json`` and writes
``docs/supported.md`` from it and from what chainrule has; ``--check`` fails when either
is stale (a test runs it). At run time chainrule reads only the JSON, never torch: an
``AttributeError`` for a name torch has says that chainrule does not implement it yet.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import pathlib
import sys
import types
from typing import Any

_HERE = pathlib.Path(__file__).parent
NAMES_FILE = _HERE / "_torch_names.json"
PAGE = _HERE.parent.parent / "docs" / "supported.md"
PAGE_URL = "docs/supported.md"

# torch's namespace -> chainrule's module (or "Tensor" for the tensor's methods)
NAMESPACES = {
    "torch": "chainrule",
    "torch.Tensor": "Tensor",
    "torch.nn": "chainrule.nn",
    "torch.nn.functional": "chainrule.nn.functional",
    "torch.nn.init": "chainrule.nn.init",
    "torch.linalg": "chainrule.linalg",
    "torch.autograd": "chainrule.autograd",
    "torch.func": "chainrule.func",
    "torch.optim": "chainrule.optim",
    "torch.optim.lr_scheduler": "chainrule.optim.lr_scheduler",
    "torch.distributions": "chainrule.distributions",
    "torch.special": "chainrule.special",
    "torch.utils.data": "chainrule.utils.data",
    "torch.distributed": "chainrule.distributed",
    "torch.nn.parallel": "chainrule.nn.parallel",
}


@functools.cache
def torch_names() -> dict[str, list[str]]:
    """torch's public names per namespace, as recorded (empty if the file is missing)."""
    try:
        return json.loads(NAMES_FILE.read_text())
    except OSError:
        return {}


def hint(namespace: str, name: str) -> str:
    """The sentence an AttributeError adds when torch has ``namespace.name``."""
    if name in torch_names().get(namespace, ()):
        return (
            f". chainrule does not implement {namespace}.{name} yet; {PAGE_URL} lists what it "
            "supports"
        )
    return ""


def missing_attribute(module: str, namespace: str) -> Any:
    """A module-level ``__getattr__`` raising torch-name-aware AttributeErrors."""

    def __getattr__(name: str) -> Any:
        raise AttributeError(f"module {module!r} has no attribute {name!r}{hint(namespace, name)}")

    return __getattr__


class _Missing:
    """On Tensor, for each of torch.Tensor's names chainrule lacks: reading it raises the
    AttributeError with the hint (a class attribute, so other lookups pay nothing)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        who = (
            f"'{type(obj).__name__}' object"
            if obj is not None
            else f"type object '{owner.__name__}'"
        )
        raise AttributeError(
            f"{who} has no attribute {self.name!r}{hint('torch.Tensor', self.name)}"
        )


def mark_missing_methods(cls: type) -> None:
    """Put a ``_Missing`` on ``cls`` for each torch.Tensor name it lacks (a method declared
    later replaces it)."""
    for name in torch_names().get("torch.Tensor", ()):
        if not hasattr(cls, name):
            setattr(cls, name, _Missing(name))


# ---------------------------------------------------------------- generating (needs torch)


def _submodules(obj: Any) -> set[str]:
    """A package's public submodules, found on disk (dir() would depend on what has been
    imported so far: torch.distributions is not in torch.__all__, yet public)."""
    import pkgutil

    paths = getattr(obj, "__path__", [])
    return {m.name for m in pkgutil.iter_modules(paths) if not m.name.startswith("_")}


def _public(obj: Any) -> list[str]:
    if isinstance(obj, types.ModuleType) and hasattr(obj, "__all__"):
        return sorted(set(obj.__all__) | _submodules(obj))
    out = []
    for n in dir(obj):
        if n.startswith("_"):
            continue
        v = getattr(obj, n, None)
        if isinstance(obj, types.ModuleType):
            if isinstance(v, types.ModuleType) and v.__name__.startswith(obj.__name__ + "."):
                continue  # a submodule: listed from disk below, loaded or not
            if isinstance(v, types.ModuleType) and not v.__name__.startswith("torch"):
                continue  # `import math` inside torch.nn.functional is not torch's API
            owner = getattr(v, "__module__", None)
            if isinstance(owner, str) and not owner.startswith("torch") and not callable(v):
                continue
            if isinstance(owner, str) and owner in ("typing", "collections", "abc"):
                continue
        out.append(n)
    if isinstance(obj, types.ModuleType):
        out = sorted(set(out) | _submodules(obj))
    return sorted(out)


def record_torch_names() -> dict[str, list[str]]:
    import torch  # the oracle: only here, never at run time

    names = {}
    for ns in NAMESPACES:
        obj = torch.Tensor if ns == "torch.Tensor" else importlib.import_module(ns)
        names[ns] = _public(obj)
    return names


def _has(where: str, name: str) -> bool:
    if where == "Tensor":
        import chainrule  # the public namespace: loading it binds every method

        return hasattr(chainrule.Tensor, name)
    try:
        module = importlib.import_module(where)
    except ImportError:
        return False
    if hasattr(module, name):
        return True
    try:  # a submodule not imported yet (chainrule.distributed.run)
        return importlib.util.find_spec(f"{where}.{name}") is not None
    except ImportError:
        return False


def page(names: dict[str, list[str]]) -> str:
    lines = [
        "# What chainrule supports",
        "",
        "Every public name of these PyTorch namespaces (torch 2.13), and whether chainrule has",
        "it. Generated by `python -m chainrule._coverage`; a test fails when it is stale.",
        "A name chainrule lacks raises an AttributeError that says so and points here.",
        "Having a name means it is implemented and tested against torch; torch's internal",
        "names (the JIT's types, storage classes) are listed too and mostly missing.",
        "",
        "| namespace | torch's names | in chainrule | share |",
        "|---|---|---|---|",
    ]
    detail = []
    for ns, where in NAMESPACES.items():
        have = [n for n in names[ns] if _has(where, n)]
        miss = [n for n in names[ns] if n not in have]
        share = f"{100 * len(have) / max(len(names[ns]), 1):.0f}%"
        lines.append(f"| `{ns}` | {len(names[ns])} | {len(have)} | {share} |")
        detail += [
            "",
            f"## `{ns}`",
            "",
            f"**Implemented ({len(have)}):** " + (", ".join(f"`{n}`" for n in have) or "none"),
            "",
            f"**Not yet ({len(miss)}):** " + (", ".join(f"`{n}`" for n in miss) or "none"),
        ]
    return "\n".join(lines + detail) + "\n"


def main(argv: list[str]) -> int:
    names = record_torch_names()
    text = json.dumps(names, indent=0, sort_keys=True) + "\n"
    out = page(names)
    if "--check" in argv:
        stale = [
            str(p) for p, want in ((NAMES_FILE, text), (PAGE, out))
            if not p.exists() or p.read_text() != want
        ]  # fmt: skip
        for p in stale:
            print(f"stale: {p} (run python -m chainrule._coverage)")
        return 1 if stale else 0
    NAMES_FILE.write_text(text)
    PAGE.write_text(out)
    print(NAMES_FILE, PAGE, sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

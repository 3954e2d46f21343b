"""Every op declared in the registry has at least one line in its family's test table."""

import importlib.util
import pathlib

import chainrule.ops  # noqa: F401  (every family declares its ops)
from chainrule import _registry

HERE = pathlib.Path(__file__).parent
# declared methods that are not in the op tables: integer/bool casts (no gradient to check)
# and the in-place writes, tested in tests/test_inplace.py and tests/test_inplace_forms.py
# (the in-place functions the registry makes, ``cr.exp_``, in tests/test_registry.py)
NOT_OPS = {"int", "long", "short", "bool", "half", "type"} | {
    "fill_",
    "zero_",
    "copy_",
    "uniform_",
    "normal_",
    "bernoulli_",
    "cumsum_",
    "cumprod_",
}


def _cases():
    names = set()
    for path in sorted(HERE.glob("test_*.py")):
        if path.name == "test_catalog.py":
            continue
        spec = importlib.util.spec_from_file_location(f"_catalog_{path.stem}", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        names |= {c.op for c in getattr(mod, "CASES", [])}
    return names


def test_every_public_op_has_a_case():
    covered = _cases()
    declared = {
        (fn.__module__, f"linalg.{name}" if space == "linalg" else name)
        for space, table in _registry.FUNCTIONS.items()
        for name, fn in table.items()
        if (fn.__module__.startswith("chainrule.ops.") or fn.__module__ == "chainrule.linalg")
        and not hasattr(fn, "inplace_of")
    } | {
        (m.fn.__module__, name)
        for name, m in _registry.METHODS.items()
        if m.kind == "method"
        and not name.startswith("_")
        and m.fn.__module__.startswith("chainrule.ops.")
    }
    missing = {
        f"{module.rsplit('.', 1)[-1]}.{name}"
        for module, name in declared
        if name not in covered and name not in NOT_OPS
    }
    assert not missing, f"public ops without a test case: {sorted(missing)}"

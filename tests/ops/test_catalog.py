"""Every public op has at least one line in its family's test table."""

import importlib.util
import pathlib

import chainrule.ops as ops

HERE = pathlib.Path(__file__).parent
# names in a family's __all__ that are not ops (helpers, namespaces)
NOT_OPS: set[str] = set()


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
    missing = {
        f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"
        for mod in ops.families()
        for name in mod.__all__
        if name not in covered and name not in NOT_OPS
    }
    assert not missing, f"public ops without a test case: {sorted(missing)}"

"""Import rules: the walk and the scalar engine use the standard library only; the Tensor
layer does not import the op catalog."""

import ast
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).parents[1] / "src" / "chainrule"
STDLIB = set(sys.stdlib_module_names)


def imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


def test_graph_and_scalar_use_the_standard_library_only():
    files = [SRC / "graph.py", *sorted((SRC / "scalar").glob("*.py"))]
    for f in files:
        for name in imports(f):
            top = name.split(".")[0]
            ok = (
                top in STDLIB
                or top == "__future__"
                or name.startswith(("chainrule.scalar", "chainrule.graph"))
                or name == "chainrule.cli"  # the parsers' helpers (standard library too)
            )
            assert ok, f"{f.name} imports {name}"


def test_tensor_layer_does_not_import_ops():
    for f in ("_tensor.py", "_engine.py", "graph.py", "dtypes.py"):
        assert not any(n.startswith("chainrule.ops") for n in imports(SRC / f)), f


def test_scalar_engine_imports_without_numpy():
    code = "import sys; sys.modules['numpy'] = None; import chainrule.scalar; print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC.parent)},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_chainrule_itself_never_imports_torch():
    code = (
        "import sys; sys.modules['torch'] = None; import chainrule as cr; "
        "x = cr.ones(2, requires_grad=True); (x * 2).sum().backward(); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(SRC.parent)},
    )
    assert out.stdout.strip() == "ok", out.stderr


def test_only_the_engine_reads_the_graphs_internals():
    """``_edges`` and ``_run_backward`` belong to the engine: tools read the graph through
    ``chainrule.autograd.graph`` (walk, leaves, next_functions, observe)."""
    engine = {
        "_engine.py",  # the walk itself, and reachable() for autograd.graph
        "_tensor.py",  # a leaf as a vertex: no parents
        "ops/op.py",  # the node: recording, its rule's runner, next_functions
        "ops/strided.py",  # CopySlices nodes built by hand after a write through a view
        "autograd/function.py",  # custom Function nodes (their own rule runner)
        "autograd/forward_ad.py",  # the jvp's shadow node
        "compiler/_program.py",  # a replay's nodes (a compiled graph's), built by hand
    }
    for f in sorted(SRC.rglob("*.py")):
        rel = f.relative_to(SRC).as_posix()
        text = f.read_text()
        if rel not in engine:
            for name in ("_edges", "_run_backward"):
                assert name not in text, f"{rel} reads {name}: use chainrule.autograd.graph"

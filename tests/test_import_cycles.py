"""No import cycles inside the package except the deliberate inversions listed below.

The graph has an edge A -> B when module A imports B anywhere (at module level or inside a
function: a late import that only breaks a cycle is still the cycle), plus A -> P for every
package P above B that A is not inside (importing ``a.b.c`` runs ``a/b/__init__`` first).
Imports under ``if TYPE_CHECKING:`` never run and do not count.
"""

from __future__ import annotations

import ast
import pathlib

SRC = pathlib.Path(__file__).parents[1] / "src"
PACKAGE = SRC / "chainrule"

# Each allowed inversion: (importer, imported) and why it is right.
ALLOWED = {
    # Tensor.backward is the one call from the tensor into the engine, and the engine walks
    # tensors (isinstance checks, _make), so it imports _tensor. The inversion is a single
    # function-local import in Tensor.backward; everything else reaches the engine directly.
    ("chainrule._tensor", "chainrule._engine"),
    # viz draws both engines and imports with the standard library only (the scalar engine
    # uses it without NumPy), so it reaches the tensor graph API (autograd.graph) inside the
    # functions that draw tensors; that import runs the autograd package, whose explainer
    # uses viz's formatting helpers.
    ("chainrule.viz", "chainrule.autograd"),
}


def _modules() -> dict[str, pathlib.Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _type_checking_nodes(tree: ast.AST) -> set[ast.AST]:
    skip: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for stmt in node.body:
                skip.update(ast.walk(stmt))
    return skip


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        skip = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if node in skip:
                continue
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join(parts) + ("." + base if base else "")
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in mods else base)
            for target in targets:
                parts = target.split(".")
                for k in range(2, len(parts) + 1):
                    name = ".".join(parts[:k])
                    inside = mod == name or mod.startswith(name + ".")
                    if name in mods and not (inside and k < len(parts)) and name != mod:
                        graph[mod].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_but_the_documented_inversions():
    graph = import_graph()
    for a, b in ALLOWED:
        graph[a].discard(b)
    found = cycles(graph)
    assert not found, f"import cycles {found}: import from the owner, or document an inversion"


def test_each_allowed_inversion_still_exists_and_is_a_cycle():
    graph = import_graph()
    for a, b in ALLOWED:
        assert b in graph[a], f"{a} no longer imports {b}: drop it from ALLOWED"
        assert any({a, b} <= set(c) for c in cycles(graph)), f"{a} -> {b} is not a cycle"


def test_the_checker_sees_cycles_and_late_imports():
    graph = {"p.a": {"p.b"}, "p.b": {"p.a"}, "p.c": set()}
    assert cycles(graph) == [["p.a", "p.b"]]
    real = import_graph()
    assert "chainrule._engine" in real["chainrule._tensor"]  # a function-local import
    assert "chainrule.ops" in real["chainrule.autograd._grad"]  # the package __init__ runs

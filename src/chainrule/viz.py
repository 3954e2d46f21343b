"""Pictures of computation graphs: DOT text for scalar and tensor graphs (standard library).

``to_dot(root)`` returns Graphviz DOT text for a scalar ``Value`` graph or a ``Tensor``'s
graph, using only the standard library; ``draw_graph(root)`` wraps the same text in a
``graphviz.Digraph`` (the optional ``graphviz`` package: ``pip install chainrule[demo]``),
which shows inline in Jupyter and renders to SVG/PNG when the ``dot`` program is installed;
``render(root, path)`` writes ``.dot`` and, when ``dot`` is there, ``.svg``/``.png``.

Arrows follow the data (inputs on the left, the result on the right). Every node shows its
value and its gradient d root / d node: a ``Value`` keeps both; for a tensor graph the
gradient of each operation's output is worked out by a dry run of backward (nothing is
accumulated into ``.grad``, the graph is kept). Wrap a model's forward pass in
``track_modules(model)`` and pass ``collapse=1`` to draw one box per submodule instead of
one per operation.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["to_dot", "draw_graph", "render", "track_modules", "GRAPHVIZ_HINT", "has_dot"]

GRAPHVIZ_HINT = (
    "install Graphviz to turn .dot files into pictures: `apt-get install graphviz` (Debian/"
    "Ubuntu), `brew install graphviz` (macOS), `conda install graphviz`, or see "
    "https://graphviz.org/download/"
)


def has_dot() -> bool:
    """Is Graphviz's ``dot`` program on the PATH?"""
    return shutil.which("dot") is not None


# --------------------------------------------------------------------------- naming


def caller_names(frame: Any) -> dict[int, str]:
    """Names of the graph objects bound in a frame's locals/globals, keyed by identity (a
    tensor made by an op is also known by the id of its ``grad_fn``)."""
    names: dict[int, str] = {}
    if frame is None:
        return names
    for scope in (frame.f_globals, frame.f_locals):
        for k, v in scope.items():
            if k.startswith("_") or not (hasattr(v, "_prev") or hasattr(v, "grad_fn")):
                continue
            names[id(v)] = k
            fn = getattr(v, "grad_fn", None)
            if fn is not None:
                names[id(fn)] = k
    return names


def name_map(names: Any) -> dict[int, str]:
    """``names`` (a dict name -> tensor/Value, or a Module) as a map id -> name."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        names = dict(names.named_parameters())
    out: dict[int, str] = {}
    for k, v in names.items():
        out[id(v)] = k
        fn = getattr(v, "grad_fn", None)
        if fn is not None:
            out[id(fn)] = k
    return out


def op_name(node: Any) -> str:
    """torch's name of a graph node; its class name if ``name()`` fails (some ops read saved
    inputs to pick the name, and those are gone after backward)."""
    try:
        return node.name()
    except (TypeError, AttributeError):
        return f"{type(node).__name__}Backward"


def fmt_number(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def fmt_array(t: Any, max_elems: int = 4) -> str:
    """A tensor's (or gradient's) values, nested, when it is small, else its shape and dtype."""
    if t.numel() > max_elems:
        return f"{tuple(t.shape)} {str(t.dtype).replace('chainrule.', '')}"
    return _nested(t.detach().tolist())


def _nested(x: Any) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(_nested(e) for e in x) + "]"
    return fmt_number(x)


# --------------------------------------------------------------------------- graph model


class _Graph:
    """Nodes (id -> (label lines, style)) and edges (src, dst), built by an engine walker."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[list[str], str]] = {}
        self.edges: list[tuple[str, str]] = []

    def node(self, key: str, lines: list[str], style: str) -> None:
        self.nodes[key] = (lines, style)

    def edge(self, a: str, b: str) -> None:
        if (a, b) not in self.edges:
            self.edges.append((a, b))


def _value_graph(root: Any, names: dict[int, str]) -> _Graph:
    """micrograd's picture: a box per Value (name | data | grad), an oval per operation."""
    from chainrule.graph import toposort

    g = _Graph()
    for v in toposort((root,), lambda v: v._prev):
        key = f"v{id(v)}"
        name = v.label or names.get(id(v), "")
        lines = [name] if name else []
        lines += [f"data {v.data:.4f}", f"grad {v.grad:.4f}"]
        g.node(key, lines, "value")
        if v._op:
            g.node(key + "op", [v._op], "op")
            g.edge(key + "op", key)
            for p in v._prev:
                g.edge(f"v{id(p)}", key + "op")
    return g


def node_grads(root: Any) -> dict[int, Any]:
    """d root / d (each op node's output), keyed by id of the node (of the tensor for a
    leaf), from a dry backward: the engine's own walk, observed (``autograd.graph``), with
    the graph retained and nothing accumulated into ``.grad``; hooks run as in backward.
    Empty if the graph was freed."""
    import chainrule as cr
    from chainrule.autograd.graph import BackwardObserver, leaves, observe

    if root.grad_fn is None:
        return {}
    seen: dict[int, Any] = {}

    class Record(BackwardObserver):
        def node(self, node: Any, grad: Any, grads: Any) -> None:
            seen[id(node)] = grad

        def leaf(self, tensor: Any, grad: Any, accumulated: bool) -> None:
            seen[id(tensor)] = grad

    wrt = leaves(root)
    if not wrt:
        return {}
    try:
        with observe(Record()):
            cr.autograd.grad(root, wrt, cr.ones_like(root.detach()), retain_graph=True,
                             allow_unused=True)  # fmt: skip
    except RuntimeError:  # saved values already freed: draw without operation gradients
        return {}
    return seen


def _vertices(root: Any, stop: Any = ()) -> list[tuple[int, Any, Any]]:
    """(key id, node, leaf tensor or None) for every node of root's graph, in backward's order
    (``autograd.graph.walk``); a leaf is keyed by its tensor, an op node by itself."""
    from chainrule.autograd.graph import walk

    out = []
    for v in walk(root, stop=stop):
        leaf = getattr(v, "variable", None)
        out.append((id(leaf if leaf is not None else v), v, leaf))
    return out


def _tensor_graph(root: Any, names: dict[int, str], grads: bool, max_elems: int) -> _Graph:
    """torch's graph: an oval per grad_fn node, a box per leaf tensor and for the root."""
    g = _Graph()
    dgrad = node_grads(root) if grads else {}
    rkey = f"t{id(root)}"
    rlines = [names.get(id(root), "output"), "data " + fmt_array(root, max_elems)]
    if root.grad_fn is not None and id(root.grad_fn) in dgrad:
        rlines.append("grad " + fmt_array(dgrad[id(root.grad_fn)], max_elems))
    elif root.grad_fn is None and root.grad is not None:
        rlines.append("grad " + fmt_array(root.grad, max_elems))
    g.node(rkey, rlines, "value")
    if root.grad_fn is None:
        return g
    g.edge(f"n{id(root.grad_fn)}", rkey)
    for k, v, leaf in _vertices(root):
        key = f"n{k}"
        if leaf is not None:
            lines = [names.get(k, "leaf"), "data " + fmt_array(leaf, max_elems)]
            gr = dgrad.get(k, getattr(leaf, "_grad", None))
            lines.append("grad " + (fmt_array(gr, max_elems) if gr is not None else "None"))
            g.node(key, lines, "leaf")
            continue
        lines = [re.sub(r"Backward\d+$", "", op_name(v))]
        if k in names and v is not root.grad_fn:
            lines[0] = f"{names[k]} = {lines[0]}"
        constants = _constants(v)
        if constants:
            lines.append(constants)
        module = v.metadata.get("module")
        if module:
            lines.append(f"[{module}]")
        if k in dgrad:
            lines.append("grad " + fmt_array(dgrad[k], max_elems))
        g.node(key, lines, "op")
        for p, _ in v.next_functions:
            if p is not None:
                g.edge(f"n{id(getattr(p, 'variable', p))}", key)
        for t, name in _data_inputs(v, names):
            g.node(f"d{id(t)}", [name, "data " + fmt_array(t, max_elems)], "data")
            g.edge(f"d{id(t)}", key)
    return g


def _constants(node: Any) -> str | None:
    """The node's numbers in words (``Op.constants``: "** 2"), if it says any."""
    try:
        return node.constants()
    except (AttributeError, TypeError):
        return None


def _data_inputs(node: Any, names: dict[int, str]) -> list[tuple[Any, str]]:
    """The tensors that feed ``node`` but are no vertex of the graph (they need no gradient:
    a batch of inputs, the targets): those ``track_modules`` saw going into a module whose
    first operation this is (named, or "input"), and the named ones the node saved."""
    found: dict[int, tuple[Any, str]] = {}
    for t in node.metadata.get("data_inputs", ()):
        found[id(t)] = (t, names.get(id(t), "input"))
    saved = getattr(node, "inputs", None) or ()
    for t in saved:
        if getattr(t, "grad_fn", 1) is None and not t.requires_grad and id(t) in names:
            found.setdefault(id(t), (t, names[id(t)]))
    return list(found.values())


def _collapse(g: _Graph, root: Any, depth: int, names: dict[int, str]) -> _Graph:
    """Merge operation nodes tagged with the same module (path cut at ``depth``) and the
    parameters named under it into one box per module."""
    group: dict[str, str] = {}
    counts: dict[str, list[int]] = {}  # module -> [tensors, values] of its parameters
    for k, v, leaf in _vertices(root):
        if leaf is None:
            mod = v.metadata.get("module")
        else:
            name = names.get(k, "")
            mod = name.rpartition(".")[0] if "." in name else None
        if mod:
            mod = ".".join(mod.split(".")[:depth])
            group[f"n{k}"] = mod
            c = counts.setdefault(mod, [0, 0])
            if leaf is not None:
                c[0] += 1
                c[1] += leaf.numel()
    grad_line: dict[str, str] = {}  # module -> the grad line of the op whose output leaves it
    for a, b in g.edges:
        mod = group.get(a)
        if mod is not None and group.get(b) != mod and g.nodes[a][1] == "op":
            for line in g.nodes[a][0]:
                if line.startswith("grad "):
                    grad_line[mod] = line
    out = _Graph()
    for key, (lines, style) in g.nodes.items():
        mod = group.get(key)
        if mod is None:
            out.node(key, lines, style)
        elif f"m{mod}" not in out.nodes:
            tensors, values = counts[mod]
            kind = _MODULE_KINDS.get(mod, "")
            what = f"{_n(tensors, 'tensor')}, {_n(values, 'value')}" if tensors else "no parameters"
            lines = [f"{mod}: {kind}", what]
            if mod in grad_line:
                lines.append(grad_line[mod])
            out.node(f"m{mod}", lines, "module")
    for a, b in g.edges:
        a2 = f"m{group[a]}" if a in group else a
        b2 = f"m{group[b]}" if b in group else b
        if a2 != b2:
            out.edge(a2, b2)
    return out


def _n(k: int, word: str) -> str:
    return f"{k} {word}" + ("" if k == 1 else "s")


_MODULE_KINDS: dict[str, str] = {}  # module path -> "Linear(in_features=3, ...)"


@contextlib.contextmanager
def track_modules(model: Any, **more: Any) -> Iterator[None]:
    """Tag every operation recorded inside each submodule's forward with the module's
    name (``grad_fn.metadata['module']``, innermost module wins), so that
    ``draw_graph(..., collapse=1)`` can draw one box per module; the tensors going into a
    module that need no gradient (a batch of inputs, the targets) are kept on its first
    operation, so that the picture draws them too. ``more`` names other modules to track,
    each under its keyword (``track_modules(model, loss=nn.MSELoss())``)."""
    handles = []
    tracked = [(path, m) for path, m in model.named_modules() if path]
    for prefix, extra_model in more.items():
        tracked += [(f"{prefix}.{p}" if p else prefix, m) for p, m in extra_model.named_modules()]
    for path, m in tracked:
        extra = m.extra_repr() if hasattr(m, "extra_repr") else ""
        _MODULE_KINDS[path] = f"{type(m).__name__}({extra})"

        def hook(module: Any, args: tuple, output: Any, path: str = path) -> None:
            from chainrule.autograd.graph import walk

            stop = [a for a in args if getattr(a, "grad_fn", None) is not None]
            outs = output if isinstance(output, tuple) else (output,)
            roots = [o.grad_fn for o in outs if getattr(o, "grad_fn", None) is not None]
            ops = [v for v in walk(roots, stop=stop) if not hasattr(v, "variable")]
            for v in ops:  # the ops recorded inside this module's forward
                v.metadata.setdefault("module", path)
            data = [a for a in args if _is_data(a)]
            if data and ops:
                _attach_data(ops, data)

        handles.append(m.register_forward_hook(hook))
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _is_data(x: Any) -> bool:
    """A tensor that is no vertex of a graph: no history, no gradient wanted."""
    return getattr(x, "grad_fn", 1) is None and not x.requires_grad


def _attach_data(ops: list, data: list) -> None:
    """Record each data tensor on the module's operation that read it: one that saved it,
    else the earliest one (in forward order) with an input outside the graph."""
    for t in data:
        if any(x is t for v in ops for x in v.metadata.get("data_inputs", ())):
            continue  # an inner module (hooks run innermost first) placed it already
        home = next((v for v in ops if any(x is t for x in (getattr(v, "inputs", None) or ()))),
                    None)  # fmt: skip
        if home is None:
            home = next(
                (v for v in reversed(ops) if any(p is None for p, _ in v.next_functions)), ops[-1]
            )
        found = home.metadata.setdefault("data_inputs", [])
        if all(x is not t for x in found):
            found.append(t)


# --------------------------------------------------------------------------- DOT text

_STYLES = {
    "value": 'shape=record, style="rounded,filled", fillcolor="#e8f0fe"',
    "leaf": 'shape=record, style="rounded,filled", fillcolor="#d7f5dd"',
    "op": 'shape=ellipse, style=filled, fillcolor="#fff4d6"',
    "module": 'shape=box3d, style=filled, fillcolor="#f3e5f5"',
    "data": 'shape=record, style="rounded,filled", fillcolor="#eeeeee"',
}

DEEP = 5  # a graph with more operations (or modules) than this on one path is drawn downward


def _depth(g: _Graph) -> int:
    """The most operation and module nodes on one path of the graph."""
    inputs: dict[str, list[str]] = {}
    for a, b in g.edges:
        inputs.setdefault(b, []).append(a)
    memo: dict[str, int] = {}
    for key in g.nodes:  # iteratively: deep graphs must not exhaust Python's stack
        stack = [key]
        while stack:
            k = stack[-1]
            todo = [p for p in inputs.get(k, ()) if p not in memo]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            own = 1 if g.nodes.get(k, ([], "value"))[1] in ("op", "module") else 0
            memo[k] = own + max((memo[p] for p in inputs.get(k, ())), default=0)
    return max(memo.values(), default=0)


def _escape(s: str) -> str:
    for ch in '\\"{}|<>':
        s = s.replace(ch, "\\" + ch)
    return s


def _dot(
    root: Any,
    table: dict[int, str],
    grads: bool = True,
    collapse: int | bool | None = None,
    max_elems: int = 4,
    rankdir: str | None = None,
) -> list[str]:
    """The DOT statements (without the ``digraph {`` ``}`` wrapper) for ``root``."""
    if hasattr(root, "_prev"):
        g = _value_graph(root, table)
    elif hasattr(root, "grad_fn"):
        g = _tensor_graph(root, table, grads, max_elems)
        if collapse and root.grad_fn is not None:
            g = _collapse(g, root, int(collapse), table)
    else:
        raise TypeError(f"expected a Value or a Tensor, got {type(root).__name__}")
    if rankdir is None:
        rankdir = "TB" if _depth(g) > DEEP else "LR"
    across = rankdir in ("LR", "RL")  # a record's fields side by side: braces flip them there
    out = [
        f"rankdir={rankdir}",
        'node [fontname="Helvetica", fontsize=11]',
        'edge [color="#555555"]',
    ]
    for key, (lines, style) in g.nodes.items():
        if style in ("value", "leaf", "data"):
            fields = " | ".join(_escape(s) for s in lines)
            label = "{ " + fields + " }" if across else fields
        else:
            label = "\\n".join(_escape(s) for s in lines)
        out.append(f'"{key}" [label="{label}", {_STYLES[style]}]')
    for a, b in g.edges:
        out.append(f'"{a}" -> "{b}"')
    return out


_DOT_OPTIONS = ("grads", "collapse", "max_elems", "rankdir")  # what _dot takes


def _names(frame: Any, names: Any) -> dict[int, str]:
    table = caller_names(frame)
    table.update(name_map(names))
    return table


def to_dot(root: Any, *, names: Any = None, **options: Any) -> str:
    """Graphviz DOT text of the graph that computed ``root`` (a ``Value`` or a ``Tensor``).

    ``names``: a dict name -> tensor/Value or a Module (its parameter names); by default the
    caller's variables name the nodes they hold. Options: ``grads=True`` shows d root / d
    node on every operation of a tensor graph (a dry backward; leaves always show
    ``.grad``); ``collapse=1``, after ``track_modules``, draws one box per module path cut
    at that depth; ``max_elems=4`` shows the values of tensors up to that size, else their
    shape and dtype; ``rankdir`` is Graphviz's layout direction: by default left to right
    ("LR"), top to bottom ("TB") when more than ``DEEP`` operations lie on one path.
    Operation nodes show the numbers they were called with (``** 2``); tensors that feed
    the graph without needing a gradient (inputs, targets) are drawn in gray when named
    (or seen by ``track_modules``).
    """
    body = _dot(root, _names(inspect.currentframe().f_back, names), **options)
    return "digraph chainrule {\n" + "".join(f"  {s};\n" for s in body) + "}\n"


def draw_graph(root: Any, *, names: Any = None, **options: Any) -> Any:
    """The graph of ``root`` as a ``graphviz.Digraph`` (shows inline in Jupyter; call
    ``.render()`` to write a picture). Same options as ``to_dot``; any other keyword goes
    to ``graphviz.Digraph`` (``format="svg"``, ``engine``, ``filename``...). Needs the
    ``graphviz`` Python package (``pip install graphviz``) and, to render, Graphviz's
    ``dot``."""
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(
            "draw_graph needs the graphviz Python package: pip install graphviz (or "
            "pip install 'chainrule[demo]'); chainrule.viz.to_dot gives the DOT text without it"
        ) from e
    ours = {k: options.pop(k) for k in _DOT_OPTIONS if k in options}
    body = _dot(root, _names(inspect.currentframe().f_back, names), **ours)
    return graphviz.Digraph("chainrule", body=[f"\t{s}\n" for s in body], **options)


def render(
    root: Any,
    path: str | Path,
    formats: tuple[str, ...] = ("svg", "png"),
    *,
    names: Any = None,
    **options: Any,
) -> list[Path]:
    """Write ``path.dot`` and, when Graphviz's ``dot`` is installed, ``path.svg`` etc.
    (standard library only); returns the paths written. When only the .dot was written,
    ``GRAPHVIZ_HINT`` says how to install Graphviz."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = _dot(root, _names(inspect.currentframe().f_back, names), **options)
    dot_file = path.with_suffix(".dot")
    dot_file.write_text("digraph chainrule {\n" + "".join(f"  {s};\n" for s in body) + "}\n")
    written = [dot_file]
    if has_dot():
        for fmt in formats:
            out = path.with_suffix("." + fmt)
            subprocess.run(["dot", f"-T{fmt}", "-o", str(out), str(dot_file)], check=True)
            written.append(out)
    return written

"""``explain_backward(root)``: backward, narrated step by step the way one does it by hand.

It runs the same computation as ``root.backward()`` (for a scalar ``Value`` or a
``Tensor``) and prints, in reverse topological order, every node: what it computed, the
gradient flowing in (d root / d node), its local derivative rule, and the gradient it
passes to each input; where a node is used on several paths, the contributions are shown
adding up (the step a hand derivation most often forgets). For a tensor it *is*
``root.backward()``, observed step by step (``autograd.graph.observe``): the order, the
hooks and the accumulation shown are the engine's own, and each rule's words are the
op class's ``formula``.
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from typing import Any, TextIO

from chainrule.graph import toposort
from chainrule.ops.op import Op
from chainrule.viz import caller_names, fmt_array, fmt_number, name_map

__all__ = ["explain_backward"]

# local derivative of each scalar operation: (d out / d a, d out / d b), in terms of a, b
_VALUE_RULES = {
    "+": ("1", "1"),
    "-": ("1", "-1"),
    "*": ("{b}", "{a}"),
    "/": ("1/{b}", "-{a}/{b}²"),
    "**": ("{b}·{a}^({b}-1)", "{a}^{b}·ln {a}"),
    "neg": ("-1", ""),
    "abs": ("sign({a})", ""),
    "exp": ("exp({a})", ""),
    "log": ("1/{a}", ""),
    "sqrt": ("1/(2·sqrt({a}))", ""),
    "tanh": ("1 - tanh({a})²", ""),
    "sigmoid": ("σ({a})·(1 - σ({a}))", ""),
    "ReLU": ("1 if {a} > 0 else 0", ""),
    "sin": ("cos({a})", ""),
    "cos": ("-sin({a})", ""),
}


def explain_backward(
    root: Any,
    gradient: Any = None,
    *,
    names: Any = None,
    file: TextIO | None = None,
    max_elems: int = 6,
    show_code: bool = False,
    retain_graph: bool = False,
) -> None:
    """Run backward from ``root`` (a ``Value`` or a ``Tensor``) and print every step.

    Gradients end up exactly where ``root.backward()`` puts them (every ``Value``'s
    ``.grad``; a tensor graph's leaves' ``.grad``, accumulated). Nodes are named by the
    caller's variables (or ``names``: a dict name -> tensor/Value, or a Module for its
    parameter names), else by ``label`` or a number. Tensor options: ``gradient`` (as in
    ``backward``), ``max_elems`` (print values of tensors up to this size, else shape and
    dtype), ``show_code`` (print the source of each operation's backward rule) and
    ``retain_graph``. The tensor case is ``root.backward()`` itself, watched through
    ``autograd.graph.observe``: hooks run as in backward and are shown where they run.
    """
    out = file if file is not None else sys.stdout
    table = caller_names(inspect.currentframe().f_back)
    table.update(name_map(names))
    if hasattr(root, "_prev"):
        _explain_value(root, table, out)
    elif hasattr(root, "grad_fn"):
        _explain_tensor(root, gradient, table, out, max_elems, show_code, retain_graph)
    else:
        raise TypeError(f"explain_backward: expected a Value or a Tensor, got {type(root)}")


# --------------------------------------------------------------------------- scalar engine


def _explain_value(root: Any, table: dict[int, str], out: TextIO) -> None:
    topo = toposort((root,), lambda v: v._prev, hashable=True)
    names: dict[int, str] = {}
    leaves = inputs = 0
    for v in reversed(topo):  # number in forward order: x1, x2 ... for inputs, v1 ... after
        name = v.label or table.get(id(v))
        if not name:
            if v._op:
                inputs += 1
                name = f"v{inputs}"
            else:
                leaves += 1
                name = f"x{leaves}"
        names[id(v)] = name
    nm = lambda v: names[id(v)]  # noqa: E731
    parts: dict[int, list[tuple[str, float]]] = {}
    for v in topo:
        v.grad = 0.0
    root.grad = 1.0
    r = nm(root)
    print(
        f"Backward pass from {r} = {fmt_number(root.data)}, in reverse topological order.", file=out
    )
    print(f"Seed: d{r}/d{r} = 1. Each step applies the chain rule to one node:", file=out)
    print(f"  d{r}/d(input) += d(node)/d(input) · d{r}/d(node)\n", file=out)
    step = 0
    for v in topo:
        if not v._op:
            continue
        step += 1
        kids = v._prev
        a = nm(kids[0])
        b = nm(kids[1]) if len(kids) > 1 else ""
        shown = v._op if v._op != "ReLU" else "relu"
        expr = (
            f"{a} {shown} {b}"
            if b
            else (f"{a} {shown}" if shown.startswith("**") else f"{shown}({a})")
        )
        got = parts.get(id(v), [])
        via = ""
        if len(got) > 1:
            via = "  = " + " + ".join(f"{fmt_number(g)} (via {who})" for who, g in got)
        print(f"step {step}: {nm(v)} = {expr} = {fmt_number(v.data)}", file=out)
        print(f"  gradient in:  d{r}/d{nm(v)} = {fmt_number(v.grad)}{via}", file=out)
        rules = _VALUE_RULES.get(v._op) or (
            (f"{v._op[2:]}·{{a}}^({v._op[2:]}-1)", "") if v._op.startswith("**") else ("?", "?")
        )
        for i, (kid, local) in enumerate(zip(kids, (v._da, v._db))):
            rule = rules[i].format(a=a, b=b)
            rule = rule if rule == fmt_number(local) else f"{rule} = {fmt_number(local)}"
            contrib = local * v.grad
            kid.grad += contrib
            parts.setdefault(id(kid), []).append((nm(v), contrib))
            so_far = parts[id(kid)]
            extra = ""
            if len(so_far) > 1:
                extra = f"   (path {len(so_far)} into {nm(kid)}: total now {fmt_number(kid.grad)})"
            print(
                f"  {nm(kid):>10}: d{nm(v)}/d{nm(kid)} = {rule}"
                f"  ->  d{r}/d{nm(kid)} += {fmt_number(local)} · {fmt_number(v.grad)}"
                f" = {fmt_number(contrib)}{extra}",
                file=out,
            )
    print("\nGradients of the inputs:", file=out)
    for v in reversed(topo):
        if v._op:
            continue
        got = parts.get(id(v), [])
        how = ""
        if len(got) > 1:
            how = "  = " + " + ".join(f"{fmt_number(g)} (via {who})" for who, g in got)
        print(f"  d{r}/d{nm(v)} = {fmt_number(v.grad)}{how}", file=out)
    shared = [nm(v) for v in topo if len(parts.get(id(v), ())) > 1]
    if shared:
        print(
            f"\n{', '.join(shared)} {'is' if len(shared) == 1 else 'are'} used on more than one "
            "path: their gradients are sums over every path. Forgetting a path is the classic "
            "mistake of a derivation by hand.",
            file=out,
        )


# --------------------------------------------------------------------------- tensor engine


def _fmt(t: Any, max_elems: int) -> str:
    if t.numel() > max_elems:
        return f"<{tuple(t.shape)} {str(t.dtype).replace('chainrule.', '')}>"
    return fmt_array(t, max_elems)


class _Recorder:
    """A ``BackwardObserver`` that keeps the engine's steps (values copied as they were)."""

    def __init__(self) -> None:
        self.steps: list[tuple] = []  # ("node", node, grad, grads, hooks) / ("leaf", ...)
        self.hooks: list[tuple] = []  # hook calls since the last step

    def hook(self, where: Any, kind: str, hook: Any, grad: Any, result: Any) -> None:
        self.hooks.append((kind, hook, grad, result))

    def node(self, node: Any, grad: Any, grads: Any) -> None:
        self.steps.append(("node", node, grad, tuple(grads), self.hooks))
        self.hooks = []

    def leaf(self, tensor: Any, grad: Any, accumulated: bool) -> None:
        after = tensor.grad.detach().clone() if accumulated and tensor.grad is not None else None
        self.steps.append(("leaf", tensor, grad, after, self.hooks))
        self.hooks = []


def _hook_name(hook: Any) -> str:
    return getattr(hook, "__qualname__", None) or type(hook).__name__


def _fmt_grads(gs: Any, max_elems: int) -> str:
    if isinstance(gs, tuple):
        return "(" + ", ".join("None" if g is None else _fmt(g, max_elems) for g in gs) + ")"
    return _fmt(gs, max_elems)


def _explain_tensor(
    root: Any,
    gradient: Any,
    table: dict[int, str],
    out: TextIO,
    max_elems: int,
    show_code: bool,
    retain_graph: bool,
) -> None:
    import chainrule as cr
    from chainrule.autograd.graph import observe, walk

    rec = _Recorder()
    # each node's rule now, while its saved numbers (x * 3's 3) are there: backward frees them
    rules = (
        {id(v): _formula(v) for v in walk(root) if not hasattr(v, "variable")}
        if root.grad_fn is not None
        else {}
    )
    try:
        with observe(rec):
            root.backward(gradient, retain_graph=retain_graph)
    finally:  # narrate what ran (all of it, or up to an error)
        if rec.steps:
            seed = gradient if gradient is not None else cr.ones_like(root.detach())
            _narrate(root, seed, rec.steps, table, out, max_elems, show_code, rules)


_HOOK_KINDS = {
    "tensor": "tensor hook (register_hook on the tensor)",
    "prehook": "node pre-hook (grad_fn.register_prehook)",
    "node": "node hook (grad_fn.register_hook)",
}


def _narrate(
    root: Any,
    seed: Any,
    steps: list[tuple],
    table: dict[int, str],
    out: TextIO,
    max_elems: int,
    show_code: bool,
    rules: dict[int, str],
) -> None:
    step_of = {id(s[1]): i + 1 for i, s in enumerate(steps) if s[0] == "node"}
    leaf_no = [0]

    def nm(v: Any) -> str:  # an input vertex: a node or a leaf's AccumulateGrad
        v = getattr(v, "variable", v)
        if id(v) in table:
            return table[id(v)]
        if id(v) in step_of:
            return f"({v.name()}, step {step_of[id(v)]})"
        if hasattr(v, "grad_fn"):
            leaf_no[0] += 1
            table[id(v)] = f"leaf{leaf_no[0]}"
            return table[id(v)]
        return f"({v.name()}, not run)"

    r = table.get(id(root), "root")
    print(
        f"Backward pass from {r} = {_fmt(root, max_elems)}, in reverse topological order.", file=out
    )
    print(f"Seed: d{r}/d{r} = {_fmt(seed, max_elems)}.", file=out)
    print(
        "Each step takes the gradient of one operation's output (g) and applies the "
        "operation's vector-Jacobian product to pass a gradient to each input.\n",
        file=out,
    )
    parts: dict[int, list[str]] = {}

    def hooks_ran(hooks: list, indent: str = "  ") -> None:
        for kind, hook, before, after in hooks:
            what = "unchanged (returned None)" if after is before else _fmt_grads(after, max_elems)
            print(
                f"{indent}{_HOOK_KINDS[kind]} {_hook_name(hook)}: "
                f"{_fmt_grads(before, max_elems)} -> {what}",
                file=out,
            )

    for kind, v, g, extra, hooks in steps:
        if kind == "leaf":
            how = parts.get(id(v), [])
            total = f" (sum of {len(how)} paths: {', '.join(how)})" if len(how) > 1 else ""
            hooks_ran(hooks, "")
            if extra is None:
                print(f"leaf {nm(v)} {tuple(v.shape)}: gradient {_fmt(g, max_elems)}\n", file=out)
            else:
                print(
                    f"leaf {nm(v)} {tuple(v.shape)}: .grad += {_fmt(g, max_elems)}{total}"
                    f"  ->  .grad = {_fmt(extra, max_elems)}\n",
                    file=out,
                )
            continue
        k = step_of[id(v)]
        title = f"step {k}: {v.name()}"
        if id(v) in table:
            title += f"  (makes {table[id(v)]})"
        print(title, file=out)
        print(f"  rule:  {rules.get(id(v)) or _formula(v)}", file=out)
        if show_code:
            try:
                code = textwrap.dedent(inspect.getsource(type(v).backward)).rstrip()
                print("  code:  " + "\n         ".join(code.splitlines()), file=out)
            except (OSError, TypeError):
                pass
        via = parts.get(id(v), [])
        joined = f"   (sum over {len(via)} paths: {', '.join(via)})" if len(via) > 1 else ""
        arrived = hooks[0][2] if hooks and hooks[0][0] != "node" else g
        print(f"  g = d{r}/d(output) = {_fmt(arrived, max_elems)}{joined}", file=out)
        hooks_ran([h for h in hooks if h[0] != "node"])
        hooks_ran([h for h in hooks if h[0] == "node"])  # these changed the grads below
        for i, ((p, _), gi) in enumerate(zip(v.next_functions, extra)):
            if p is None or gi is None:
                continue
            key = id(getattr(p, "variable", p))
            parts.setdefault(key, []).append(f"from step {k}")
            print(f"  input {i} -> {nm(p)}: {_fmt(gi, max_elems)}", file=out)
        print(file=out)


def _formula(node: Any) -> str:
    """The node's rule in words: its ``rule()`` (the class's ``formula`` with the node's
    constants filled in), else the first line of the nearest op class's docstring, else a
    generic sentence."""
    rule = getattr(node, "rule", None)
    text = rule() if callable(rule) else getattr(type(node), "formula", None)
    if text:
        return text
    for cls in type(node).__mro__:
        if cls is Op or cls is object:
            break
        doc = (cls.__dict__.get("__doc__") or "").strip()
        if doc:
            return doc.split("\n")[0]
    return "the vector-Jacobian product its backward() computes"

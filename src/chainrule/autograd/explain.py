"""``explain_backward(root)``: backward, narrated step by step the way one does it by hand.

It runs the same computation as ``root.backward()`` (for a scalar ``Value`` or a
``Tensor``) and prints, in reverse topological order, every node: what it computed, the
gradient flowing in (d root / d node), its local derivative rule, and the gradient it
passes to each input; where a node is used on several paths, the contributions are shown
adding up (the step a hand derivation most often forgets).
"""

from __future__ import annotations

import inspect
import sys
import textwrap
from typing import Any, TextIO

from chainrule.graph import toposort
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

# vector-Jacobian products of common tensor operations (g: the gradient flowing in)
_TENSOR_RULES = {
    "Add": "d(a + b) = g, g  (summed back over broadcast dims)",
    "Sub": "d(a - b) = g, -g  (summed back over broadcast dims)",
    "Mul": "d(a * b) = g * b, g * a  (summed back over broadcast dims)",
    "Div": "d(a / b) = g / b, -g * a / b²",
    "Pow": "d(a ** k) = g * k * a**(k-1)",
    "Neg": "d(-a) = -g",
    "Exp": "d exp(a) = g * exp(a)",
    "Log": "d log(a) = g / a",
    "Sqrt": "d sqrt(a) = g / (2 sqrt(a))",
    "Tanh": "d tanh(a) = g * (1 - tanh(a)²)",
    "Sigmoid": "d σ(a) = g * σ(a) (1 - σ(a))",
    "Relu": "d relu(a) = g where a > 0, else 0",
    "Sum": "d sum(a) = g copied (broadcast) to a's shape",
    "Mean": "d mean(a) = g / n copied to a's shape",
    "Matmul": "d(A @ B) = g @ Bᵀ, Aᵀ @ g",
    "Linear": "d(x @ Wᵀ + b) = g @ W, gᵀ @ x, g summed over the batch",
    "LogSoftmax": "d log_softmax(x) = g - softmax(x) * sum(g)",
    "Gather": "d a[idx] = g scattered back into zeros at idx",
    "Index": "d a[idx] = g scattered back into zeros at idx (duplicates add)",
    "Squeeze": "d squeeze(a) = g reshaped back",
    "Reshape": "d reshape(a) = g reshaped back",
    "View": "d view(a) = g reshaped back",
    "Transpose": "d aᵀ = gᵀ",
    "Permute": "d permute(a) = g permuted back",
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
    ``retain_graph``. Tensor hooks are not run.
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
    from chainrule._engine import _accumulate

    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if root.numel() != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        gradient = cr.ones_like(root.detach())
    start = root.grad_fn if root.grad_fn is not None else root
    parents = lambda v: [p for p in getattr(v, "_edges", ()) if p is not None]  # noqa: E731
    order = toposort([start], parents)
    ops = [v for v in order if hasattr(v, "_run_backward")]
    step_of = {id(v): i + 1 for i, v in enumerate(ops)}
    leaf_no = [0]

    def nm(v: Any) -> str:
        if id(v) in table:
            return table[id(v)]
        if hasattr(v, "_run_backward"):
            return f"({v.name()}, step {step_of[id(v)]})"
        leaf_no[0] += 1
        table[id(v)] = f"leaf{leaf_no[0]}"
        return table[id(v)]

    r = table.get(id(root), "root")
    print(
        f"Backward pass from {r} = {_fmt(root, max_elems)}, in reverse topological order.", file=out
    )
    print(f"Seed: d{r}/d{r} = {_fmt(gradient, max_elems)}.", file=out)
    print(
        "Each step takes the gradient of one operation's output (g) and applies the "
        "operation's vector-Jacobian product to pass a gradient to each input.\n",
        file=out,
    )
    pending: dict[int, Any] = {id(start): gradient.detach()}
    parts: dict[int, list[str]] = {}
    with cr.no_grad():
        for v in order:
            g = pending.pop(id(v), None)
            if not hasattr(v, "_run_backward"):  # a leaf: its gradient is complete
                if g is None:
                    continue
                how = parts.get(id(v), [])
                total = f" (sum of {len(how)} paths: {', '.join(how)})" if len(how) > 1 else ""
                _accumulate(v, g, False)
                print(
                    f"leaf {nm(v)} {tuple(v.shape)}: .grad += {_fmt(g, max_elems)}{total}"
                    f"  ->  .grad = {_fmt(v.grad, max_elems)}\n",
                    file=out,
                )
                continue
            kind = type(v).__name__
            rule = _TENSOR_RULES.get(kind) or (type(v).__doc__ or "").strip().split("\n")[0]
            title = f"step {step_of[id(v)]}: {v.name()}"
            if id(v) in table:
                title += f"  (makes {table[id(v)]})"
            print(title, file=out)
            if rule:
                print(f"  rule:  {rule}", file=out)
            if show_code:
                try:
                    code = textwrap.dedent(inspect.getsource(type(v).backward)).rstrip()
                    print("  code:  " + "\n         ".join(code.splitlines()), file=out)
                except (OSError, TypeError):
                    pass
            if g is None:
                print("  no gradient reaches this node", file=out)
                continue
            via = parts.get(id(v), [])
            joined = f"   (sum over {len(via)} paths: {', '.join(via)})" if len(via) > 1 else ""
            print(f"  g = d{r}/d(output) = {_fmt(g, max_elems)}{joined}", file=out)
            grads = v._run_backward(g, retain_graph)
            for i, (p, gi) in enumerate(zip(v._edges, grads)):
                if p is None or gi is None:
                    continue
                k = id(p)
                pending[k] = gi if k not in pending else pending[k] + gi
                parts.setdefault(k, []).append(f"from step {step_of[id(v)]}")
                print(f"  input {i} -> {nm(p)}: {_fmt(gi, max_elems)}", file=out)
            print(file=out)

"""``python -m chainrule graph``: computation graphs drawn with data and grad on every node.

Three pictures: the scalar engine's ``e = (a+b)·((a+b)·a)``, the tensor example
``z = x*y + y**2``, and an MLP's loss drawn one box per module, top to bottom, with its
inputs and target. With Graphviz's ``dot`` installed they are SVG and PNG files; without it,
DOT text and a line on installing Graphviz.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import chainrule as cr
from chainrule import viz
from chainrule.scalar import Value

__all__ = ["run"]


def run(args: argparse.Namespace) -> dict[str, list[str]]:
    out = Path(getattr(args, "out", "demo-output"))
    written: list[Path] = []

    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a + b
    c.label = "c"
    d = c * a
    d.label = "d"
    e = c * d
    e.label = "e"
    e.backward()
    print("scalar engine: e = c*d with c = a+b, d = c*a; every node shows data and grad")
    written += viz.render(e, out / "graph_scalar")
    small = viz.to_dot(e)

    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    z = x * y + y**2
    loss = z.sum()
    print("tensor engine: loss = (x*y + y**2).sum(); each operation shows d loss / d output")
    written += viz.render(loss, out / "graph_tensor", names={"x": x, "y": y, "z": z, "loss": loss})
    loss.backward()

    cr.manual_seed(0)
    model = cr.nn.Sequential(
        cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1)
    )
    loss_fn = cr.nn.MSELoss()
    inputs, target = cr.randn(16, 4), cr.randn(16, 1)
    with viz.track_modules(model, loss=loss_fn):
        pred = model(inputs)
        mse = loss_fn(pred, target)
    print("an MLP's loss, one box per module, inputs and target drawn (viz.track_modules)")
    written += viz.render(mse, out / "graph_mlp", names=model, collapse=1)

    pictures = [str(p) for p in written if p.suffix != ".dot"]
    dots = [str(p) for p in written if p.suffix == ".dot"]
    if pictures:
        print("wrote " + ", ".join(pictures))
    else:
        print("The DOT text of the first graph (paste it into any Graphviz viewer):\n")
        print(small)
        print("wrote " + ", ".join(dots))
        print("Graphviz's dot program was not found: " + viz.GRAPHVIZ_HINT)
    return {"pictures": pictures, "dot": dots}

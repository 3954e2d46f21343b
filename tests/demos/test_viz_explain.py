"""cr.viz (DOT text, graphviz.Digraph, pictures, collapse by module) and explain_backward."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz
from chainrule.scalar import Value


def lecture_graph():
    a, b = Value(2.0, "a"), Value(3.0, "b")
    c = a + b
    d = c * a
    e = c * d
    return a, b, c, d, e


def test_value_dot_has_data_and_grad_on_every_node():
    a, b, c, d, e = lecture_graph()
    e.backward()
    dot = viz.to_dot(e)
    assert dot.startswith("digraph chainrule {") and dot.rstrip().endswith("}")
    assert "a | data 2.0000 | grad 45.0000" in dot
    assert "b | data 3.0000 | grad 20.0000" in dot
    assert "e | data 50.0000 | grad 1.0000" in dot  # named from the caller's variables
    assert dot.count("shape=record") == 5 and dot.count("shape=ellipse") == 3
    assert dot.count("->") == 3 + 6  # op -> value, and two inputs per op


def test_tensor_dot_shows_gradients_of_every_node_before_backward():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    z = x * y + y**2
    loss = z.sum()
    dot = viz.to_dot(loss)
    assert "x | data [[1, 2], [3, 4]] | grad [[2, 3], [4, 5]]" in dot  # = y
    assert "y | data [[2, 3], [4, 5]] | grad [[5, 8], [11, 14]]" in dot  # = x + 2y
    assert "z = Add" in dot and "Mul" in dot and "Pow" in dot
    assert x.grad is None  # the dry run accumulates nothing
    loss.backward()  # and the graph is still usable
    np.testing.assert_allclose(y.grad.numpy(), [[5, 8], [11, 14]])
    assert "grad [[5, 8], [11, 14]]" in viz.to_dot(loss)  # freed graph: leaves' .grad


def test_tensor_dot_large_values_show_shape_and_dtype():
    w = cr.randn(5, 3, requires_grad=True)
    dot = viz.to_dot((w * 2).sum(), names={"w": w})
    assert "w | data (5, 3) float32 | grad (5, 3) float32" in dot


def test_collapse_by_module_keeps_a_two_layer_mlp_readable():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 1))
    with viz.track_modules(model):
        out = model(cr.randn(3, 4))
    loss = (out**2).mean()
    full = viz.to_dot(loss, names=model)
    small = viz.to_dot(loss, names=model, collapse=1)
    assert "0.weight" in full and "0.weight" not in small
    assert small.count("[label=") < full.count("[label=")
    assert "0: Linear(in_features=4, out_features=8, bias=True)" in small
    assert "1 op, 2 parameters" in small
    assert not model[0]._forward_hooks  # the hooks are removed again


def test_draw_graph_returns_a_digraph_and_render_writes_files(tmp_path, monkeypatch):
    graphviz = pytest.importorskip("graphviz")
    a, b, c, d, e = lecture_graph()
    e.backward()
    g = viz.draw_graph(e)
    assert isinstance(g, graphviz.Digraph)
    assert "grad 45.0000" in g.source
    monkeypatch.setattr(viz, "has_dot", lambda: False)
    assert viz.render(e, tmp_path / "g") == [tmp_path / "g.dot"]
    assert "grad 45.0000" in (tmp_path / "g.dot").read_text()


def test_to_dot_rejects_other_objects():
    with pytest.raises(TypeError, match="expected a Value or a Tensor, got int"):
        viz.to_dot(3)


def test_explain_backward_scalar_shows_both_paths_and_sets_grads():
    a, b, c, d, e = lecture_graph()
    buf = io.StringIO()
    cr.autograd.explain_backward(e, file=buf)
    text = buf.getvalue()
    assert (a.grad, b.grad, c.grad, d.grad, e.grad) == (45.0, 20.0, 20.0, 5.0, 1.0)
    assert "de/dc = 20  = 10 (via e) + 10 (via d)" in text
    assert "de/da = 45  = 25 (via d) + 20 (via c)" in text
    assert text.index("step 1: e = c * d") < text.index("step 2: d = c * a")
    assert "dd/da = c = 5" in text


def test_explain_backward_scalar_unary_ops_match_backward():
    x = Value(0.5)
    y = Value(-1.0)
    w = (x**2 + y**2).tanh() * x.exp() + (x * y).sigmoid() - y.relu() / 2
    cr.autograd.explain_backward(w, file=io.StringIO())
    gx, gy = x.grad, y.grad
    w.backward()
    assert (gx, gy) == (x.grad, y.grad)


def test_explain_backward_tensor_matches_backward():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.Tanh(), cr.nn.Linear(4, 2))
    xb, yb = cr.randn(5, 3), cr.tensor([0, 1, 1, 0, 1])
    cr.nn.functional.cross_entropy(model(xb), yb).backward()
    expected = [p.grad.numpy().copy() for p in model.parameters()]
    model.zero_grad()
    buf = io.StringIO()
    loss = cr.nn.functional.cross_entropy(model(xb), yb)
    cr.autograd.explain_backward(loss, names=model, file=buf, show_code=True)
    for p, g in zip(model.parameters(), expected):
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-7)
    text = buf.getvalue()
    assert "leaf 0.weight (4, 3)" in text and "AddmmBackward0" in text
    assert "def backward(self" in text
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()  # freed, as after backward()


def test_explain_backward_tensor_accumulates_paths():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * x + x
    buf = io.StringIO()
    cr.autograd.explain_backward(y.sum(), file=buf)
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 5.0])
    assert re.search(r"leaf x \(2,\): \.grad \+= \[3, 5\] \(sum of 3 paths", buf.getvalue())


def test_explain_backward_tensor_errors():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar"):
        cr.autograd.explain_backward(x * 2)
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        cr.autograd.explain_backward(cr.tensor(1.0))
    with pytest.raises(TypeError, match="expected a Value or a Tensor"):
        cr.autograd.explain_backward("e")
    buf = io.StringIO()
    cr.autograd.explain_backward(x * 2, gradient=cr.tensor([1.0, -1.0]), file=buf)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, -2.0])
    assert math.isfinite(x.grad.sum().item())


def test_viz_needs_only_the_standard_library_for_value_graphs():
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "src"
    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from chainrule.scalar import Value\n"
        "from chainrule.viz import to_dot, render\n"
        "a = Value(2.0, 'a'); e = a * a + a; e.backward()\n"
        "print('grad 5.0000' in to_dot(e))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": str(src)})  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"

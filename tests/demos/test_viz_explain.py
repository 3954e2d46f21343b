"""cr.viz (DOT text, graphviz.Digraph, pictures, collapse by module) and explain_backward."""

from __future__ import annotations

import io
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import viz
from chainrule.autograd import explain_backward
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
    assert "0: Linear(in_features=4, out_features=8, bias=True)\\n2 tensors, 40 values" in small
    assert "1: Tanh()\\nno parameters\\ngrad (3, 8) float32" in small  # d loss / d output
    assert "2: Linear(in_features=8, out_features=1, bias=True)\\n2 tensors, 9 values" in small
    assert not model[0]._forward_hooks  # the hooks are removed again


def mlp_loss_graph():
    """The graph demo's picture: an MLP and its loss module, tracked, with data inputs."""
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh(), cr.nn.Linear(8, 8), cr.nn.Tanh(),
                             cr.nn.Linear(8, 1))  # fmt: skip
    loss_fn = cr.nn.MSELoss()
    inputs, target = cr.randn(16, 4), cr.randn(16, 1)
    with viz.track_modules(model, loss=loss_fn):
        mse = loss_fn(model(inputs), target)
    return model, inputs, target, mse


def node_keys(dot: str, label_start: str) -> list[str]:
    return [line.split('"')[1] for line in dot.splitlines() if f'[label="{label_start}' in line]


def test_deep_graphs_are_drawn_top_to_bottom_and_shallow_ones_left_to_right():
    model, inputs, target, mse = mlp_loss_graph()
    deep = viz.to_dot(mse, names=model, collapse=1)  # 6 modules on one path
    assert "rankdir=TB" in deep
    assert '[label="mse | data 1.004 | grad 1"' in deep  # fields side by side: no braces in TB
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    shallow = viz.to_dot((x * 2).sum())
    assert "rankdir=LR" in shallow and '[label="{ x | data [1, 2] | grad [2, 2] }"' in shallow
    assert "rankdir=TB" in viz.to_dot((x * 2).sum(), rankdir="TB")  # asked for
    chain = x
    for _ in range(viz.DEEP + 1):
        chain = chain.tanh()
    assert "rankdir=TB" in viz.to_dot(chain.sum())
    assert "rankdir=LR" in viz.to_dot(chain.sum(), rankdir="LR")


def test_inputs_and_targets_are_drawn_into_the_modules_that_read_them():
    model, inputs, target, mse = mlp_loss_graph()
    small = viz.to_dot(mse, names=model, collapse=1)
    [inp] = node_keys(small, "inputs | data (16, 4) float32")
    [tgt] = node_keys(small, "target | data (16, 1) float32")
    [first] = node_keys(small, "0: Linear")
    [loss] = node_keys(small, "loss: MSELoss()")
    assert f'"{inp}" -> "{first}"' in small and f'"{tgt}" -> "{loss}"' in small
    assert 'fillcolor="#eeeeee"' in small  # drawn as data, not as leaves
    full = viz.to_dot(mse, names=model)  # one node per operation: into the ops that read them
    [inp] = node_keys(full, "inputs")
    [tgt] = node_keys(full, "target")
    [addmm] = [k for k in node_keys(full, "Addmm") if f'"{k}" [label="Addmm\\n[0]' in full]
    [sub] = node_keys(full, "Sub")
    assert f'"{inp}" -> "{addmm}"' in full and f'"{tgt}" -> "{sub}"' in full


def test_named_constant_tensors_a_node_saved_are_drawn():
    x = cr.randn(3, 4)
    w = cr.randn(4, 2, requires_grad=True)
    scale = cr.tensor(0.5)
    dot = viz.to_dot(((x @ w) * scale).sum())
    [xk] = node_keys(dot, "{ x | data (3, 4) float32 }")
    [sk] = node_keys(dot, "{ scale | data 0.5 }")
    [mm] = node_keys(dot, "Mm")
    assert f'"{xk}" -> "{mm}"' in dot and f'"{sk}" -> ' in dot
    anonymous = viz.to_dot((cr.randn(3, 4) @ w).sum())  # unnamed, not seen by a module: not drawn
    assert 'fillcolor="#eeeeee"' not in anonymous


def test_op_nodes_show_their_exponents_and_constants():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    dot = viz.to_dot((x**2 + x**0.5 + 2**x + x * 3 + x / 4 + x**x).sum())
    for label in ("Pow\\n** 2\\n", "Pow\\n** 0.5\\n", "Pow\\n2.0 **\\n", "Mul\\n* 3\\n",
                  "Div\\n/ 4\\n", 'Pow\\ngrad [1, 1]"'):  # fmt: skip
        assert f'[label="{label}' in dot, label
    y = (x**3).sum()
    y.backward()
    assert "Pow\\n** 3" in viz.to_dot(y)  # the exponent outlives backward (torch's
    assert y.grad_fn.next_functions[0][0].number == 3  # _saved_exponent)


def test_explain_backward_fills_the_constants_into_the_rule():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    out = io.StringIO()
    explain_backward((x**3 * 5 / 2).sum(), file=out)
    text = out.getvalue()
    assert "rule:  d(a ** 3) = g * 3 * a**(3-1) = g * 3 * a**2" in text
    assert "rule:  d(a * 5) = g * 5" in text and "rule:  d(a / 2) = g / 2" in text
    np.testing.assert_allclose(x.grad.numpy(), [7.5, 30.0])  # 3 x^2 * 5 / 2
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    out = io.StringIO()
    explain_backward((y**y).sum(), file=out)  # a tensor exponent: the general rule
    assert "rule:  d(a ** b) = g * b * a**(b-1), g * a**b * log(a)" in out.getvalue()


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


def test_accuracy_axis_has_headroom_and_epochs_get_integer_ticks():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from chainrule.demos.common import history_figure

    hist = {"train_loss": [0.5, 0.1], "test_loss": [0.4, 0.2], "test_acc": [0.97, 1.0]}
    fig = history_figure({"MLP": hist}, "two epochs")
    fig.canvas.draw()
    loss_ax, acc_ax = fig.axes
    low, high = acc_ax.get_ylim()
    assert low <= 97 and high > 100  # the curve at 100% is inside the axes, not on its edge
    assert max(acc_ax.get_yticks()) == 100  # and no tick claims more than 100%
    for ax in (loss_ax, acc_ax):
        lo, hi = ax.get_xlim()
        shown = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert shown == [1.0, 2.0]  # whole epochs only
    plt.close(fig)


def test_an_input_seen_by_nested_modules_is_drawn_once_into_one_operation():
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.Tanh()), cr.nn.Linear(8, 1))
    inputs = cr.randn(5, 4)
    with viz.track_modules(model):
        y = model(inputs).sum()
    dot = viz.to_dot(y, names=model)
    [key] = node_keys(dot, "{ inputs | data (5, 4) float32 }")
    [edge] = [line for line in dot.splitlines() if line.strip().startswith(f'"{key}" ->')]
    [addmm] = [k for k in node_keys(dot, "Addmm") if f'"{k}" [label="Addmm\\n[0.0]' in dot]
    assert edge.strip() == f'"{key}" -> "{addmm}";'

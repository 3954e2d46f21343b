"""chainrule.autograd.graph: reading the graph (torch's Node surface, walk, leaves) and
observing the one backward walk (every step, every hook), plus the tools built on them
(explain_backward, viz) naming and narrating exactly what the engine does."""

import io
import re

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import viz
from chainrule.autograd import graph
from chainrule.ops.op import Op


def program(lib, hooks=None):
    """A graph with a shared input, a slice, a select, a view and a power."""
    x = lib.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.5]], dtype=lib.float64, requires_grad=True)
    w = lib.tensor([0.3, -0.7, 1.1], dtype=lib.float64, requires_grad=True)
    h = (x * w).tanh()
    s = h[:, 1:]
    if hooks is not None:
        hooks.append(s.register_hook(lambda g: g * 3))
    y = (s**2).sum() + h[0].sum() * x.view(-1).exp().mean() + (2**w).sum()
    return x, w, y


class Steps(graph.BackwardObserver):
    def __init__(self):
        self.events = []

    def hook(self, where, kind, hook, grad, result):
        self.events.append(("hook", where, kind))

    def node(self, node, grad, grads):
        self.events.append(("node", node, len(grads)))

    def leaf(self, tensor, grad, accumulated):
        self.events.append(("leaf", tensor, accumulated))


# --------------------------------------------------------------------------- reading


def test_walk_lists_every_node_once_consumers_first():
    x, w, y = program(cr)
    nodes = graph.walk(y)
    assert nodes[0] is y.grad_fn
    assert len({id(n) for n in nodes}) == len(nodes)
    position = {id(n): i for i, n in enumerate(nodes)}
    for n in nodes:  # reverse topological: every input after its consumer
        for p, nr in n.next_functions:
            assert nr == 0
            if p is not None:
                assert position[id(p)] > position[id(n)]
    assert all(isinstance(n, graph.Node) for n in nodes)
    accs = [n for n in nodes if n.name() == "AccumulateGrad"]
    assert {id(a.variable) for a in accs} == {id(x), id(w)}
    assert {id(t) for t in graph.leaves(y)} == {id(x), id(w)}


def test_walk_and_leaves_stop_at_the_given_vertices():
    x, w, y = program(cr)
    h = (x * w).tanh()
    z = (h * 2).sum()
    assert [n.name() for n in graph.walk(z, stop=[h])] == ["SumBackward0", "MulBackward0"]
    assert graph.leaves(z, stop=[h]) == []
    assert graph.leaves(z, stop=[x])[0] is w
    assert graph.leaves(x) == [x] and graph.leaves(cr.ones(2)) == []


def test_gradient_edge_is_the_grad_fn_or_the_leafs_accumulator():
    x, w, y = program(cr)
    assert graph.get_gradient_edge(y) == (y.grad_fn, 0)
    edge = graph.get_gradient_edge(x)
    assert edge.node.name() == "AccumulateGrad" and edge.node.variable is x
    with pytest.raises(RuntimeError, match="does not require gradients"):
        graph.get_gradient_edge(cr.ones(2))


def test_node_names_are_torchs_grad_fn_names():
    """Every node of the same program has torch's grad_fn name (``y.grad_fn.name()``)."""
    programs = [
        lambda m, x: x[1:3],
        lambda m, x: x[0],
        lambda m, x: x[:, None],
        lambda m, x: x[[0, 1]],
        lambda m, x: x[x > 0],
        lambda m, x: x.view(-1),
        lambda m, x: x.reshape(6, 2).t(),
        lambda m, x: x.permute(1, 0),
        lambda m, x: x**2 + 2**x + x**x,
        lambda m, x: x.sum(0) + x.mean(),
        lambda m, x: x[None].squeeze(0) @ x.t(),
        lambda m, x: x.gather(1, m.tensor([[0], [1], [2]])),
        lambda m, x: m.nn.functional.log_softmax(x.relu().tanh().sigmoid(), 1),
    ]

    def names(m, f, walk):
        x = m.tensor(np.arange(12.0).reshape(3, 4) - 5, requires_grad=True)
        return sorted(n.name() for n in walk(f(m, x * 1.0)) if "AccumulateGrad" not in n.name())

    def torch_walk(y):
        out, stack, seen = [], [y.grad_fn], set()
        while stack:
            v = stack.pop()
            if v is not None and id(v) not in seen:
                seen.add(id(v))
                out.append(v)
                stack.extend(n for n, _ in v.next_functions)
        return out

    for f in programs:
        assert names(cr, f, graph.walk) == names(torch, f, torch_walk)


# --------------------------------------------------------------------------- observing


def test_observer_sees_exactly_the_steps_backward_runs():
    """Instrument every node with a pre-hook: the observer reports the same nodes in the
    same order, each once, and one event per hook call."""
    x, w, y = program(cr)
    ran, hooks = [], []
    for n in graph.walk(y):
        if n.name() != "AccumulateGrad":
            n.register_prehook(lambda go, n=n: ran.append(n))
    s = y.grad_fn  # and a tensor hook counting its own calls
    calls = []
    hooks.append(x.register_hook(lambda g: calls.append(1)))
    obs = Steps()
    with graph.observe(obs):
        y.backward()
    nodes = [e[1] for e in obs.events if e[0] == "node"]
    assert [id(n) for n in nodes] == [id(n) for n in ran]
    assert len(nodes) == len([n for n in graph.walk(s) if n.name() != "AccumulateGrad"])
    prehooks = [e for e in obs.events if e[0] == "hook" and e[2] == "prehook"]
    assert len(prehooks) == len(ran)
    tensor_hooks = [e for e in obs.events if e[0] == "hook" and e[2] == "tensor"]
    assert len(tensor_hooks) == len(calls) == 1 and tensor_hooks[0][1] is x
    leaves = [(e[1], e[2]) for e in obs.events if e[0] == "leaf"]
    assert {id(t) for t, _ in leaves} == {id(x), id(w)} and all(a for _, a in leaves)
    with graph.observe(Steps()) as quiet:  # outside the block nothing is reported
        pass
    program(cr)[2].backward()
    assert quiet.events == []


def test_observer_of_grad_with_inputs_sees_only_the_nodes_that_run():
    x, w, y = program(cr)
    ran = []
    for n in graph.walk(y):
        if n.name() != "AccumulateGrad":
            n.register_prehook(lambda go, n=n: ran.append(n))
    obs = Steps()
    with graph.observe(obs):
        cr.autograd.grad(y, [w])
    assert [id(e[1]) for e in obs.events if e[0] == "node"] == [id(n) for n in ran]
    assert len(ran) < len(graph.walk(y)) - 2  # the view/exp of x alone did not run
    assert [(e[1] is w, e[2]) for e in obs.events if e[0] == "leaf"] == [(True, False)]


def test_hooks_of_leaves_that_are_not_inputs_do_not_run():
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        w = lib.tensor([3.0, 4.0], requires_grad=True)
        calls = []
        x.register_hook(lambda g: calls.append("x"))
        w.register_hook(lambda g: calls.append("w"))
        y = (x * w).sum()
        lib.autograd.grad(y, [w], retain_graph=True)
        y.backward(inputs=[w])
        return calls, x.grad, w.grad.tolist()

    assert run(cr) == run(torch) == (["w", "w"], None, [1.0, 2.0])


def test_node_hooks_change_gradients_as_torchs_do():
    def run(lib):
        x, w, y = program(lib, hooks=[])
        y.grad_fn.register_prehook(lambda go: (go[0] * 2,))
        y.grad_fn.next_functions[1][0].register_hook(lambda gi, go: tuple(
            None if g is None else -g for g in gi))  # fmt: skip
        y.grad_fn.register_hook(lambda gi, go: None)
        y.backward()
        return x.grad.tolist(), w.grad.tolist()

    got, want = run(cr), run(torch)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def test_hook_order_and_errors_are_torchs():
    """Tensor hooks, then retain_grad, then node pre-hooks, the rule, node hooks."""

    def run(lib, bad=False):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        y.register_hook(lambda g: g + 1)
        y.grad_fn.register_prehook(lambda go: (go[0] * 10,))
        if bad:
            y.grad_fn.register_hook(lambda gi, go: (gi[0],))  # MulBackward0 has 2 inputs
        else:
            y.grad_fn.register_hook(lambda gi, go: tuple(None if g is None else g + 100
                                                         for g in gi))  # fmt: skip
        y.sum().backward()
        return y.grad.tolist(), x.grad.tolist()

    assert run(cr) == run(torch) == ([2.0, 2.0], [140.0, 140.0])
    msg = r"hook '<lambda>' has returned an incorrect number of values \(got 1, but expected 2\)"
    for lib in (cr, torch):
        with pytest.raises(RuntimeError, match=msg):
            run(lib, bad=True)


# --------------------------------------------------------------------------- explain, viz


def test_explain_backward_runs_and_shows_hooks_like_backward():
    hooks = []
    x, w, y = program(cr, hooks)
    y.backward()
    expected = x.grad.tolist(), w.grad.tolist()
    tx, tw, ty = program(torch, [])
    ty.backward()
    np.testing.assert_allclose(expected[0], tx.grad.tolist(), rtol=1e-12)  # hooks matter:
    x, w, y = program(cr)  # without the hook the gradient differs
    y.backward()
    assert not np.allclose(x.grad.tolist(), expected[0])

    hooks = []
    x, w, y = program(cr, hooks)
    buf = io.StringIO()
    cr.autograd.explain_backward(y, file=buf)
    assert (x.grad.tolist(), w.grad.tolist()) == expected
    text = buf.getvalue()
    assert re.search(r"tensor hook \(register_hook on the tensor\) .*<lambda>: ", text)
    assert text.count("tensor hook") == 1
    slice_step = text[text.index("SliceBackward0") :]
    assert slice_step.index("tensor hook") < slice_step.index("input 0")


def test_explain_backward_names_every_op_as_torch_and_uses_the_ops_formula():
    x, w, y = program(cr)
    names = [n.name() for n in graph.walk(y) if n.name() != "AccumulateGrad"]
    # each op's formula, with the node's numbers filled in (read before backward frees them)
    rules = [n.rule() for n in graph.walk(y) if n.name() != "AccumulateGrad"]
    buf = io.StringIO()
    cr.autograd.explain_backward(y, file=buf)
    text = buf.getvalue()
    steps = re.findall(r"^step \d+: (\S+)", text, re.M)
    assert sorted(steps) == sorted(names)
    assert "SliceBackward0" in steps and "SelectBackward0" in steps and "ViewBackward0" in steps
    assert "reshaped back" not in text.split("SliceBackward0")[1].split("step")[0]
    for rule in rules:
        if rule:
            assert f"rule:  {rule}\n" in text
    from chainrule.ops.index.core import BasicIndex

    assert BasicIndex.formula in text  # the slice's own words, not a view's


def test_explain_backward_falls_back_for_ops_without_a_formula():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    buf = io.StringIO()
    cr.autograd.explain_backward(x.cumsum(0).sum(), file=buf)
    assert "rule:  " in buf.getvalue()
    assert type(x.cumsum(0).grad_fn).formula is None


def test_viz_names_ops_as_torch_and_shows_gradients_after_hooks():
    hooks = []
    x, w, y = program(cr, hooks)
    dot = viz.to_dot(y)
    for n in graph.walk(y):
        if n.name() != "AccumulateGrad":
            assert re.sub(r"Backward\d+$", "", n.name()) in dot
    assert x.grad is None  # a dry run
    y.backward()
    assert f"x | data (2, 3) float64 | grad {viz.fmt_array(x.grad, 4)}" in viz.to_dot(y)


def test_draw_graph_passes_graphviz_options_on():
    graphviz = pytest.importorskip("graphviz")
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    g = viz.draw_graph((x * x).sum(), format="svg", engine="neato", max_elems=1)
    assert isinstance(g, graphviz.Digraph) and g.format == "svg" and g.engine == "neato"
    assert "data (2,) float32" in g.source


# --------------------------------------------------------------------------- Op surface


def test_one_forward_mode_declaration_per_op():
    with pytest.raises(TypeError, match="jvp_rule must be one of"):
        type("Bad", (Op,), {"jvp_rule": "diagonal+linear"})
    with pytest.raises(TypeError, match="set jvp_rule = 'linear', not a flag"):
        type("Old", (Op,), {"linear": True})

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    for c in subclasses(Op):
        if c.__module__ == __name__:
            continue  # the two refused above
        assert c.jvp_rule in ("linear", "multilinear", "diagonal", "reduction", "vjp"), c


def test_pow_name_has_no_side_effect_and_survives_backward():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y, want in ((x**3, "PowBackward0"), (x**x, "PowBackward1"), (3**x, "PowBackward2")):
        node = y.grad_fn
        state = dict(node.__dict__)
        assert node.name() == want and node.__dict__ == state
        y.sum().backward()  # name() was never called before backward ...
        assert node.name() == want  # ... and is still right after the inputs are freed

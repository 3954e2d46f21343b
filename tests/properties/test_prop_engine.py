"""Properties of the engine against torch: random DAGs (diamonds, reuse on many paths, deep
and wide), accumulation over repeated backward with retain_graph, autograd.grad on random
subsets of inputs and intermediates, and random in-place sequences on views. Allowed
deviation: chainrule may compute a correct gradient where torch refuses; never a silently
different one."""

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st
from proputil import prop

import chainrule as cr

UNARY = ["exp", "tanh", "sin", "sigmoid", "neg", "square", "relu", "sum_keep", "t"]
BINARY = ["add", "mul", "sub", "maximum", "matmul"]


@st.composite
def dag(draw, max_nodes=12):
    """A random program: each step applies a unary or binary op to earlier values."""
    n_leaves = draw(st.integers(1, 3))
    steps = []
    for i in range(draw(st.integers(1, max_nodes))):
        avail = n_leaves + i
        if draw(st.booleans()):
            steps.append(("u", draw(st.sampled_from(UNARY)), draw(st.integers(0, avail - 1))))
        else:
            a, b = draw(st.integers(0, avail - 1)), draw(st.integers(0, avail - 1))
            steps.append(("b", draw(st.sampled_from(BINARY)), a, b))
    return n_leaves, steps


def _apply(m, step, vals):
    if step[0] == "u":
        x = vals[step[2]]
        name = step[1]
        if name == "sum_keep":
            return x.sum(-1, keepdim=True).expand_as(x) * 0.5
        if name == "t":
            return x.t()
        if name == "square":
            return x * x
        return getattr(m, name)(x)
    a, b = vals[step[2]], vals[step[3]]
    if step[1] == "matmul":
        return (a @ b) * 0.3
    return getattr(m, step[1])(a, b)


def _run(m, n_leaves, steps, seed):
    rng = np.random.default_rng(seed)
    leaves = [m.tensor(rng.standard_normal((3, 3)), requires_grad=True) for _ in range(n_leaves)]
    vals = list(leaves)
    for s in steps:
        vals.append(_apply(m, s, vals))
    return leaves, vals


def _np(t):
    return None if t is None else (t.detach().numpy() if hasattr(t, "detach") else t.numpy())


def _same(a, b, what):
    if b is None:
        assert a is None or not np.any(_np(a)), f"{what}: torch None, chainrule {a}"
        return
    assert a is not None, f"{what}: chainrule None, torch {b}"
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-9, atol=1e-12, err_msg=what)


@prop(120)
@given(graph=dag(), seed=st.integers(0, 100), repeats=st.integers(1, 3))
def test_random_dag_backward_accumulates(graph, seed, repeats):
    """loss = sum of random outputs; backward(retain_graph=True) ``repeats`` times: every
    leaf .grad equals torch's (accumulated), including leaves on no path (None)."""
    n_leaves, steps = graph
    grads = []
    for m in (cr, torch):
        leaves, vals = _run(m, n_leaves, steps, seed)
        w = np.random.default_rng(seed + 1).standard_normal((3, 3))
        loss = (vals[-1] * m.tensor(w)).sum() + vals[len(vals) // 2].sum()
        for _ in range(repeats):
            loss.backward(retain_graph=True)
        grads.append([x.grad for x in leaves])
    for i, (a, b) in enumerate(zip(*grads)):
        _same(a, b, f"leaf {i}")


@prop(120)
@given(graph=dag(), seed=st.integers(0, 100), data=st.data())
def test_autograd_grad_on_subsets(graph, seed, data):
    """autograd.grad of several outputs w.r.t. a random subset of leaves and intermediate
    values (allow_unused), with random upstream gradients; .grad stays untouched."""
    n_leaves, steps = graph
    total = n_leaves + len(steps)
    wrt = data.draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=4, unique=True))
    outs = data.draw(st.lists(st.integers(0, total - 1), min_size=1, max_size=3, unique=True))
    results = []
    for m in (cr, torch):
        leaves, vals = _run(m, n_leaves, steps, seed)
        rng = np.random.default_rng(seed + 2)
        ups = [m.tensor(rng.standard_normal(tuple(vals[i].shape))) for i in outs]
        try:
            g = m.autograd.grad(
                [vals[i] for i in outs], [vals[i] for i in wrt], ups, allow_unused=True
            )
        except RuntimeError as e:
            results.append(("error", type(e)))
            continue
        assert all(x.grad is None for x in leaves)
        results.append(("ok", g))
    assert results[0][0] == results[1][0], f"chainrule {results[0]}, torch {results[1]}"
    if results[0][0] == "ok":
        for i, (a, b) in enumerate(zip(results[0][1], results[1][1])):
            _same(a, b, f"input {wrt[i]}")


@prop(30)
@given(depth=st.integers(1, 3000), width=st.integers(1, 200), seed=st.integers(0, 10))
def test_deep_and_wide(depth, width, seed):
    """A chain of ``depth`` ops, then a fan-out of ``width`` uses of one node, summed."""
    grads = []
    for m in (cr, torch):
        x = m.tensor(np.random.default_rng(seed).standard_normal(4), requires_grad=True)
        y = x
        for i in range(depth):
            y = y * 0.999 + 0.001 if i % 2 else m.sin(y) + y * 0.5
        z = sum(y * (k + 1) / width for k in range(width))
        z.sum().backward()
        grads.append(x.grad)
    np.testing.assert_allclose(_np(grads[0]), _np(grads[1]), rtol=1e-7, atol=1e-12)


INPLACE = ["add_", "mul_", "setitem", "view_setitem", "exp_", "iadd_view", "div_", "clamp_"]


def _inplace_step(m, op, state, k):
    """One step of an in-place program on the state (a, b leaves; x the working tensor)."""
    a, b, x = state["a"], state["b"], state["x"]
    if op == "add_":
        x.add_(b * k, alpha=0.5)
    elif op == "mul_":
        x.mul_(b)
    elif op == "div_":
        x.div_(b * b + 1)
    elif op == "exp_":
        x.exp_()
    elif op == "clamp_":
        x.clamp_(-0.5, 1.5)
    elif op == "setitem":
        x[k % 4] = a[(k + 1) % 4] * 2
    elif op == "view_setitem":
        v = x[1:3]
        v[0] = b[k % 4] ** 2
    elif op == "iadd_view":
        v = x.view(2, 2)
        v += a.view(2, 2).t()
    state["x"] = x


@prop(150)
@given(
    ops=st.lists(st.sampled_from(INPLACE), min_size=1, max_size=6),
    uses=st.lists(st.integers(0, 3), min_size=0, max_size=3),
    seed=st.integers(0, 100),
)
def test_inplace_sequences(ops, uses, seed):
    """x = a * 1; random in-place ops (some through views), with earlier values of x used
    by other nodes in between; loss over x and the saved uses. Either both libraries give
    the same gradients, or torch raises: then chainrule raises the same error or computes
    the correct gradient (checked by recomputing out of place)."""
    outcomes = []
    for m in (cr, torch):
        rng = np.random.default_rng(seed)
        a = m.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
        b = m.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
        state = {"a": a, "b": b, "x": a * 1}
        kept = []
        try:
            for i, op in enumerate(ops):
                if i in uses:
                    kept.append(m.sin(state["x"]) * state["x"])  # saves x for backward
                _inplace_step(m, op, state, i)
            loss = (state["x"] * m.tensor(np.arange(1.0, 5.0))).sum()
            for k in kept:
                loss = loss + k.sum()
            loss.backward()
            outcomes.append(("ok", _np(a.grad), _np(b.grad), _np(loss)))
        except RuntimeError as e:
            outcomes.append(("error", str(e).split(":")[0]))
    ours, theirs = outcomes
    if theirs[0] == "ok":
        assert ours[0] == "ok", f"chainrule raised {ours[1]!r}, torch computed"
        for x, y in zip(ours[1:], theirs[1:]):
            _same_array(x, y)
    elif ours[0] == "error":
        assert ours[1] == theirs[1]
    else:  # torch refused; ours must be the gradient of the program run out of place
        ref = _out_of_place(ops, uses, seed)
        for x, y in zip(ours[1:], ref):
            _same_array(x, y)


def _same_array(x, y):
    if x is None or y is None:
        assert (x is None or not np.any(x)) and (y is None or not np.any(y)), (x, y)
    else:
        np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12)


def _out_of_place(ops, uses, seed):
    """The same program in torch with every in-place step replaced by a fresh tensor."""
    rng = np.random.default_rng(seed)
    a = torch.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
    b = torch.tensor(rng.uniform(0.5, 1.5, 4), requires_grad=True)
    x = a * 1
    kept = []
    for i, op in enumerate(ops):
        if i in uses:
            kept.append(torch.sin(x) * x)
        x = x.clone()
        state = {"a": a, "b": b, "x": x}
        _inplace_step(torch, op, state, i)
        x = state["x"]
    loss = (x * torch.arange(1.0, 5.0, dtype=torch.float64)).sum()
    for k in kept:
        loss = loss + k.sum()
    loss.backward()
    return _np(a.grad), _np(b.grad), loss.detach().numpy()

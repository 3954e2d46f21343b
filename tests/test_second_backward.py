"""A second backward without retain_graph through the ops that select by index (sort,
topk, msort, take_along_dim, gather, max/min along a dim ...) raises torch's "Trying to
backward through the graph a second time": torch saves their indices and frees them after
backward (issue 10). The indices they return are saved too: writing them in place before
backward raises. Every program runs under torch and chainrule."""

import pytest
import torch

import chainrule as cr

OPS = {
    "sort": lambda m, x: x.sort(1).values,
    "sort_descending": lambda m, x: x.sort(1, descending=True)[0],
    "sort_stable_dim0": lambda m, x: m.sort(x, stable=True, dim=0).values,
    "topk": lambda m, x: x.topk(2).values,
    "topk_dim0_smallest": lambda m, x: x.topk(1, dim=0, largest=False)[0],
    "msort": lambda m, x: x.msort(),
    "take_along_dim": lambda m, x: m.take_along_dim(x, x.argsort(1), 1),
    "take_along_dim_flat": lambda m, x: m.take_along_dim(x, m.tensor([0, 5, 2])),
    "gather": lambda m, x: x.gather(1, m.tensor([[0, 1]] * 3)),
    "index": lambda m, x: x[m.tensor([0, 2])],
    "max_dim": lambda m, x: x.max(1).values,
    "min_dim": lambda m, x: x.min(0)[0],
    "amax": lambda m, x: x.amax(1),
    "max": lambda m, x: x.max(),
    "sort_0d": lambda m, x: x[0, 0].sort().values,
    "topk_0d": lambda m, x: x[1, 2].topk(1).values,
}


def _x(m):
    return m.tensor([[3.0, 1.0, 2.0, 0.5], [0.0, -1.0, 5.0, 4.0], [2.0, 2.0, 1.0, -3.0]],
                    requires_grad=True)  # fmt: skip


def _outcome(m, run):
    try:
        return run()
    except RuntimeError as e:
        return "RuntimeError: " + str(e).replace("torch", "chainrule")


@pytest.mark.parametrize("retain", [False, True])
@pytest.mark.parametrize("name", list(OPS))
def test_second_backward(name, retain):
    def run(m):
        x = _x(m)
        loss = OPS[name](m, x).sum()
        loss.backward(retain_graph=retain)

        def again():
            loss.backward()
            return x.grad.tolist()

        return _outcome(m, again)

    assert run(cr) == run(torch)


@pytest.mark.parametrize("name", ["sort", "topk", "max"])
def test_writing_returned_indices_raises(name):
    def run(m):
        x = _x(m)
        values, indices = {"sort": x.sort(1), "topk": x.topk(2), "max": x.max(1)}[name]
        indices.zero_()

        def backward():
            values.sum().backward()
            return x.grad.tolist()

        return _outcome(m, backward)

    assert run(cr) == run(torch)


def test_a_node_that_saved_only_numbers_runs_again():
    """lerp with a number weight saves no tensor in torch, so a second backward through it
    (after one that freed the graph) runs; a 0-d tensor weight is saved and refuses.
    Found by the program fuzzer."""
    got = {}
    for m in (torch, cr):
        out = []
        for weight in (0.3, m.tensor(0.3)):
            a, b = m.ones(4, 3, requires_grad=True), m.ones(4, 1, requires_grad=True)
            x = a.lerp(b, weight)
            (x * x).sum().backward(inputs=[b])
            try:
                x.backward(m.ones(4, 3))
                out.append((round(a.grad.sum().item(), 4), round(b.grad.sum().item(), 4)))
            except RuntimeError as e:
                out.append(str(e)[:50])
        got[m] = out
    assert got[cr] == got[torch]


def _copy_then_backward_twice(m):
    c = m.tensor([1.0, 1.0, 1.0])
    a = m.tensor([1.0], requires_grad=True)
    c.copy_(a)  # CopyBackwards saves nothing: its node runs again
    c.backward(m.tensor([-1.75, 1.81, 0.82]))
    (c**2).sum().backward()
    s = a + a  # add saves nothing either
    s.sum().backward()
    s.sum().backward()
    p = a * 1 + a  # mul by a number does (torch wraps the number in a tensor)
    p.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        p.sum().backward()
    return a.grad.tolist()


def test_a_node_that_saved_nothing_runs_again():
    assert _copy_then_backward_twice(cr) == pytest.approx(_copy_then_backward_twice(torch))


@pytest.mark.parametrize("alpha", [-0.5, 2])
@pytest.mark.parametrize("fn", ["add", "sub"])
def test_add_with_alpha_is_one_node_that_runs_again(fn, alpha):
    """``add(a, b, alpha=)`` is one AddBackward0 keeping alpha as a number (no tensor
    saved), so a second backward without retain_graph runs it again, as torch."""

    def program(m):
        k = m.tensor([[1.0, 2.0, 3.0]] * 2)
        w = m.tensor([[1.0, -1.0, 0.5]], requires_grad=True)
        v = getattr(m, fn)(k, w, alpha=alpha)
        v.mean().backward()
        v.sum().backward()
        name = v.grad_fn.name() if m is cr else type(v.grad_fn).__name__
        return name, v.grad_fn.next_functions[0][0] is None, v.tolist(), w.grad.tolist()

    assert program(cr) == program(torch)

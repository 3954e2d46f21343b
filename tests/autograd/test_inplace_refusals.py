"""In-place writes torch refuses in a graph (issue 10, missing errors), each program run
under torch and chainrule, in torch's order of checks: an output of a function returning
several views (split, chunk, unbind) or a view of one; a view of a leaf (also a leaf made
from a view by ``requires_grad_()``, and ``w[0] = v``, which writes through ``w.select``);
a leaf that requires grad. What torch allows stays allowed: the same writes under no_grad,
or where nothing requires grad."""

import pytest
from twin_programs import check


def graph(m):
    return m.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True) * 2


def _multi(write, make=graph, no_grad=False):
    def program(m):
        views = make(m)
        if no_grad:
            with m.no_grad():
                write(m, views)
        else:
            write(m, views)
        return views

    return program


MULTI_OUTPUT = {
    "split, mul_": _multi(lambda m, b: b.split(2)[1].mul_(2)),
    "split by sizes, add_": _multi(lambda m, b: b.split([1, 3])[0].add_(1)),
    "split_with_sizes": _multi(lambda m, b: b.split_with_sizes([3, 1])[1].add_(1)),
    "the function split_with_sizes": _multi(lambda m, b: m.split_with_sizes(b, [2, 2])[0].neg_()),
    "chunk, add_": _multi(lambda m, b: b.chunk(2)[1].add_(2)),
    "chunk into one piece": _multi(lambda m, b: b.chunk(1)[0].add_(2)),
    "unbind": _multi(lambda m, b: b.reshape(2, 2).unbind()[1].add_(2)),
    "unbind(1)": _multi(lambda m, b: b.reshape(2, 2).unbind(1)[0].sub_(2)),
    "the function split": _multi(lambda m, b: m.split(b, 2)[0].mul_(2)),
    "the fourth output": _multi(lambda m, b: b.split(1)[3].mul_(2)),
    "setitem": _multi(lambda m, b: b.split(2)[0].__setitem__(0, 3.0)),
    "setitem, advanced index": _multi(lambda m, b: b.split(2)[0].__setitem__([0], 3.0)),
    "zero_": _multi(lambda m, b: b.split(2)[0].zero_()),
    "copy_": _multi(lambda m, b: b.split(2)[0].copy_(m.ones(2))),
    "t_": _multi(lambda m, b: b.reshape(2, 2).split(1)[0].t_()),
    "unsqueeze_": _multi(lambda m, b: b.split(2)[0].unsqueeze_(0)),
    "a slice of an output": _multi(lambda m, b: b.split(2)[0][0:1].add_(2)),
    "a view() of an output": _multi(lambda m, b: b.split(2)[0].view(2).add_(2)),
    "after the base was written": _multi(lambda m, b: (b.split(2)[0], b.mul_(2))[0].mul_(2)),
    "a leaf's outputs": _multi(
        lambda m, b: b.split(2)[0].mul_(2), lambda m: m.ones(4, requires_grad=True)
    ),
    "a plain tensor's, with a value that requires grad": _multi(
        lambda m, b: b.split(2)[0].mul_(m.ones(2, requires_grad=True)), lambda m: m.ones(4)
    ),
    "... a slice of one": _multi(
        lambda m, b: b.split(2)[0][0:1].mul_(m.ones(1, requires_grad=True)), lambda m: m.ones(4)
    ),
    # allowed
    "under no_grad": _multi(lambda m, b: b.split(2)[0].mul_(2), no_grad=True),
    "nothing requires grad": _multi(lambda m, b: b.split(2)[0].mul_(2), lambda m: m.ones(4)),
    "the input itself": _multi(lambda m, b: (b.split(2), b.mul_(2))),
}


@pytest.mark.parametrize("name", list(MULTI_OUTPUT))
def test_multi_output_views(name):
    check(MULTI_OUTPUT[name])


def _leaf_view(write):
    def program(m):
        x = m.ones(2, 3)
        v = x.t().requires_grad_()
        write(m, x, v)
        return v, v.is_leaf, x.requires_grad

    return program


def _no_grad(m, write):
    with m.no_grad():
        write()


def _leaf(write):
    def program(m):
        w = m.ones(3, 3, requires_grad=True)
        write(m, w)
        return w

    return program


def _setitem(key):
    return _leaf(lambda m, w: w.__setitem__(key(m), 5.0))


VIEWS_OF_LEAVES = {
    "a view made a leaf, mul_": _leaf_view(lambda m, x, v: v.mul_(2)),
    "... a view of it": _leaf_view(lambda m, x, v: v[0].mul_(2)),
    "... t_": _leaf_view(lambda m, x, v: v.t_()),
    "... setitem": _leaf_view(lambda m, x, v: v.__setitem__(0, 1.0)),
    "... its base written": _leaf_view(lambda m, x, v: x.mul_(2)),
    "... under no_grad": _leaf_view(lambda m, x, v: _no_grad(m, lambda: v.mul_(2))),
    "leaf[0].mul_": _leaf(lambda m, w: w[0].mul_(2)),
    "leaf.view(-1).add_": _leaf(lambda m, w: w.view(-1).add_(1)),
    "leaf.mul_": _leaf(lambda m, w: w.mul_(2)),
    "leaf[0] =": _setitem(lambda m: 0),
    "leaf[1:] =": _setitem(lambda m: slice(1, None)),
    "leaf[-3:] =": _setitem(lambda m: slice(-3, None)),
    "leaf[0:3] =": _setitem(lambda m: slice(0, 3)),
    "leaf[:] =": _setitem(lambda m: slice(None)),
    "leaf[...] =": _setitem(lambda m: Ellipsis),
    "leaf[None] =": _setitem(lambda m: None),
    "leaf[:, :] =": _setitem(lambda m: (slice(None), slice(None))),
    "leaf[:, [0]] =": _setitem(lambda m: (slice(None), [0])),
    "leaf[0, [0]] =": _setitem(lambda m: (0, [0])),
    "leaf[[0], 0] =": _setitem(lambda m: ([0], 0)),
    "leaf[0:1, [0]] =": _setitem(lambda m: (slice(0, 1), [0])),
    "leaf[[0]] =": _setitem(lambda m: [0]),
    "leaf[mask] =": _setitem(lambda m: m.ones(3, 3) > 0),
    "leaf[tensor(0)] =": _setitem(lambda m: m.tensor(0)),
}


@pytest.mark.parametrize("name", list(VIEWS_OF_LEAVES))
def test_views_of_leaves(name):
    check(VIEWS_OF_LEAVES[name])

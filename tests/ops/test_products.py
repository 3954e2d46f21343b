"""Products and their statistics beside tests/ops/test_linalg.py's table: vdot,
chain_matmul and multi_dot's order of products, bilinear, cov and corrcoef, against torch
(values, gradients, second order, finite differences, grad_fn names), then errors and
warnings."""

import warnings

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr


def weights(r):  # a (3, 6) input, integer frequencies (one zero) and observation weights
    return [r.uniform(-2, 2, (3, 6)), np.array([1, 2, 0, 3, 1, 1]), r.uniform(0.2, 1.5, 6)]


CASES = [
    Case("vdot", lambda m, a, b: m.vdot(a, b), [(4,), (4,)]),
    Case("vdot", lambda m, a, b: a.vdot(b), [(1,), (1,)], note="method"),
    Case("vdot", lambda m, a: m.vdot(a, a), [(5,)], note="same"),
    Case(
        "vdot",
        lambda m, a, b: m.vdot(a, b),
        make=lambda r: [r.integers(-3, 3, 4), r.integers(-3, 3, 4)],
        grad=False,
        note="int",
    ),
    Case("chain_matmul", lambda m, a, b: m.chain_matmul(a, b), [(2, 3), (3, 4)]),
    Case("chain_matmul", lambda m, a: m.chain_matmul(a), [(2, 3)], note="one"),
    Case(
        "chain_matmul",
        lambda m, a, b, c: m.chain_matmul(a, b, c),
        [(2, 6), (6, 5), (5, 4)],
        note="three-left",
    ),
    Case(
        "chain_matmul",
        lambda m, a, b, c: m.chain_matmul(a, b, c),
        [(6, 2), (2, 5), (5, 1)],
        note="three-right",
    ),
    Case(
        "chain_matmul",
        lambda m, a, b, c, d, e: m.chain_matmul(a, b, c, d, e),
        [(2, 5), (5, 3), (3, 7), (7, 2), (2, 4)],
        note="five",
    ),
    Case(
        "linalg.multi_dot",
        lambda m, a, b, c, d: m.linalg.multi_dot([a, b, c, d]),
        [(5,), (5, 3), (3, 7), (7,)],
        note="vectors-four",
    ),
    Case(
        "linalg.multi_dot",
        lambda m, a, b, c: m.linalg.multi_dot([a, b, c]),
        [(4,), (4, 3), (3, 2)],
        note="vector-first",
    ),
    Case("bilinear", lambda m, *a: m.bilinear(*a), [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    Case("bilinear", lambda m, *a: m.bilinear(*a), [(3,), (2,), (5, 3, 2)], note="1d-nobias"),
    Case(
        "bilinear",
        lambda m, *a: m.nn.functional.bilinear(*a),
        [(2, 4, 3), (2, 4, 2), (5, 3, 2), (5,)],
        note="functional-3d",
    ),
    Case("cov", lambda m, a: m.cov(a), [(3, 5)]),
    Case("cov", lambda m, a: a.cov(correction=0), [(2, 4)], note="correction0"),
    Case("cov", lambda m, a: m.cov(a, correction=2), [(3, 6)], note="correction2"),
    Case("cov", lambda m, a: m.cov(a), [(5,)], note="1d"),
    Case("cov", lambda m, a: m.cov(a.t()), [(5, 2)], note="non-contiguous"),
    Case("cov", lambda m, a, f, w: m.cov(a, fweights=f), make=weights, note="fweights"),
    Case("cov", lambda m, a, f, w: m.cov(a, aweights=w), make=weights, note="aweights"),
    Case(
        "cov",
        lambda m, a, f, w: m.cov(a, correction=3, fweights=f, aweights=w),
        make=weights,
        note="both",
    ),
    Case(
        "cov",
        lambda m, a, f, w: m.cov(a, correction=0, fweights=f, aweights=w),
        make=weights,
        note="both-correction0",
    ),
    Case(
        "cov",
        lambda m, a: m.cov(a),
        make=lambda r: [r.integers(0, 5, (2, 4))],
        grad=False,
        note="int",
    ),
    Case("corrcoef", lambda m, a: m.corrcoef(a), [(3, 5)]),
    Case("corrcoef", lambda m, a: a.corrcoef(), [(2, 4)], note="method"),
    Case("corrcoef", lambda m, a: m.corrcoef(a), [(5,)], note="1d"),
    Case(
        "corrcoef",
        lambda m, a: m.corrcoef(a),
        make=lambda r: [r.integers(0, 5, (2, 4))],
        grad=False,
        note="int",
    ),
]

test_torch_parity, test_finite_differences, test_grad_fn_names = table_tests(CASES)


def test_vdot_conjugates_its_first_argument():
    a, b = np.array([1 + 2j, 3 - 1j]), np.array([2 - 1j, 1 + 1j])
    ours = cr.vdot(cr.tensor(a), cr.tensor(b))
    assert ours.item() == torch.vdot(torch.tensor(a), torch.tensor(b)).item() == np.vdot(a, b)


def test_cov_and_corrcoef_of_complex_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    for fn in ("cov", "corrcoef"):
        ours = getattr(cr, fn)(cr.tensor(x))
        theirs = getattr(torch, fn)(torch.tensor(x))
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)


def _tree(fn):  # a graph's node names, nested as its edges
    if fn is None:
        return None
    name = fn.name().replace("torch::autograd::", "")
    return (name, [_tree(f) for f, _ in fn.next_functions])


@pytest.mark.parametrize(
    "shapes",
    [
        [(2, 50), (50, 2), (2, 50)],
        [(50, 2), (2, 50), (50, 2)],
        [(3, 8), (8, 2), (2, 9), (9, 4), (4, 6)],
        [(9, 2), (2, 8), (8, 1), (1, 7)],
    ],
)
def test_multi_dot_orders_products_as_torch(shapes):
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = cr.linalg.multi_dot([cr.tensor(a, requires_grad=True) for a in arrays])
    theirs = torch.linalg.multi_dot([torch.tensor(a, requires_grad=True) for a in arrays])
    assert _tree(ours.grad_fn) == _tree(theirs.grad_fn)


def test_chain_matmul_warns_once_like_torch():
    from chainrule.ops.linalg import compose

    compose._chain_matmul_warned[0] = False
    a = cr.ones(2, 2)
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        cr.chain_matmul(a, a)
    with warnings.catch_warnings(record=True) as second:
        warnings.simplefilter("always")
        cr.chain_matmul(a, a)
    assert [str(w.message) for w in first] == [
        "torch.chain_matmul is deprecated and will be removed in a future PyTorch release. "
        "Use torch.linalg.multi_dot instead, which accepts a list of two or more tensors "
        "rather than multiple parameters."
    ]
    assert first[0].category is UserWarning and first[0].filename == __file__
    assert not second


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.cov(m.ones(3, 1)),
        lambda m: m.cov(m.ones(3, 4), correction=4),
        lambda m: m.cov(m.ones(2, 3), aweights=m.tensor([1.0, 0.0, 0.0])),
    ],
)
def test_cov_without_degrees_of_freedom_warns_like_torch(make):
    results = []
    for lib in (torch, cr):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = make(lib)
        assert len(caught) == 1 and caught[0].category is UserWarning
        results.append((str(caught[0].message).split(" (Triggered")[0], out.numpy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


ERRORS = [
    lambda m: m.vdot(m.ones(3), m.ones(4)),
    lambda m: m.vdot(m.ones(2, 3), m.ones(3)),
    lambda m: m.vdot(m.tensor(1.0), m.ones(3)),
    lambda m: m.vdot(m.ones(3), m.ones(3, dtype=m.float64)),
    lambda m: m.vdot(m.ones(3) > 0, m.ones(3) > 0),
    lambda m: m.chain_matmul(),
    lambda m: m.chain_matmul(m.ones(3)),
    lambda m: m.chain_matmul(m.ones(2, 3), m.ones(3)),
    lambda m: m.chain_matmul(m.ones(2, 2, 2)),
    lambda m: m.chain_matmul(m.ones(2, 3), m.ones(4, 2)),
    lambda m: m.chain_matmul(m.ones(2, 3), m.ones(3, 2, dtype=m.float64)),
    lambda m: m.chain_matmul([m.ones(2, 2)]),
    lambda m: m.linalg.multi_dot([m.ones(2, 3), m.ones(3, 4), m.ones(5, 2)]),
    lambda m: m.linalg.multi_dot([m.ones(3), m.ones(4)]),
    lambda m: m.linalg.multi_dot([m.ones(2, 3), m.ones(3, 4, dtype=m.int64)]),
    lambda m: m.cov(m.ones(2, 3, 4)),
    lambda m: m.cov(m.ones(2, 3) > 0),
    lambda m: m.cov(m.ones(2, 3), correction=1.5),
    lambda m: m.cov(m.ones(2, 3), fweights=m.ones(2, 3, dtype=m.int64)),
    lambda m: m.cov(m.ones(2, 3), fweights=m.ones(3)),
    lambda m: m.cov(m.ones(2, 3), fweights=m.ones(4, dtype=m.int64)),
    lambda m: m.cov(m.ones(2, 3), fweights=m.tensor([1, -1, 2])),
    lambda m: m.cov(m.ones(2, 3), fweights=m.zeros(3, dtype=m.int64)),
    lambda m: m.cov(m.ones(2, 3), aweights=m.ones(2, 3)),
    lambda m: m.cov(m.ones(2, 3), aweights=m.ones(3, dtype=m.int64)),
    lambda m: m.cov(m.ones(2, 3), aweights=m.ones(2)),
    lambda m: m.cov(m.ones(2, 3), aweights=m.tensor([1.0, -1.0, 2.0])),
    lambda m: m.corrcoef(m.ones(2, 3, 4)),
    lambda m: m.corrcoef(m.ones(2, 3) > 0),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors_match_torch(i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            ERRORS[i](torch)
        with pytest.raises(type(theirs.value)) as ours:
            ERRORS[i](cr)
    assert str(ours.value) == str(theirs.value)

"""Sets and searching against torch: unique, unique_consecutive, isin, searchsorted,
bucketize (values, dtypes, shapes, nan, errors; none has a derivative)."""

import numpy as np
import pytest
import torch
from harness import Case, table_tests

import chainrule as cr

NAN = float("nan")


def arr(*values, dtype=None):
    return lambda r: [np.array(*values, dtype=dtype)]


def ints(shape, lo=0, hi=4):
    return lambda r: [r.integers(lo, hi, shape)]


def rows(r):  # 2-D integers with repeated rows and columns
    return [np.array([[1, 2, 1], [0, 5, 0], [1, 2, 1], [0, 5, 0], [1, 1, 1]])]


SEQ = np.array([1.0, 3.0, 3.0, 5.0, 7.0, 9.0])
VALS = np.array([[0.0, 3.0, 6.0, 9.0, 10.0], [3.0, NAN, 1.0, 7.0, 4.0]])


def seq_vals(r):
    return [SEQ, VALS]


CASES = [
    Case("unique", lambda m, a: m.unique(a), make=ints((4, 5)), grad=False),
    Case(
        "unique",
        lambda m, a: a.unique(return_inverse=True),
        make=ints((4, 5)),
        grad=False,
        note="inverse",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, return_counts=True),
        make=ints((4, 5)),
        grad=False,
        note="counts",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, False, True, True),
        make=ints((4, 5)),
        grad=False,
        note="unsorted-all",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, return_inverse=True, return_counts=True),
        make=arr([3.0, 1.0, NAN, 2.0, 1.0, NAN, 3.0]),
        grad=False,
        note="nan",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, return_counts=True),
        make=arr([True, False, True]),
        grad=False,
        note="bool",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, return_inverse=True),
        make=arr(2.5),
        grad=False,
        note="0d",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, dim=0, return_inverse=True, return_counts=True),
        make=rows,
        grad=False,
        note="dim0",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: a.unique(dim=-1, return_inverse=True, return_counts=True),
        make=rows,
        grad=False,
        note="dim1",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, dim=1, return_counts=True),
        make=ints((2, 6, 2), 0, 2),
        grad=False,
        note="dim-3d",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, dim=0, return_inverse=True, return_counts=True),
        make=lambda r: [np.zeros((0, 3))],
        grad=False,
        note="dim-empty",
    ),  # fmt: skip
    Case(
        "unique",
        lambda m, a: m.unique(a, return_inverse=True, return_counts=True),
        make=lambda r: [np.zeros((0, 3))],
        grad=False,
        note="empty",
    ),  # fmt: skip
    Case("unique", lambda m, a: m.unique(a), [(3, 4)], grad=False, note="float"),
    Case(
        "unique_consecutive",
        lambda m, a: m.unique_consecutive(a),
        make=arr([1, 1, 2, 2, 3, 1, 1, 2]),
        grad=False,
    ),  # fmt: skip
    Case(
        "unique_consecutive",
        lambda m, a: a.unique_consecutive(return_inverse=True, return_counts=True),
        make=ints((3, 6), 0, 2),
        grad=False,
        note="all",
    ),  # fmt: skip
    Case(
        "unique_consecutive",
        lambda m, a: m.unique_consecutive(a, return_counts=True),
        make=arr([3.0, NAN, NAN, 2.0, 2.0]),
        grad=False,
        note="nan",
    ),  # fmt: skip
    Case(
        "unique_consecutive",
        lambda m, a: m.unique_consecutive(a, return_inverse=True),
        make=arr(2.0),
        grad=False,
        note="0d",
    ),  # fmt: skip
    Case(
        "unique_consecutive",
        lambda m, a: m.unique_consecutive(a, return_inverse=True, return_counts=True, dim=0),
        make=rows,
        grad=False,
        note="dim0",
    ),  # fmt: skip
    Case(
        "unique_consecutive",
        lambda m, a: m.unique_consecutive(a, return_inverse=True, dim=1),
        make=rows,
        grad=False,
        note="dim1",
    ),  # fmt: skip
    Case(
        "isin",
        lambda m, a, b: m.isin(a, b),
        make=lambda r: [r.integers(0, 9, (3, 4)), np.array([2, 4, 8, 8])],
        grad=False,
    ),  # fmt: skip
    Case(
        "isin",
        lambda m, a, b: m.isin(a, b, invert=True),
        make=lambda r: [np.array([1.0, 2.0, 3.0, NAN]), np.array([2.0, NAN])],
        grad=False,
        note="nan-invert",
    ),  # fmt: skip
    Case(
        "isin",
        lambda m, a, b: m.isin(a, b, assume_unique=True),
        make=lambda r: [np.array([1, 2, 3]), np.array([[2.5, 3.0]])],
        grad=False,
        note="mixed",
    ),  # fmt: skip
    Case("isin", lambda m, a: m.isin(a, 2), make=arr([1, 2, 3]), grad=False, note="number"),
    Case("isin", lambda m, a: m.isin(2, a), make=arr([1, 2]), grad=False, note="number-first"),
    Case("searchsorted", lambda m, s, v: m.searchsorted(s, v), make=seq_vals, grad=False),
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v, right=True),
        make=seq_vals,
        grad=False,
        note="right",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v, side="right", out_int32=True),
        make=seq_vals,
        grad=False,
        note="side-int32",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v, side="left", right=False),
        make=seq_vals,
        grad=False,
        note="side-left",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s: m.searchsorted(s, 4),
        make=lambda r: [SEQ],
        grad=False,
        note="number",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s: m.searchsorted(s, m.tensor(3.0)),
        make=lambda r: [SEQ],
        grad=False,
        note="0d",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v),
        make=lambda r: [np.array([1, 3, 5]), np.array([2.5, 3.0, 7.0])],
        grad=False,
        note="mixed",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v, right=True),
        make=lambda r: [np.sort(r.integers(0, 6, (2, 3, 5)), -1), r.integers(-1, 7, (2, 3, 4))],
        grad=False,
        note="nd",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v, i: m.searchsorted(s, v, sorter=i),
        make=lambda r: [
            np.array([5.0, 1.0, 3.0, 3.0]),
            np.array([0.0, 2.0, 3.0, 4.0, 6.0]),
            np.array([1, 2, 3, 0]),
        ],
        grad=False,
        note="sorter",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v, i: m.searchsorted(s, v, side="right", sorter=i),
        make=lambda r: [
            np.array([[5, 1, 3], [2, 0, 2]]),
            np.array([[1, 3], [2, 9]]),
            np.array([[1, 2, 0], [1, 0, 2]]),
        ],
        grad=False,
        note="sorter-nd-right",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v),
        make=lambda r: [np.array([1.0, NAN]), np.array([2.0, NAN])],
        grad=False,
        note="nan",
    ),  # fmt: skip
    Case(
        "searchsorted",
        lambda m, s, v: m.searchsorted(s, v),
        make=lambda r: [np.zeros(0), np.array([1.0, 2.0])],
        grad=False,
        note="empty",
    ),
    Case("bucketize", lambda m, s, v: m.bucketize(v, s), make=seq_vals, grad=False),
    Case(
        "bucketize",
        lambda m, s, v: m.bucketize(v, s, right=True, out_int32=True),
        make=seq_vals,
        grad=False,
        note="right-int32",
    ),  # fmt: skip
    Case(
        "bucketize", lambda m, s: m.bucketize(4, s), make=lambda r: [SEQ], grad=False, note="number"
    ),  # fmt: skip
    Case(
        "bucketize",
        lambda m, s, v: m.bucketize(v, s),
        make=lambda r: [np.array([1.5]), np.array([1, 2])],
        grad=False,
        note="mixed",
    ),
]


(test_torch_parity,) = table_tests(CASES, grad=False, names=False)


def _outcome(fn, lib):
    try:
        out = fn(lib)
    except Exception as e:  # noqa: BLE001  (compared with torch's)
        return type(e).__name__, str(e).replace("torch.", "").replace("chainrule.", "")
    outs = out if isinstance(out, tuple) else (out,)
    return "ok", [(str(o.dtype).split(".")[-1], tuple(o.shape), o.tolist()) for o in outs]


ERRORS = {
    "unique-complex": lambda m: m.unique(m.tensor([1 + 1j])),
    "unique-0d-dim": lambda m: m.unique(m.tensor(3.0), dim=0),
    "unique-dim-range": lambda m: m.unique(m.tensor([1, 2]), dim=2),
    "unique-zero-size-other": lambda m: m.unique(m.zeros(2, 0), dim=0),
    "unique_consecutive-dim-range": lambda m: m.unique_consecutive(m.tensor([1, 2]), dim=-2),
    "isin-bool": lambda m: m.isin(m.tensor([1, 2]), m.tensor([True])),
    "isin-complex": lambda m: m.isin(m.tensor([1 + 1j]), m.tensor([1 + 1j])),
    "isin-numbers": lambda m: m.isin(2, 3),
    "searchsorted-opposites": lambda m: m.searchsorted(
        m.tensor([1.0]), m.tensor([1.0]), side="left", right=True
    ),
    "searchsorted-side": lambda m: m.searchsorted(m.tensor([1.0]), m.tensor([1.0]), side="mid"),
    "searchsorted-shapes": lambda m: m.searchsorted(m.zeros(2, 3), m.zeros(1, 4)),
    "searchsorted-ndim": lambda m: m.searchsorted(m.zeros(2, 3), m.zeros(2)),
    "searchsorted-0d": lambda m: m.searchsorted(m.tensor(5), m.tensor([2, 4])),
    "searchsorted-sorter-size": lambda m: m.searchsorted(
        m.tensor([5, 1, 3]), m.tensor([2]), sorter=m.tensor([1, 2])
    ),
    "searchsorted-sorter-range": lambda m: m.searchsorted(
        m.tensor([5, 1, 3]), m.tensor([2]), sorter=m.tensor([1, 2, 5])
    ),
    "searchsorted-sorter-dtype": lambda m: m.searchsorted(
        m.tensor([5, 1, 3]), m.tensor([2]), sorter=m.tensor([1.0, 2, 0])
    ),
    "searchsorted-bool": lambda m: m.searchsorted(m.tensor([True, False]), m.tensor([True])),
    "searchsorted-complex": lambda m: m.searchsorted(m.tensor([1 + 1j]), m.tensor([1 + 1j])),
    "searchsorted-number-nd": lambda m: m.searchsorted(m.zeros(2, 3), 1.0),
    "bucketize-2d": lambda m: m.bucketize(m.tensor([1.0]), m.tensor([[1.0]])),
    "bucketize-bool": lambda m: m.bucketize(m.tensor([True]), m.tensor([True])),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors_and_edges_like_torch(name):
    ours, theirs = _outcome(ERRORS[name], cr), _outcome(ERRORS[name], torch)
    assert ours == theirs


def test_unique_values_carry_torch_s_node_whose_backward_raises():
    for kw, what in [({}, "_unique2"), ({"dim": 0}, "unique_dim")]:
        x, xt = cr.ones(2, 2, requires_grad=True), torch.ones(2, 2, requires_grad=True)
        y, yt = cr.unique(x, **kw), torch.unique(xt, **kw)
        assert y.requires_grad and y.grad_fn.name() == type(yt.grad_fn).__name__
        for v in (y, yt):
            with pytest.raises(NotImplementedError, match=f"the derivative for '{what}' is not"):
                v.sum().backward()
    y = cr.unique_consecutive(cr.ones(3, requires_grad=True))
    yt = torch.unique_consecutive(torch.ones(3, requires_grad=True))
    assert y.grad_fn.name() == type(yt.grad_fn).__name__ == "UniqueConsecutiveBackward0"
    # the integer results carry no history
    _, inv, cnt = cr.unique(cr.ones(3, requires_grad=True), return_inverse=True,
                            return_counts=True)  # fmt: skip
    assert not inv.requires_grad and not cnt.requires_grad

"""Shape ops: the table, torch parity, finite differences, second order; errors; memory sharing."""

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences

import chainrule as cr

S, M = (3, 4), (2, 3, 4)


def _tr(m, x):  # a non-contiguous input: the transpose of a (4, 3, 2) tensor
    return x.permute(2, 1, 0)


CASES = [
    Case("reshape", lambda m, x: m.reshape(x, (4, 6)), [M]),
    Case("reshape", lambda m, x: x.reshape(-1, 2), [M], note="infer"),
    Case("reshape", lambda m, x: x.reshape(()), [(1, 1)], note="to-0d"),
    Case("reshape", lambda m, x: x.reshape(1, 1, 1), [()], note="from-0d"),
    Case("reshape", lambda m, x: x.mT.reshape(12), [S], note="copy"),
    Case("view", lambda m, x: x.view(4, -1), [M]),
    Case("view", lambda m, x: x.view((2, 12)), [M], note="tuple"),
    Case("view", lambda m, x: x.mT.view(4, 3, 1), [S], note="noncontig-compatible"),
    Case("view_as", lambda m, x, y: x.view_as(y), [S, (12,)]),
    Case("reshape_as", lambda m, x, y: x.mT.reshape_as(y), [S, (2, 6)]),
    Case("flatten", lambda m, x: m.flatten(x), [M]),
    Case("flatten", lambda m, x: x.flatten(1), [M], note="start"),
    Case("flatten", lambda m, x: x.flatten(0, -2), [M], note="neg-end"),
    Case("flatten", lambda m, x: x.flatten(1, 1) * 2, [M], note="same-dim"),
    Case("flatten", lambda m, x: x.flatten(), [()], note="0d"),
    Case("unflatten", lambda m, x: x.unflatten(2, (2, 2)), [M]),
    Case("unflatten", lambda m, x: m.unflatten(x, -1, (-1, 1)), [M], note="infer"),
    Case("squeeze", lambda m, x: x.squeeze(), [(1, 3, 1, 2)]),
    Case("squeeze", lambda m, x: m.squeeze(x, -2), [(1, 3, 1, 2)], note="int"),
    Case("squeeze", lambda m, x: x.squeeze(1), [(1, 3, 1, 2)], note="not-1"),
    Case("squeeze", lambda m, x: x.squeeze((0, 1, 2)), [(1, 3, 1, 2)], note="tuple"),
    Case("squeeze", lambda m, x: x.squeeze(0), [()], note="0d"),
    Case("unsqueeze", lambda m, x: x.unsqueeze(0), [S]),
    Case("unsqueeze", lambda m, x: m.unsqueeze(x, -1), [S], note="neg"),
    Case("unsqueeze", lambda m, x: x.unsqueeze(-2), [S], note="neg-mid"),
    Case("unsqueeze", lambda m, x: x.unsqueeze(0), [()], note="0d"),
    Case("transpose", lambda m, x: m.transpose(x, 0, 2), [M]),
    Case("transpose", lambda m, x: x.transpose(-1, 0), [S], note="neg"),
    Case("transpose", lambda m, x: x.transpose(1, 1), [S], note="same"),
    Case("transpose", lambda m, x: x.transpose(0, -1), [()], note="0d"),
    Case("swapaxes", lambda m, x: m.swapaxes(x, 0, 1), [M]),
    Case("swapdims", lambda m, x: x.swapdims(-1, -2), [M]),
    Case("permute", lambda m, x: m.permute(x, (2, 0, 1)), [M]),
    Case("permute", lambda m, x: x.permute(-1, 0, 1), [M], note="neg-varargs"),
    Case("permute", lambda m, x: x.permute(()), [()], note="0d"),
    Case("t", lambda m, x: m.t(x), [S]),
    Case("t", lambda m, x: x.t(), [(4,)], note="1d"),
    Case("t", lambda m, x: x.t(), [()], note="0d"),
    Case("T", lambda m, x: x.T, [S]),
    Case("mT", lambda m, x: x.mT, [M]),
    Case("unfold", lambda m, x: x.unfold(2, 2, 2), [M]),
    Case("unfold", lambda m, x: x.unfold(-1, 3, 1), [M], note="overlapping"),
    Case("unfold", lambda m, x: x.unfold(0, 1, 3), [M], note="step-past-size"),
    Case("unfold", lambda m, x: x.unfold(1, 0, 1), [M], note="size-0"),
    Case("unfold", lambda m, x: x.mT.unfold(1, 2, 1), [M], note="strided-input"),
    Case("unfold", lambda m, x: x.unfold(0, 1, 2), [()], note="0d"),
    Case("movedim", lambda m, x: m.movedim(x, 0, -1), [M]),
    Case("movedim", lambda m, x: x.movedim((0, 1), (2, 0)), [M], note="tuple"),
    Case("movedim", lambda m, x: m.movedim(x, 0, -1), [()], note="0d"),
    Case("moveaxis", lambda m, x: m.moveaxis(x, -1, 0), [M]),
    Case("narrow", lambda m, x: m.narrow(x, 1, 1, 2), [M]),
    Case("select", lambda m, x: m.select(x, 1, -1), [M]),
    Case("select", lambda m, x: x.select(-1, 2), [M], note="method"),
    Case("narrow", lambda m, x: x.narrow(-1, -2, 2), [M], note="neg"),
    Case("expand", lambda m, x: x.expand(2, 3, 4), [(3, 1)]),
    Case("expand_as", lambda m, x, y: x.expand_as(y), [(3, 1), M]),
    Case("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), [(4,)]),
    Case("broadcast_to", lambda m, x: x.broadcast_to((3, 4)), [()], note="0d"),
    Case("sum_to_size", lambda m, x: x.sum_to_size(3, 1), [M]),
    Case("contiguous", lambda m, x: x.contiguous(), [M]),
    Case("contiguous", lambda m, x: x.mT.contiguous() * 1, [M], note="copy"),
    Case("cat", lambda m, a, b: m.cat([a, b]), [S, (2, 4)]),
    Case("cat", lambda m, a, b, c: m.cat((a, b, c), dim=-1), [S, (3, 1), (3, 2)], note="neg"),
    Case("cat", lambda m, a: m.cat([a, a], 1), [S], note="same-input"),
    Case("cat", lambda m, a: m.cat([a]), [M], note="one"),
    Case("cat", lambda m, a, b: m.cat([a, b.double()]), [S, S], note="promote"),
    Case(
        "cat",
        lambda m, a, b: m.cat([a, b], 1),
        make=lambda r: [r.uniform(-2, 2, S), np.arange(6).reshape(3, 2)],
        note="int-float",
    ),
    Case("cat", lambda m, a, b: m.cat([a, b]), [S, (0,)], note="legacy-empty"),
    Case("concat", lambda m, a, b: m.concat([a, b], 0), [(2,), (3,)]),
    Case("concatenate", lambda m, a, b: m.concatenate([a, b], 1), [M, (2, 2, 4)]),
    Case("stack", lambda m, a, b: m.stack([a, b]), [S, S]),
    Case("stack", lambda m, a, b: m.stack((a, b), -1), [S, S], note="last"),
    Case("stack", lambda m, a, b: m.stack([a, b, a], -1), [(), ()], note="0d"),
    Case("split", lambda m, x: m.split(x, 2, 2), [M]),
    Case("split", lambda m, x: x.split(2, 1), [M], note="uneven"),
    Case("split", lambda m, x: x.split([1, 3], -1), [M], note="sizes"),
    Case("split", lambda m, x: x.split([3, 0], 1), [M], note="zero-size"),
    Case("split", lambda m, x: x.split(2), [(0,)], note="empty"),
    Case("split_with_sizes", lambda m, x: x.split_with_sizes([1, 3], -1), [M]),
    Case("split_with_sizes", lambda m, x: m.split_with_sizes(x, [2, 1], 0), [(3, 2)], note="fn"),
    Case("chunk", lambda m, x: m.chunk(x, 2, 2), [M]),
    Case("chunk", lambda m, x: x.chunk(3, -1), [(2, 5)], note="uneven"),
    Case("chunk", lambda m, x: x.chunk(4, 1), [M], note="fewer"),
    Case("chunk", lambda m, x: x.chunk(3, 0), [(0, 4)], note="empty-dim"),
    Case("unbind", lambda m, x: m.unbind(x), [M]),
    Case("unbind", lambda m, x: x.unbind(-1), [S], note="neg"),
    Case("unbind", lambda m, x: x.unbind(), [(3,)], note="to-0d"),
    Case("repeat", lambda m, x: x.repeat(2, 3), [S]),
    Case("repeat", lambda m, x: x.repeat(2, 1, 3), [S], note="new-dims"),
    Case("repeat", lambda m, x: x.repeat((3,)), [()], note="0d"),
    Case("repeat", lambda m, x: x.repeat(2, 0), [S], note="zero"),
    Case("tile", lambda m, x: m.tile(x, (2,)), [S]),
    Case("tile", lambda m, x: x.tile(2, 1, 1), [S], note="more-dims"),
    Case("tile", lambda m, x: x.tile((0,)), [S], note="zero"),
    Case("adjoint", lambda m, x: m.adjoint(x), [M]),
    Case("mH", lambda m, x: x.mH, [M]),
    Case("H", lambda m, x: x.H, [S]),
    Case("flip", lambda m, x: m.flip(x, (0, 2)), [M]),
    Case("flip", lambda m, x: x.flip(-1), [M], note="int"),
    Case("flip", lambda m, x: x.flip(0), [()], note="0d"),
    Case("fliplr", lambda m, x: m.fliplr(x), [M]),
    Case("diff", lambda m, x: m.diff(x), [M]),
    Case("diff", lambda m, x: x.diff(n=2, dim=1), [M], note="n"),
    Case(
        "diff",
        lambda m, x, p: m.diff(x, dim=0, prepend=p, append=p),
        [M, (1, 3, 4)],
        note="prepend",
    ),
    Case("flipud", lambda m, x: x.flipud(), [M]),
    Case("roll", lambda m, x: x.roll(2), [()], note="0d"),
    Case("roll", lambda m, x: m.roll(x, 1, 0), [M]),
    Case("roll", lambda m, x: x.roll((1, -5), (2, -2)), [M], note="multi"),
    Case("roll", lambda m, x: x.roll(3), [M], note="flat"),
    Case("atleast_1d", lambda m, x: m.atleast_1d(x), [()]),
    Case("atleast_1d", lambda m, x, y: m.atleast_1d(x, y), [(), S], note="many"),
    Case("atleast_2d", lambda m, x: m.atleast_2d(x), [(4,)]),
    Case("atleast_2d", lambda m, x, y: m.atleast_2d((x, y)), [(), M], note="tuple"),
    Case("atleast_3d", lambda m, x: m.atleast_3d(x), [(4,)]),
    Case("atleast_3d", lambda m, x, y: m.atleast_3d(x, y), [S, ()], note="2d-0d"),
    Case("hstack", lambda m, a, b: m.hstack([a, b]), [(2,), (3,)]),
    Case("hstack", lambda m, a, b: m.hstack((a, b)), [S, (3, 2)], note="2d"),
    Case("hstack", lambda m, a, b: m.hstack([a, b]), [(), ()], note="0d"),
    Case("vstack", lambda m, a, b: m.vstack([a, b]), [(4,), S]),
    Case("row_stack", lambda m, a, b: m.row_stack([a, b]), [(), ()]),
    Case("dstack", lambda m, a, b: m.dstack([a, b]), [(4,), (4,)]),
    Case("dstack", lambda m, a, b: m.dstack([a, b]), [S, (3, 4, 2)], note="2d-3d"),
    Case("column_stack", lambda m, a, b, c: m.column_stack([a, b, c]), [(3,), S, (3,)]),
    Case("column_stack", lambda m, a, b: m.column_stack([a, b]), [(), ()], note="0d"),
    Case("repeat_interleave", lambda m, x: m.repeat_interleave(x, 2), [S]),
    Case("repeat_interleave", lambda m, x: x.repeat_interleave(3, dim=-1), [M], note="dim"),
    Case("repeat_interleave", lambda m, x: x.repeat_interleave(2), [()], note="0d"),
    Case(
        "repeat_interleave",
        lambda m, x: x.repeat_interleave(m.tensor([2, 0, 1]), dim=0),
        [S],
        note="counts",
    ),
    Case(
        "repeat_interleave",
        lambda m, x: x.repeat_interleave(m.tensor([3]), dim=1, output_size=12),
        [S],
        note="one-count",
    ),
    Case("repeat_interleave", lambda m, x: x.repeat_interleave(m.tensor(2)), [S], note="0d-count"),
    Case("tril", lambda m, x: m.tril(x), [S]),
    Case("tril", lambda m, x: x.tril(-1), [M], note="batched"),
    Case("triu", lambda m, x: m.triu(x, 1), [S]),
    Case("triu", lambda m, x: x.triu(-2), [(2, 4, 3)], note="batched"),
    Case("meshgrid", lambda m, a, b: m.meshgrid(a, b, indexing="ij"), [(3,), (4,)]),
    Case("meshgrid", lambda m, a, b: m.meshgrid([a, b], indexing="xy"), [(3,), (4,)], note="xy"),
    Case(
        "meshgrid",
        lambda m, a, b, c: m.meshgrid(a, b, c, indexing="xy"),
        [(2,), (), (3,)],
        note="xy-3-0d",
    ),
    Case("meshgrid", lambda m, a: m.meshgrid(a, indexing="xy"), [(3,)], note="one"),
    Case("meshgrid", lambda m, a, b: m.meshgrid(a, b), [(2,), (3,)], note="default"),
    Case("broadcast_tensors", lambda m, a, b, c: m.broadcast_tensors(a, b, c), [M, (4,), (3, 1)]),
    Case("broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b), [S, S], note="same"),
    Case(
        "broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b), [(), (2, 0)], note="empty"
    ),
    Case(
        "broadcast_shapes",
        lambda m, x: x * m.tensor(list(m.broadcast_shapes((2, 1), (1, 3), 3, None, ()))),
        [()],
    ),
    Case("cartesian_prod", lambda m, a, b: m.cartesian_prod(a, b), [(3,), (2,)]),
    Case(
        "cartesian_prod", lambda m, a, b, c: m.cartesian_prod(a, b, c), [(2,), (3,), (2,)], note="3"
    ),
    Case("cartesian_prod", lambda m, a: m.cartesian_prod(a) * 1, [(3,)], note="one"),
    Case("combinations", lambda m, a: m.combinations(a), [(4,)]),
    Case("combinations", lambda m, a: m.combinations(a, 3), [(5,)], note="r3"),
    Case(
        "combinations",
        lambda m, a: m.combinations(a, r=3, with_replacement=True),
        [(3,)],
        note="with-replacement",
    ),
    Case("combinations", lambda m, a: m.combinations(a, 1), [(3,)], note="r1"),
    Case("combinations", lambda m, a: m.combinations(a, 4), [(3,)], note="too-long"),
    Case("combinations", lambda m, a: m.combinations(a, 0), [(3,)], note="r0", grad=False),
    Case(
        "combinations",
        lambda m, a: m.combinations(a),
        make=lambda r: [r.integers(0, 5, (4,))],
        grad=False,
        note="int",
    ),
    Case("block_diag", lambda m, a, b, c: m.block_diag(a, b, c), [S, (2,), ()]),
    Case("block_diag", lambda m, a, b: m.block_diag(a, b), [(0, 3), (2, 0)], note="empty"),
    Case(
        "block_diag",
        lambda m, a, b: m.block_diag(a, b, m.ones(2, dtype=m.int64)),
        [S, (2, 2)],
        note="int-promote",
    ),
    Case(
        "block_diag",
        lambda m, a, b: m.block_diag(a, b.double()),
        [(2, 2), (1, 3)],
        note="mixed-float",
    ),
    Case("tensor_split", lambda m, x: m.tensor_split(x, 3, 2), [M]),
    Case("tensor_split", lambda m, x: x.tensor_split(5, 1), [M], note="more"),
    Case("tensor_split", lambda m, x: x.tensor_split([3, 1, 7, -1], -1), [M], note="indices"),
    Case("tensor_split", lambda m, x: x.tensor_split((1,)), [(3,)], note="tuple"),
    Case(
        "tensor_split",
        lambda m, x: x.tensor_split(m.tensor([1, 2]), dim=2),
        [M],
        note="tensor-indices",
    ),
    Case("tensor_split", lambda m, x: x.tensor_split(m.tensor(2), 1), [M], note="tensor-n"),
    Case("hsplit", lambda m, x: m.hsplit(x, 3), [M]),
    Case("hsplit", lambda m, x: x.hsplit([1, 2]), [(4,)], note="1d"),
    Case("vsplit", lambda m, x: m.vsplit(x, 2), [M]),
    Case("vsplit", lambda m, x: x.vsplit([2]), [S], note="indices"),
    Case("dsplit", lambda m, x: m.dsplit(x, 2), [M]),
    Case("dsplit", lambda m, x: x.dsplit([1, 3]), [M], note="indices"),
    Case("ravel", lambda m, x: m.ravel(x), [M]),
    Case("ravel", lambda m, x: x.mT.ravel(), [M], note="copy"),
    Case("ravel", lambda m, x: x.ravel(), [()], note="0d"),
    Case("rot90", lambda m, x: m.rot90(x), [M]),
    Case("rot90", lambda m, x: x.rot90(2, [1, 2]), [M], note="k2"),
    Case("rot90", lambda m, x: x.rot90(-1, (2, 0)), [M], note="k-1"),
    Case("rot90", lambda m, x: x.rot90(3, [-1, -2]), [M], note="k3"),
    Case("rot90", lambda m, x: x.rot90(4), [S], note="k4"),
    Case("rot90", lambda m, x: x.mT.rot90(1), [M], note="noncontig"),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


# --------------------------------------------------------------------------- grad_fn names

NAMES = [
    (lambda m, x: x.reshape(6, 4), "ViewBackward0"),
    (lambda m, x: x.transpose(0, 1).reshape(-1), "UnsafeViewBackward0"),
    (lambda m, x: x.view(6, 4), "ViewBackward0"),
    (lambda m, x: x.flatten(), "ViewBackward0"),
    (lambda m, x: x.unfold(1, 2, 1), "UnfoldBackward0"),
    (lambda m, x: x.unflatten(1, (3, 1)), "ViewBackward0"),
    (lambda m, x: x[:1].squeeze() if m is torch else x.narrow(0, 0, 1).squeeze(), None),
    (lambda m, x: x.unsqueeze(-1), "UnsqueezeBackward0"),
    (lambda m, x: x.transpose(0, 2), "TransposeBackward0"),
    (lambda m, x: x.permute(2, 0, 1), "PermuteBackward0"),
    (lambda m, x: x.T, "PermuteBackward0"),
    (lambda m, x: x.mT, "TransposeBackward0"),
    (lambda m, x: x[0].t() if m is torch else x.unbind()[0].t(), "TBackward0"),
    (lambda m, x: x.repeat(2, 1, 1), "RepeatBackward0"),
    (lambda m, x: x.tile(2), "RepeatBackward0"),
    (lambda m, x: x.mH, "TransposeBackward0"),
    (lambda m, x: m.cat([x, x]), "CatBackward0"),
    (lambda m, x: m.stack([x, x]), "StackBackward0"),
    (lambda m, x: x.split(2, 2)[1], "SplitBackward0"),
    (lambda m, x: x.split([1, 3], 2)[1], "SplitWithSizesBackward0"),
    (lambda m, x: x.chunk(2, 2)[0], "SplitBackward0"),
    (lambda m, x: x.unbind(1)[2], "UnbindBackward0"),
    (lambda m, x: x.flip(0), "FlipBackward0"),
    (lambda m, x: x.roll(1), "RollBackward0"),
    (lambda m, x: x.tril(), "TrilBackward0"),
    (lambda m, x: x.triu(1), "TriuBackward0"),
    (lambda m, x: x.narrow(1, 0, 2), "SliceBackward0"),
    (lambda m, x: x.mT.contiguous(), "CloneBackward0"),
    (lambda m, x: x.movedim(0, 2), "PermuteBackward0"),
    (lambda m, x: x.expand_as(m.ones(5, 2, 3, 4)), "ExpandBackward0"),
    (lambda m, x: x.narrow(0, 0, 1).squeeze(0), "SqueezeBackward1"),
    (lambda m, x: x.narrow(0, 0, 1).squeeze((0, 1)), "SqueezeBackward2"),
    (lambda m, x: x.narrow(0, 0, 1).squeeze(), "SqueezeBackward0"),
    (
        lambda m, x: m.meshgrid(
            x[0, 0] if m is torch else x.unbind()[0].unbind()[0], x.flatten(), indexing="xy"
        )[1],
        "ExpandBackward0",
    ),  # fmt: skip
    (lambda m, x: m.broadcast_tensors(x, m.ones(3, 1, 1, 1))[0], "ExpandBackward0"),
    (lambda m, x: x.tensor_split(2, 1)[1], "SliceBackward0"),
    (lambda m, x: x.dsplit([1])[1], "SliceBackward0"),
    (lambda m, x: x.ravel(), "ViewBackward0"),
    (lambda m, x: x.mT.ravel(), "ViewBackward0"),
    (lambda m, x: x.rot90(0), "Rot90Backward0"),
    (lambda m, x: x.rot90(1, (0, 2)), "Rot90Backward0"),
    (lambda m, x: m.cartesian_prod(x.flatten(), x.flatten()), "StackBackward0"),
    (lambda m, x: m.block_diag(x.flatten(), x.flatten()), "BlockDiagBackward0"),
]


@pytest.mark.parametrize("i", range(len(NAMES)))
def test_grad_fn_names(i):
    fn, expected = NAMES[i]
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    t = fn(torch, torch.tensor(a, requires_grad=True))
    c = fn(cr, cr.tensor(a, requires_grad=True))
    want = type(t.grad_fn).__name__
    if expected is not None:
        assert want == expected
    assert c.grad_fn.name() == want


def test_identity_results():
    """torch returns self for these (a no-op expand is a new view: test_views_semantics)."""
    x = cr.randn(2, 3, requires_grad=True)
    t = torch.randn(2, 3, requires_grad=True)
    assert (x.flatten(1, 1) is x) and (t.flatten(1, 1) is t)
    assert (x.contiguous() is x) and (t.contiguous() is t)


# --------------------------------------------------------------------------- memory sharing


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.reshape(4, 6),
        lambda x: x.view(24),
        lambda x: x.flatten(),
        lambda x: x.unflatten(0, (1, 2)),
        lambda x: x.unsqueeze(1),
        lambda x: x.narrow(1, 0, 1).squeeze(1),
        lambda x: x.transpose(0, 1),
        lambda x: x.permute(2, 1, 0),
        lambda x: x.T,
        lambda x: x.mT,
        lambda x: x.movedim(0, 1),
        lambda x: x.narrow(2, 1, 2),
        lambda x: x.split(2, 2)[1],
        lambda x: x.chunk(3, 1)[2],
        lambda x: x.unbind(1)[1],
        lambda x: x.expand(5, 2, 3, 4),
        lambda x: x[0].t() if False else x.unbind()[0].t(),
    ],
)
def test_views_share_memory(fn):
    x = cr.randn(2, 3, 4)
    assert np.shares_memory(fn(x).numpy(), x.numpy())


def test_reshape_of_noncontiguous_copies():
    x = cr.randn(3, 4)
    assert not np.shares_memory(x.mT.reshape(12).numpy(), x.numpy())


# --------------------------------------------------------------------------- errors


def _both(fn):
    """The exception torch raises for ``fn(torch, x)`` must be ours, same type and text."""
    a = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    with pytest.raises(Exception) as t_err:
        fn(torch, torch.tensor(a))
    with pytest.raises(t_err.type) as c_err:
        fn(cr, cr.tensor(a))
    assert str(c_err.value) == str(t_err.value).split("\nException raised from")[0]


ERRORS = [
    lambda m, x: x.view(-2, 4),
    lambda m, x: x.unfold(3, 1, 1),
    lambda m, x: x.permute(),
    lambda m, x: x.repeat(),
    lambda m, x: x.unfold(0, 3, 1),
    lambda m, x: x.unfold(0, -1, 1),
    lambda m, x: x.unfold(0, 1, 0),
    lambda m, x: x.unfold(0, 1, -2),
    lambda m, x: x.sum().unfold(0, 2, 1),
    lambda m, x: x.reshape(-1, -1),
    lambda m, x: x.reshape(5, -1),
    lambda m, x: x.reshape(0, -1),
    lambda m, x: x.reshape(5, 5),
    lambda m, x: x.transpose(0, 1).view(-1),
    lambda m, x: x.view_as(m.ones(5, 5)),
    lambda m, x: x.flatten(2, 1),
    lambda m, x: x.flatten(0, 3),
    lambda m, x: x.unflatten(1, (2, 2)),
    lambda m, x: x.unflatten(1, ()),
    lambda m, x: x.unflatten(-2, (2, 2)),
    lambda m, x: x.squeeze(3),
    lambda m, x: x.squeeze((0, 0)),
    lambda m, x: x.unsqueeze(4),
    lambda m, x: x.unsqueeze(-5),
    lambda m, x: x.permute(0, 1),
    lambda m, x: x.permute(0, 1, 1),
    lambda m, x: x.permute(0, 1, 3),
    lambda m, x: x.transpose(0, 3),
    lambda m, x: x.t(),
    lambda m, x: m.ones(3).mT,
    lambda m, x: m.cat([]),
    lambda m, x: m.cat([x, x[0]] if m is torch else [x, x.unbind()[0]]),
    lambda m, x: m.cat([x, x.mT]),
    lambda m, x: m.cat([x, x.mT], 1),
    lambda m, x: m.cat([m.tensor(1.0), m.tensor(2.0)]),
    lambda m, x: m.cat([x, x], 3),
    lambda m, x: m.stack([]),
    lambda m, x: m.stack([x, x.mT]),
    lambda m, x: m.stack([x, x], 4),
    lambda m, x: x.split([1, 1], 1),
    lambda m, x: x.split(0, 1),
    lambda m, x: x.chunk(0, 1),
    lambda m, x: m.tensor(1.0).split(1),
    lambda m, x: m.split(x.sum(), [1], 1),
    lambda m, x: x.flip(0, 0),
    lambda m, x: x.roll((1, 2), (0,)),
    lambda m, x: x.roll((1, 2)),
    lambda m, x: x.roll((), ()),
    lambda m, x: m.ones(3).tril(),
    lambda m, x: m.ones(3).triu(),
    lambda m, x: x.narrow(1, 2, 2),
    lambda m, x: x.narrow(1, 4, 0),
    lambda m, x: m.tensor(1.0).narrow(0, 0, 1),
    lambda m, x: x.repeat(2, 2),
    lambda m, x: x.repeat(2, 2, -1),
    lambda m, x: x.expand_as(m.ones(3, 4)),
    lambda m, x: x.broadcast_to((3, 4)),
    lambda m, x: x.broadcast_to((2, 5, 4)),
    lambda m, x: x.expand(3, 4, 5),  # two mismatches: torch names the last
    lambda m, x: x.movedim((0, 0), (1, 2)),
    lambda m, x: x.movedim((0, 1), (1,)),
    lambda m, x: m.tensor(1.0).unbind(),
    lambda m, x: x.unbind(3),
    lambda m, x: m.tensor(1.0).roll(1, 0),
    lambda m, x: x.narrow(1, -4, 1),
    lambda m, x: x.narrow(1, 4, 0),
    lambda m, x: m.ones(3).H,
    lambda m, x: x.H,
    lambda m, x: m.ones(3).mH,
    lambda m, x: m.ones(3).adjoint(),
    lambda m, x: m.tensor(1.0).chunk(2),
    lambda m, x: m.cat([m.ones(2), m.tensor(1.0)]),
    lambda m, x: m.cat([m.ones(2, 2), m.ones(2)], 1),
    lambda m, x: x.repeat_interleave(m.tensor([1, 2, 3]), dim=0),
    lambda m, x: x.repeat_interleave(-1),
    lambda m, x: x.repeat_interleave(m.tensor([1, -2, 1, 1]), dim=1),
    lambda m, x: x.repeat_interleave(m.tensor([[1, 2]]), dim=0),
    lambda m, x: x.repeat_interleave(m.tensor([1.0, 2.0]), dim=0),
    lambda m, x: x.repeat_interleave(2, dim=3),
    lambda m, x: m.repeat_interleave(m.tensor([1.0, 2.0])),
    lambda m, x: m.hstack(x),
    lambda m, x: m.tensor(2.0).repeat_interleave(2, 0),
    lambda m, x: m.vstack([x, m.ones(5)]),
    lambda m, x: m.meshgrid(x.flatten(), x.flatten().double(), indexing="ij"),
    lambda m, x: m.meshgrid(indexing="ij"),
    lambda m, x: m.meshgrid([], indexing="xy"),
    lambda m, x: m.meshgrid(x.flatten(), indexing="foo"),
    lambda m, x: m.broadcast_tensors(x, m.ones(3)),
    lambda m, x: m.broadcast_tensors(m.ones(2, 1), m.ones(3, 1), m.ones(1)),
    lambda m, x: m.broadcast_shapes((2, 1), (3,), 4),
    lambda m, x: m.broadcast_shapes((2,), (3,)),
    lambda m, x: m.broadcast_shapes((-1,), (3,)),
    lambda m, x: m.broadcast_shapes(x),
    lambda m, x: m.tensor_split(x, 0, 1),
    lambda m, x: x.tensor_split(-1, 1),
    lambda m, x: m.tensor(1.0).tensor_split(2),
    lambda m, x: x.tensor_split(m.tensor([[1]]), 2),
    lambda m, x: x.tensor_split(m.tensor([1.0]), 2),
    lambda m, x: x.tensor_split(m.tensor([1], dtype=m.int32), 2),
    lambda m, x: x.tensor_split(2, 3),
    lambda m, x: x.hsplit(2),
    lambda m, x: x.hsplit(0),
    lambda m, x: m.ones(4).hsplit(3),
    lambda m, x: m.tensor(1.0).hsplit(3),
    lambda m, x: m.ones(4).vsplit(2),
    lambda m, x: x.vsplit(3),
    lambda m, x: x.sum(0).dsplit(2),
    lambda m, x: x.dsplit(3),
    lambda m, x: x.rot90(1, [0]),
    lambda m, x: x.rot90(1, [0, 1, 2]),
    lambda m, x: m.ones(3).rot90(),
    lambda m, x: x.rot90(1, [0, 0]),
    lambda m, x: x.rot90(1, [0, -3]),
    lambda m, x: x.rot90(1, [0, 3]),
    lambda m, x: x.rot90(1, [-4, 0]),
    lambda m, x: m.cartesian_prod(x),
    lambda m, x: m.combinations(x),
    lambda m, x: m.combinations(x.sum()),
    lambda m, x: m.combinations(x.flatten(), -1),
    lambda m, x: m.cartesian_prod(),
    lambda m, x: m.cartesian_prod(x.flatten(), x.flatten().double()),
    lambda m, x: m.block_diag(x),
    lambda m, x: m.broadcast_tensors([x, x]),
    lambda m, x: m.cartesian_prod([x.flatten(), x.flatten()]),
    lambda m, x: m.block_diag(x.sum(0), [x.sum(0)]),
    lambda m, x: m.tril_indices(-1, 3),
    lambda m, x: m.triu_indices(3, -2),
    lambda m, x: m.tril_indices(3, 3, dtype=m.float32),
    lambda m, x: m.triu_indices(3, 3, dtype=m.int16),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_errors(i):
    _both(ERRORS[i])


# --------------------------------------------------------------------------- new grids


def test_meshgrid_warns_without_indexing():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cr.meshgrid(cr.ones(2), cr.ones(3))
    assert [str(w.message) for w in caught] == [
        "torch.meshgrid: in an upcoming release, it will be required to pass the indexing argument."
    ]
    assert caught[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.meshgrid(cr.ones(2), cr.ones(3), indexing="ij")


def test_meshgrid_refuses_2d_tensors():
    with pytest.raises(
        RuntimeError, match="torch.meshgrid: Expected 0D or 1D tensor in the tensor"
    ):
        cr.meshgrid(cr.ones(2, 2), indexing="ij")


def test_broadcast_tensors_returns_same_shape_inputs_themselves():
    a, b = cr.ones(2, 3), cr.ones(3)
    out = cr.broadcast_tensors(a, b)
    assert out[0] is a and out[1] is not b
    assert np.shares_memory(out[1].numpy(), b.numpy())
    assert cr.broadcast_tensors() == ()
    assert cr.broadcast_shapes() == cr.Size([]) == torch.broadcast_shapes()
    assert isinstance(cr.broadcast_shapes(2, (3, 1)), cr.Size)


@pytest.mark.parametrize(
    "fn",
    [
        lambda x: x.tensor_split(2, 1)[0],
        lambda x: x.hsplit([1])[1],
        lambda x: x.vsplit(2)[1],
        lambda x: x.dsplit(2)[0],
        lambda x: x.ravel(),
        lambda x: cr.meshgrid(x.flatten(), x.flatten(), indexing="ij")[1],
        lambda x: cr.broadcast_tensors(x, cr.ones(3, 1, 1, 1))[0],
    ],
)
def test_new_views_share_memory(fn):
    x = cr.randn(2, 4, 4)
    assert np.shares_memory(fn(x).numpy(), x.numpy())


def test_rot90_and_block_diag_copy():
    x = cr.randn(3, 3)
    for k in range(4):
        assert not np.shares_memory(x.rot90(k).numpy(), x.numpy())
    assert not np.shares_memory(cr.block_diag(x).numpy(), x.numpy())


@pytest.mark.parametrize("k", range(-1, 4))
def test_rot90_strides_are_torchs(k):
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    for dims in ((0, 1), (1, 2), (2, 0)):
        ours = cr.tensor(a).rot90(k, dims)
        theirs = torch.tensor(a).rot90(k, dims)
        assert ours.stride() == theirs.stride()


@pytest.mark.parametrize("name", ["tril_indices", "triu_indices"])
@pytest.mark.parametrize("row,col", [(3, 4), (4, 3), (0, 3), (3, 0), (1, 1), (5, 5)])
@pytest.mark.parametrize("offset", [-6, -2, -1, 0, 1, 2, 7])
def test_tri_indices(name, row, col, offset):
    ours = getattr(cr, name)(row, col, offset)
    theirs = getattr(torch, name)(row, col, offset)
    assert ours.dtype == cr.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.shape == tuple(theirs.shape)
    small = getattr(cr, name)(row, col, offset, dtype=cr.int32)
    assert small.dtype == cr.int32 and (small.numpy() == theirs.numpy()).all()

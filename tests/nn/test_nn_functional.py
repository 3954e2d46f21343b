"""nn.functional layers (not losses): the table (torch parity, finite differences, second
order), then dropout's randomness, in-place statistics and every error path."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from harness import Case, case_id, check_case, check_finite_differences
from nn_twins import same_error

import chainrule as cr
import chainrule.nn.functional as CF


def F(m):
    return TF if m is torch else CF


def f(name, *args, **kw):
    """``F.name(*inputs, *args, **kw)`` in either library."""
    return lambda m, *a: getattr(F(m), name)(*a, *args, **kw)


def const(m, x, a):
    """A fixed array as a non-differentiable tensor of x's dtype."""
    return m.tensor(np.asarray(a), dtype=x.dtype)


def ints(high, shape):
    return lambda r: r.integers(0, high, shape)


RM, RV = np.array([0.3, -0.2, 0.1]), np.array([0.5, 1.5, 2.0])
BOOL_MASK = np.array([[1, 0, 1, 1, 0], [1, 1, 0, 0, 1], [0, 1, 1, 1, 1]], bool)
EMPTY_ROW = np.array([[1, 0, 1, 1, 0], [0, 0, 0, 0, 0], [0, 1, 1, 1, 1]], bool)  # row 1: no key
FLOAT_EMPTY = np.where(EMPTY_ROW, 0.5, -np.inf)
S = (3, 4)

CASES = [
    # linear (a primitive) and bilinear
    Case("linear", f("linear"), [(4, 3), (5, 3), (5,)]),
    Case("linear", f("linear"), [(2, 4, 3), (5, 3), (5,)], note="3d"),
    Case("linear", f("linear"), [(3,), (5, 3), (5,)], note="1d"),
    Case("linear", f("linear"), [(4, 3), (5, 3)], note="nobias"),
    Case("linear", f("linear"), [(2, 1, 4, 3), (1, 3)], note="4d-out1"),
    Case("linear", f("linear"), [(0, 3), (2, 3), (2,)], note="empty", fd=False),
    Case("bilinear", f("bilinear"), [(4, 3), (4, 2), (5, 3, 2), (5,)]),
    Case("bilinear", f("bilinear"), [(2, 4, 3), (2, 4, 2), (5, 3, 2)], note="3d-nobias"),
    # dropout: the deterministic settings (the random ones are tested below)
    Case("dropout", f("dropout", 0.5, False), [S], note="eval"),
    Case("dropout", f("dropout", 0.0, True), [S], note="p0"),
    Case("dropout", f("dropout", 1.0, True), [S], note="p1"),
    # embedding (a primitive) and one_hot
    Case(
        "embedding",
        lambda m, w, i: F(m).embedding(i, w),
        make=lambda r: [r.standard_normal((5, 3)), ints(5, (3, 4))(r)],
    ),  # fmt: skip
    # fd=False: padding_idx and scale_grad_by_freq change the gradient on purpose (torch)
    Case(
        "embedding",
        lambda m, w, i: F(m).embedding(i, w, padding_idx=1),
        make=lambda r: [r.standard_normal((5, 3)), np.array([[1, 2, 1], [0, 1, 4]])],
        note="padding",
        fd=False,
    ),
    Case(
        "embedding",
        lambda m, w, i: F(m).embedding(i, w, padding_idx=-1),
        make=lambda r: [r.standard_normal((5, 3)), np.array([4, 2, 4, 0])],
        note="padding-neg",
        fd=False,
    ),
    Case(
        "embedding",
        lambda m, w, i: F(m).embedding(i, w, scale_grad_by_freq=True),
        make=lambda r: [r.standard_normal((5, 3)), np.array([1, 2, 1, 1, 3])],
        note="freq",
        fd=False,
    ),  # fmt: skip
    Case(
        "embedding",
        lambda m, w, i: F(m).embedding(i, w),
        make=lambda r: [r.standard_normal((5, 2)), np.array(3)],
        note="0d",
    ),  # fmt: skip
    Case("one_hot", f("one_hot"), make=lambda r: [np.array([0, 3, 1, 3])], grad=False),
    Case("one_hot", f("one_hot", 6), make=lambda r: [ints(4, (2, 3))(r)], grad=False, note="c"),
    # pad
    Case("pad", f("pad", (1, 2)), [(2, 3, 4)]),
    Case("pad", f("pad", (1, 1, 2, 0), value=0.5), [(2, 3, 4)], note="2d-value"),
    Case("pad", f("pad", (-1, 2, 0, -1)), [(2, 3, 4)], note="negative"),
    Case("pad", f("pad", (1, 0, 0, 1, 2, 1)), [(2, 3, 4)], note="3dims"),
    Case("pad", f("pad", (2, 1), mode="reflect"), [(2, 3, 4)], note="reflect"),
    Case("pad", f("pad", (1, 2, 2, 1), mode="reflect"), [(1, 2, 3, 4)], note="reflect2d"),
    Case("pad", f("pad", (1, 3, 2, 1), mode="replicate"), [(1, 2, 3, 4)], note="replicate"),
    Case("pad", f("pad", (2, 3), mode="circular"), [(2, 3, 4)], note="circular"),
    Case("pad", f("pad", (1, 1), mode="reflect"), [(3, 4)], note="reflect-unbatched"),
    # normalization
    Case("layer_norm", lambda m, x, w, b: F(m).layer_norm(x, (4,), w, b), [S, (4,), (4,)]),
    Case("layer_norm", f("layer_norm", (3, 4)), [(2, 3, 4)], note="2dims-noaffine"),
    Case("layer_norm", lambda m, x, w: F(m).layer_norm(x, [4], w, eps=0.1), [S, (4,)], note="w"),
    Case("group_norm", lambda m, x, w, b: F(m).group_norm(x, 3, w, b), [(2, 6, 3), (6,), (6,)]),
    Case("group_norm", f("group_norm", 2), [(2, 4, 2, 2)], note="4d-noaffine"),
    Case("group_norm", f("group_norm", 1, eps=1e-3), [(3, 4)], note="2d"),
    Case("rms_norm", lambda m, x, w: F(m).rms_norm(x, (4,), w), [S, (4,)]),
    Case("rms_norm", f("rms_norm", [3, 4], eps=1e-3), [(2, 3, 4)], note="eps"),
    Case(
        "batch_norm",
        lambda m, x, w, b: F(m).batch_norm(
            x, const(m, x, np.zeros(3)), const(m, x, np.ones(3)), w, b, training=True
        ),
        [(4, 3), (3,), (3,)],
        note="train",
    ),  # fmt: skip
    Case(
        "batch_norm",
        lambda m, x: F(m).batch_norm(x, None, None, training=True, eps=1e-3),
        [(4, 3, 5)],
        note="train-3d-nostats",
    ),  # fmt: skip
    Case(
        "batch_norm",
        lambda m, x, w, b: F(m).batch_norm(
            x, const(m, x, np.zeros(3)), const(m, x, np.ones(3)), w, b, True, 0.3
        ),
        [(2, 3, 2, 2), (3,), (3,)],
        note="train-4d",
    ),  # fmt: skip
    Case(
        "batch_norm",
        lambda m, x, w, b: F(m).batch_norm(
            x, const(m, x, RM), const(m, x, RV), w, b, training=False
        ),
        [(4, 3), (3,), (3,)],
        note="eval",
    ),  # fmt: skip
    Case(
        "batch_norm",
        lambda m, x: F(m).batch_norm(x, const(m, x, RM), const(m, x, RV)),
        [(2, 3, 4)],
        note="eval-3d",
    ),  # fmt: skip
    Case("normalize", f("normalize"), [S]),
    Case("normalize", f("normalize", 1.0, 0), [S], note="p1"),
    Case("normalize", f("normalize", dim=-1), [(2, 3, 4)], note="neg"),
    # attention
    Case(
        "scaled_dot_product_attention",
        f("scaled_dot_product_attention"),
        [(2, 3, 4), (2, 5, 4), (2, 5, 6)],
    ),  # fmt: skip
    # order2=False on 4-d inputs: torch runs its CPU flash kernel there, which has no double
    # backward ("derivative for ..._flash_attention_for_cpu_backward is not implemented")
    Case(
        "scaled_dot_product_attention",
        f("scaled_dot_product_attention", is_causal=True),
        [(2, 2, 4, 3), (2, 2, 4, 3), (2, 2, 4, 3)],
        note="causal",
        order2=False,
    ),
    Case(
        "scaled_dot_product_attention",
        f("scaled_dot_product_attention", is_causal=True),
        [(4, 3), (4, 3), (4, 2)],
        note="causal-2d",
    ),  # fmt: skip
    Case(
        "scaled_dot_product_attention",
        lambda m, q, k, v: F(m).scaled_dot_product_attention(
            q, k, v, attn_mask=m.tensor(BOOL_MASK)
        ),
        [(2, 3, 4), (2, 5, 4), (2, 5, 4)],
        note="bool-mask",
    ),  # fmt: skip
    Case(
        "scaled_dot_product_attention",
        f("scaled_dot_product_attention", scale=0.3),
        [(3, 4), (5, 4), (5, 2), (3, 5)],
        note="float-mask-scale",
    ),  # fmt: skip
    Case(
        "scaled_dot_product_attention",
        f("scaled_dot_product_attention", enable_gqa=True),
        [(1, 4, 3, 2), (1, 2, 3, 2), (1, 2, 3, 2)],
        note="gqa",
        order2=False,
    ),  # fmt: skip
    # unfold / fold (grouped convolutions with a one-hot weight)
    Case("unfold", f("unfold", 2), [(2, 3, 4, 5)]),
    Case(
        "unfold",
        f("unfold", (2, 3), dilation=(2, 1), padding=1, stride=2),
        [(1, 2, 5, 6)],
        note="options",
    ),
    Case("unfold", f("unfold", 2), [(3, 4, 4)], note="unbatched"),
    Case("fold", f("fold", (3, 3), 2), [(1, 8, 4)]),
    Case(
        "fold",
        f("fold", (5, 6), (2, 3), dilation=(2, 1), padding=1, stride=2),
        [(2, 12, 9)],
        note="options",
    ),
    Case("fold", f("fold", (4, 5), 2), [(8, 12)], note="unbatched"),
    # re-exported from the op catalog
    *[
        # torch has no double backward for hardsigmoid
        Case(n, f(n), [S], domain=(-3, 3), note="reexport", fd=False, order2=n != "hardsigmoid")
        for n in (
            "relu",
            "leaky_relu",
            "gelu",
            "silu",
            "elu",
            "softplus",
            "sigmoid",
            "tanh",
            "hardtanh",
            "relu6",
            "logsigmoid",
            "mish",
            "selu",
            "celu",
            "hardswish",
            "hardsigmoid",
            "softsign",
            "tanhshrink",
            "softshrink",
            "hardshrink",
            "rrelu",
        )
    ],  # fmt: skip
    Case("glu", f("glu"), [(3, 4)], note="reexport"),
    Case("threshold", f("threshold", 0.2, -1.0), [S], note="reexport", fd=False),
    Case("softmin", f("softmin", 1), [S], note="reexport"),
    Case("selu_", lambda m, x: F(m).selu_(x * 1), [S], fd=False),
    Case("celu_", lambda m, x: F(m).celu_(x * 1, alpha=0.5), [S], fd=False),
    Case("rrelu_", lambda m, x: F(m).rrelu_(x * 1, 0.1, 0.2), [S], fd=False),
    Case("threshold_", lambda m, x: F(m).threshold_(x * 1, 0.1, 2.0), [S], fd=False),
    Case("softmax", f("softmax", 1), [S], note="reexport"),
    Case("softmax", lambda m, x: F(m).softmax(x, 1, 3, m.float64), [S], note="stacklevel-dtype"),
    Case("log_softmax", f("log_softmax", 0), [S], note="reexport"),
    Case("log_softmax", f("log_softmax", dim=-1, _stacklevel=5), [S], note="stacklevel"),
    Case("relu", f("relu", inplace=False), [S], note="inplace-arg", fd=False),
    # the in-place functions (F.elu_ is F.elu(inplace=True)), on a non-leaf
    Case("relu_", lambda m, x: F(m).relu_(x * 1), [S], fd=False),
    Case("elu_", lambda m, x: F(m).elu_(x * 1, alpha=0.5), [S], fd=False),
    Case("leaky_relu_", lambda m, x: F(m).leaky_relu_(x * 1, 0.2), [S], fd=False),
    Case("hardtanh_", lambda m, x: F(m).hardtanh_(x * 1, max_val=0.5), [S], fd=False),
    Case("conv1d", f("conv1d", padding=1), [(2, 2, 5), (3, 2, 3), (3,)], note="reexport"),
    Case("conv2d", f("conv2d", stride=2), [(1, 2, 5, 5), (3, 2, 3, 3)], note="reexport"),
    Case("conv_transpose1d", f("conv_transpose1d", stride=2), [(1, 2, 3), (2, 3, 2)]),
    Case("conv_transpose2d", f("conv_transpose2d"), [(1, 2, 3, 3), (2, 1, 2, 2)]),
    Case("max_pool1d", f("max_pool1d", 2), [(1, 2, 6)]),
    Case("max_pool2d", f("max_pool2d", 2), [(1, 2, 4, 4)]),
    Case("avg_pool1d", f("avg_pool1d", 3, 2), [(1, 2, 7)]),
    Case("avg_pool2d", f("avg_pool2d", 2), [(1, 2, 4, 4)]),
    Case("adaptive_avg_pool1d", f("adaptive_avg_pool1d", 3), [(1, 2, 7)]),
    Case("adaptive_avg_pool2d", f("adaptive_avg_pool2d", (2, 3)), [(1, 2, 5, 5)]),
    # interpolate (more in test_upsampling.py)
    Case("interpolate", f("interpolate", scale_factor=2), [(2, 3, 4)], note="nearest1d"),
    Case("interpolate", f("interpolate", (5, 3), mode="bilinear"), [(1, 2, 3, 4)], note="bilinear"),
    Case("interpolate", f("interpolate", scale_factor=1.7, mode="bicubic"), [(1, 2, 3, 4)]),
    Case("interpolate", f("interpolate", (3, 2, 5), mode="trilinear"), [(1, 1, 2, 3, 4)]),
    Case("interpolate", f("interpolate", 3, mode="area"), [(2, 2, 7)], note="area"),
    Case("interpolate", f("interpolate", (5, 7), mode="nearest-exact"), [(1, 2, 3, 3)]),
    Case("upsample", f("upsample", scale_factor=2, mode="linear"), [(1, 2, 3)]),
    Case("upsample_nearest", f("upsample_nearest", (4, 5)), [(1, 2, 3, 3)]),
    Case("upsample_bilinear", f("upsample_bilinear", scale_factor=2), [(1, 2, 3, 3)]),
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


def test_every_functional_name_has_a_case():
    covered = {c.op for c in CASES}
    missing = set(CF.__all__) - covered - {"multi_head_attention_forward"} - LOSSES
    assert not missing, sorted(missing)
    assert all(hasattr(TF, n) for n in CF.__all__)


LOSSES = {
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "nll_loss",
    "cross_entropy",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "soft_margin_loss",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "cosine_embedding_loss",
    "poisson_nll_loss",
    "multilabel_soft_margin_loss",
    "gaussian_nll_loss",
    "triplet_margin_loss",
    "pairwise_distance",
    "multi_margin_loss",
    "multilabel_margin_loss",
}  # fmt: skip  (their tables: test_nn_losses.py)


# --------------------------------------------------------------------------- dropout


def test_dropout_keeps_with_probability_1_minus_p_and_scales():
    cr.manual_seed(0)
    x = cr.ones(200, 500, requires_grad=True)
    y = CF.dropout(x, 0.3)
    kept = y._data != 0
    assert abs(kept.mean() - 0.7) < 0.005  # 100k Bernoulli draws: sd 0.0015
    np.testing.assert_allclose(y._data[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)  # the same mask, the same scale
    assert y.dtype == cr.float32


def test_dropout_is_seeded_by_chainrule_generator():
    x = cr.ones(50)
    cr.manual_seed(3)
    a = CF.dropout(x)
    cr.manual_seed(3)
    b = CF.dropout(x)
    c = CF.dropout(x)
    assert np.array_equal(a._data, b._data) and not np.array_equal(b._data, c._data)


def test_dropout_eval_returns_the_input():
    x = cr.ones(3)
    assert CF.dropout(x, 0.5, training=False) is x


# --------------------------------------------------------------------------- state


def test_batch_norm_updates_running_stats_like_torch():
    x = np.random.default_rng(0).standard_normal((6, 3, 4))
    rm_t, rv_t = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    rm_c, rv_c = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    for step in range(3):
        TF.batch_norm(torch.tensor(x + step), rm_t, rv_t, training=True, momentum=0.2)
        CF.batch_norm(cr.tensor(x + step), rm_c, rv_c, training=True, momentum=0.2)
    np.testing.assert_allclose(rm_c._data, rm_t.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv_c._data, rv_t.numpy(), rtol=1e-12)


def test_embedding_max_norm_renormalises_rows_in_place_like_torch():
    w = np.random.default_rng(0).standard_normal((5, 3)) * 3
    idx = np.array([[0, 2], [2, 4]])
    wt, wc = torch.tensor(w), cr.tensor(w)
    ot = TF.embedding(torch.tensor(idx), wt, max_norm=1.5, norm_type=1.0)
    oc = CF.embedding(cr.tensor(idx), wc, max_norm=1.5, norm_type=1.0)
    np.testing.assert_allclose(wc._data, wt.numpy(), rtol=1e-12)
    np.testing.assert_allclose(oc._data, ot.numpy(), rtol=1e-12)


def test_sdpa_dropout_zeroes_weights_and_rescales():
    cr.manual_seed(0)
    q = cr.ones(1, 1, 2)
    v = cr.ones(1, 400, 1)
    out = CF.scaled_dot_product_attention(q, cr.ones(1, 400, 2), v, dropout_p=0.25)
    # uniform weights 1/400, each kept with probability 0.75 and scaled by 4/3
    assert abs(out.item() - 1.0) < 0.1


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 5, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_grad_fn_names_like_torch(shape, bias):
    w, b = np.ones((4, 3)), np.ones(4)
    args_t = [torch.tensor(w, requires_grad=True)] + ([torch.tensor(b)] if bias else [])
    args_c = [cr.tensor(w, requires_grad=True)] + ([cr.tensor(b)] if bias else [])
    t = TF.linear(torch.ones(shape, dtype=torch.float64), *args_t)
    c = CF.linear(cr.ones(shape, dtype=cr.float64), *args_c)
    assert c.grad_fn.name() == t.grad_fn.name()


def test_linear_backward_is_one_matmul_per_input():
    x = cr.randn(4, 3, requires_grad=True)
    w = cr.randn(5, 3, requires_grad=True)
    y = CF.linear(x, w, cr.randn(5))
    assert y.grad_fn.name() == "MmBackward0" or y.grad_fn.name() == "AddmmBackward0"
    assert len(y.grad_fn.next_functions) == 3
    gx, gw = cr.autograd.grad(y.sum(), [x, w])
    # float32 sums of 5 and 4 terms against float64 ones: a few ulps apart (unseeded randn)
    np.testing.assert_allclose(gx._data, np.ones((4, 5)) @ w._data.astype(np.float64), rtol=1e-5)
    np.testing.assert_allclose(gw._data, np.ones((5, 4)) @ x._data.astype(np.float64), rtol=1e-5)


# --------------------------------------------------------------------------- errors


def t_(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def c_(a, dtype=None):
    return cr.tensor(np.asarray(a), dtype=dtype)


X = np.random.default_rng(0).standard_normal((2, 3))
ERRORS = {
    "linear-shapes": lambda m, t: F(m).linear(t(X), t(np.ones((4, 5)))),
    "linear-1d": lambda m, t: F(m).linear(t(np.ones(3)), t(np.ones((4, 5)))),
    "linear-0d": lambda m, t: F(m).linear(t(1.0), t(np.ones((4, 5)))),
    "linear-bias": lambda m, t: F(m).linear(t(X), t(np.ones((4, 3))), t(np.ones(5))),
    "linear-dtype": lambda m, t: F(m).linear(t(X, m.float32), t(np.ones((4, 3)))),
    "linear-bias-dtype": lambda m, t: F(m).linear(
        t(X), t(np.ones((4, 3))), t(np.ones(4), m.float32)
    ),  # fmt: skip
    "bilinear-dims": lambda m, t: F(m).bilinear(t(X), t(np.ones(3)), t(np.ones((5, 3, 3)))),
    "bilinear-batch": lambda m, t: F(m).bilinear(
        t(X), t(np.ones((3, 4))), t(np.ones((5, 3, 4)))
    ),  # fmt: skip
    "bilinear-in1": lambda m, t: F(m).bilinear(t(X), t(np.ones((2, 4))), t(np.ones((5, 2, 4)))),
    "bilinear-in2": lambda m, t: F(m).bilinear(t(X), t(np.ones((2, 4))), t(np.ones((5, 3, 3)))),
    "bilinear-bias": lambda m, t: F(m).bilinear(
        t(X), t(np.ones((2, 4))), t(np.ones((5, 3, 4))), t(np.ones(4))
    ),  # fmt: skip
    "dropout-p": lambda m, t: F(m).dropout(t(X), 1.5),
    "dropout-neg": lambda m, t: F(m).dropout(t(X), -0.1),
    "embedding-float": lambda m, t: F(m).embedding(t(np.ones(3)), t(np.ones((4, 5)))),
    "embedding-range": lambda m, t: F(m).embedding(t([5]), t(np.ones((4, 5)))),
    "embedding-negative": lambda m, t: F(m).embedding(t([-1]), t(np.ones((4, 5)))),
    "embedding-pad": lambda m, t: F(m).embedding(t([1]), t(np.ones((4, 5))), padding_idx=4),
    "embedding-pad-neg": lambda m, t: F(m).embedding(t([1]), t(np.ones((4, 5))), padding_idx=-5),
    "one_hot-float": lambda m, t: F(m).one_hot(t(np.ones(3))),
    "one_hot-int32": lambda m, t: F(m).one_hot(t([1], m.int32), 3),
    "one_hot-big": lambda m, t: F(m).one_hot(t([3]), 3),
    "one_hot-negative": lambda m, t: F(m).one_hot(t([-1]), 3),
    "one_hot-empty": lambda m, t: F(m).one_hot(t(np.zeros(0, np.int64))),
    "pad-odd": lambda m, t: F(m).pad(t(X), (1,)),
    "pad-long": lambda m, t: F(m).pad(t(X), (1, 1, 1, 1, 1, 1)),
    "pad-mode": lambda m, t: F(m).pad(t(X), (1, 1), mode="foo"),
    "pad-reflect-size": lambda m, t: F(m).pad(t(np.ones((1, 2, 3))), (3, 3), mode="reflect"),
    "pad-reflect-size-2d": lambda m, t: F(m).pad(
        t(np.ones((1, 2, 3, 3))), (1, 1, 3, 1), mode="reflect"
    ),  # fmt: skip
    "pad-reflect-1d": lambda m, t: F(m).pad(t(np.ones(3)), (1, 1), mode="reflect"),
    "pad-value": lambda m, t: F(m).pad(t(np.ones((1, 2, 3))), (1, 1), mode="reflect", value=1.0),
    "pad-replicate-value": lambda m, t: F(m).pad(
        t(np.ones((1, 2, 3))), (1, 1), mode="replicate", value=2.0
    ),  # fmt: skip
    "pad-circular-wrap": lambda m, t: F(m).pad(t(np.ones((1, 2, 3))), (4, 4), mode="circular"),
    "pad-crop": lambda m, t: F(m).pad(t(np.ones((1, 2, 3))), (-4, 1)),
    "layer_norm-shape": lambda m, t: F(m).layer_norm(t(X), (4,)),
    "layer_norm-weight": lambda m, t: F(m).layer_norm(t(X), (3,), t(np.ones(2))),
    "rms_norm-shape": lambda m, t: F(m).rms_norm(t(X), (4,)),
    "group_norm-groups": lambda m, t: F(m).group_norm(t(np.ones((2, 6, 4))), 4),
    "batch_norm-one": lambda m, t: F(m).batch_norm(t(np.ones((1, 3))), None, None, training=True),
    "batch_norm-eval-none": lambda m, t: F(m).batch_norm(t(X), None, None),
    "batch_norm-stats": lambda m, t: F(m).batch_norm(t(X), t(np.zeros(4)), t(np.ones(4))),
    "unfold-small": lambda m, t: F(m).unfold(t(np.ones((1, 2, 3, 3))), 4),
    "unfold-2d": lambda m, t: F(m).unfold(t(np.ones((2, 3))), 2),
    "fold-channels": lambda m, t: F(m).fold(t(np.ones((1, 7, 4))), (3, 3), 2),
    "fold-blocks": lambda m, t: F(m).fold(t(np.ones((1, 8, 5))), (3, 3), 2),
    "sdpa-causal-mask": lambda m, t: F(m).scaled_dot_product_attention(
        t(np.ones((2, 3, 4))),
        t(np.ones((2, 3, 4))),
        t(np.ones((2, 3, 4))),
        attn_mask=t(np.ones((3, 3), bool)),
        is_causal=True,
    ),  # fmt: skip
}


MASK_DTYPES = ["bool", "float32", "float64", "float16", "int64", "int32", "int8", "uint8"]


@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("query_dtype", ["float32", "float64"])
@pytest.mark.parametrize("mask_dtype", MASK_DTYPES)
def test_sdpa_attn_mask_dtypes_like_torch(mask_dtype, query_dtype, is_causal):
    """torch takes a bool mask, a float32 one or one of the query's dtype; it refuses the
    rest (int64, uint8, another float) before looking at is_causal (issue 10, #18)."""
    rng = np.random.default_rng(0)
    q, k, v = (
        rng.standard_normal(s).astype(query_dtype) for s in [(2, 3, 4), (2, 5, 4), (2, 5, 4)]
    )
    m = BOOL_MASK if mask_dtype == "bool" else rng.integers(-2, 3, (3, 5))
    m = m.astype(mask_dtype)

    def run(lib):
        ins = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        mask = lib.tensor(m)
        out = F(lib).scaled_dot_product_attention(*ins, attn_mask=mask, is_causal=is_causal)
        out.backward(lib.tensor(np.ones(out.shape, query_dtype)))
        return out, [t.grad for t in ins]

    accepted = mask_dtype in ("bool", "float32", query_dtype) and not is_causal
    if not accepted:
        same_error(lambda: run(torch), lambda: run(cr))
        return
    (ot, gt), (oc, gc) = run(torch), run(cr)
    tol = {"rtol": 1e-5, "atol": 1e-6} if query_dtype == "float32" else {"rtol": 1e-10}
    assert str(oc.dtype) == str(ot.dtype).replace("torch", "chainrule")
    for a, b in zip([oc, *gc], [ot, *gt]):
        np.testing.assert_allclose(a._data, b.detach().numpy(), **tol)


@pytest.mark.parametrize(
    "dtypes,ranks", [(("float32", "float64", "float32"), (3, 3, 3)), (("float32",) * 3, (1, 2, 2))]
)
def test_sdpa_input_checks_like_torch(dtypes, ranks):
    shapes = {1: (4,), 2: (3, 4), 3: (2, 3, 4)}
    arrays = [np.ones(shapes[r], d) for d, r in zip(dtypes, ranks)]
    same_error(
        lambda: TF.scaled_dot_product_attention(*map(torch.tensor, arrays)),
        lambda: CF.scaled_dot_product_attention(*map(cr.tensor, arrays)),
    )


@pytest.mark.parametrize("name", ERRORS, ids=str)
def test_errors_like_torch(name):
    call = ERRORS[name]
    same_error(lambda: call(torch, t_), lambda: call(cr, c_))


def test_softmax_reexport_is_the_catalog_function():
    from chainrule.ops import activation, conv, elementwise

    assert CF.gelu is activation.gelu and CF.conv2d is conv.conv2d
    assert CF.sigmoid is elementwise.sigmoid
    assert math.isclose(CF.gelu(cr.tensor(1.0)).item(), TF.gelu(torch.tensor(1.0)).item(),
                        rel_tol=1e-6)  # fmt: skip

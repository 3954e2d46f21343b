"""Losses: the functional table (torch parity incl. gradients and second order, finite
differences), extreme logits, the loss modules, warnings and every error path."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from harness import Case, case_id, check_case, check_finite_differences
from nn_twins import adapt, same_error

import chainrule as cr
import chainrule.nn.functional as CF
from chainrule import nn

pytestmark = pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")


def F(m):
    return TF if m is torch else CF


def f(name, **kw):
    return lambda m, *a: getattr(F(m), name)(*a, **kw)


def const(m, x, a):
    """A fixed array as a non-differentiable tensor of x's dtype (class weights)."""
    return m.tensor(np.asarray(a), dtype=x.dtype)


W3 = np.array([0.2, 1.0, 2.5])
S = (3, 4)
BIG = [[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [0.0, 0.0, -1000.0], [5.0, -5.0, 0.0]]


def logits_and(target):
    """Random logits (N, 3) and a fixed int target."""
    t = np.asarray(target)
    return lambda r: [
        r.uniform(-3, 3, (len(t), 3) if t.ndim == 1 else (t.shape[0], 3, *t.shape[1:])),
        t,
    ]  # noqa: E501


def probs(shape):
    return lambda r: [r.uniform(0.05, 0.95, shape), r.uniform(0, 1, shape)]


def near(*points):  # inputs with ties at the kinks, for parity of the kink conventions
    return lambda r: [np.array(points, float), np.zeros(len(points))]


def signs(shape):
    """Random inputs and a fixed target of -1 and 1 (float, as torch's examples)."""
    return lambda r: [r.uniform(-2, 2, shape), np.sign(r.uniform(-1, 1, shape)).astype(int)]


def pair_and_signs(shape, tshape=None):
    """Two random inputs and a constant target of -1 and 1 (``tshape``: its shape)."""
    t = shape if tshape is None else tshape
    return lambda r: [
        r.uniform(-2, 2, shape),
        r.uniform(-2, 2, shape),
        np.sign(r.uniform(-1, 1, t)).astype(int) if t else np.array(-1),
    ]


T4 = [0, 2, 1, 2]
TIGN = [0, -100, 1, 2]
CASES = [
    *[
        Case("mse_loss", f("mse_loss", reduction=red), [S, S], note=red)
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case("mse_loss", f("mse_loss"), [S, (4,)], note="broadcast"),
    Case("mse_loss", lambda m, x, y, w: F(m).mse_loss(x, y, weight=w), [S, S, S], note="weight"),
    Case("mse_loss", lambda m, x, y: F(m).mse_loss(x, y, reduce=False), [S, S], note="legacy"),
    *[
        Case("l1_loss", f("l1_loss", reduction=red), [S, S], note=red)
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case("l1_loss", lambda m, x, y, w: F(m).l1_loss(x, y, weight=w), [S, S, S], note="weight"),
    Case("l1_loss", f("l1_loss"), make=near(0.0, 1.0, -1.0), fd=False, note="ties"),
    Case("smooth_l1_loss", f("smooth_l1_loss"), [S, S]),
    Case("smooth_l1_loss", f("smooth_l1_loss", beta=0.5, reduction="none"), [S, S], note="beta"),
    Case("smooth_l1_loss", f("smooth_l1_loss", beta=0.0), [S, S], note="beta0"),
    Case(
        "smooth_l1_loss",
        f("smooth_l1_loss", beta=1.0),
        make=near(0.0, 1.0, -1.0, 2.0),
        fd=False,
        note="kinks",
    ),  # fmt: skip
    Case("huber_loss", f("huber_loss"), [S, S]),
    Case("huber_loss", f("huber_loss", delta=0.5, reduction="sum"), [S, S], note="delta"),
    Case(
        "huber_loss",
        lambda m, x, y, w: F(m).huber_loss(x, y, delta=0.5, weight=w),
        [S, S, S],
        note="weight",
    ),
    Case(
        "huber_loss", f("huber_loss", delta=1.0), make=near(0.0, 1.0, -1.0), fd=False, note="kinks"
    ),  # fmt: skip
    # nll_loss: 2-d, N-d, 1-d, weights, ignore_index, reductions
    *[
        Case("nll_loss", f("nll_loss", reduction=red), make=logits_and(T4), note=red)
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    *[
        Case(
            "nll_loss",
            lambda m, x, t, red=red: F(m).nll_loss(
                x, t, const(m, x, W3), ignore_index=-100, reduction=red
            ),
            make=logits_and(TIGN),
            note=f"w-ign-{red}",
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "nll_loss",
        f("nll_loss", ignore_index=1),
        make=logits_and([[0, 1], [2, 1]]),
        note="nd-ignore",
    ),  # fmt: skip
    Case(
        "nll_loss",
        lambda m, x, t: F(m).nll_loss(x, t, const(m, x, W3)),
        make=logits_and(np.array([[[0, 1], [2, 2]], [[1, 0], [0, 2]]])),
        note="4d-w",
    ),  # fmt: skip
    Case("nll_loss", f("nll_loss"), make=lambda r: [r.uniform(-3, 0, 3), np.array(2)], note="1d"),
    # grad=False: torch's own backward rejects this shape (size mismatch in nll_loss_backward)
    Case(
        "nll_loss",
        f("nll_loss", reduction="none"),
        make=lambda r: [r.uniform(-3, 0, 3), np.array([1])],
        note="1d-t1",
        grad=False,
    ),  # fmt: skip
    # fd=False: the loss is nan (0 / 0, as torch); the gradient is zero
    Case("nll_loss", f("nll_loss"), make=logits_and([-100, -100]), note="all-ignored", fd=False),
    # cross_entropy: indices
    *[
        Case("cross_entropy", f("cross_entropy", reduction=red), make=logits_and(T4), note=red)
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    *[
        Case(
            "cross_entropy",
            lambda m, x, t, red=red: F(m).cross_entropy(
                x, t, const(m, x, W3), reduction=red, label_smoothing=0.2
            ),
            make=logits_and(TIGN),
            note=f"w-ign-ls-{red}",
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    *[
        Case(
            "cross_entropy",
            f("cross_entropy", label_smoothing=0.3, reduction=red),
            make=logits_and(TIGN),
            note=f"ls-ign-{red}",
        )
        for red in ("mean", "sum", "none")
    ],
    Case(
        "cross_entropy",
        f("cross_entropy", ignore_index=2),
        make=logits_and([[0, 2], [2, 1]]),
        note="nd-ignore",
    ),  # fmt: skip
    Case(
        "cross_entropy",
        f("cross_entropy", label_smoothing=0.1),
        make=logits_and(np.array([[[0, 1], [2, 2]], [[1, 0], [0, 2]]])),
        note="4d-ls",
    ),
    Case(
        "cross_entropy",
        f("cross_entropy"),
        make=lambda r: [r.uniform(-3, 3, 4), np.array(1)],
        note="1d",
    ),  # fmt: skip
    Case(
        "cross_entropy",
        f("cross_entropy", reduction="none", label_smoothing=0.2),
        make=lambda r: [r.uniform(-3, 3, 4), np.array(1)],
        note="1d-ls",
    ),  # fmt: skip
    Case(
        "cross_entropy",
        f("cross_entropy"),
        make=lambda r: [np.array(BIG), np.array(T4)],
        note="extreme",
    ),  # fmt: skip
    Case(
        "cross_entropy",
        f("cross_entropy", label_smoothing=0.1),
        make=lambda r: [np.array(BIG), np.array(T4)],
        note="extreme-ls",
    ),  # fmt: skip
    # cross_entropy: class probabilities (the target is differentiable too)
    *[
        Case(
            "cross_entropy",
            f("cross_entropy", reduction=red),
            make=probs((4, 3)),
            note=f"probs-{red}",
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "cross_entropy",
        lambda m, x, p: F(m).cross_entropy(x, p, const(m, x, W3), label_smoothing=0.25),
        make=probs((2, 3, 2)),
        note="probs-w-ls",
    ),
    Case(
        "cross_entropy",
        f("cross_entropy"),
        make=lambda r: [np.array(BIG), r.uniform(0, 1, (4, 3))],
        note="probs-extreme",
    ),  # fmt: skip
    # binary cross entropy
    *[
        Case(
            "binary_cross_entropy",
            f("binary_cross_entropy", reduction=red),
            make=probs(S),
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "binary_cross_entropy",
        lambda m, x, y: F(m).binary_cross_entropy(x, y, const(m, x, [0.5, 1.0, 2.0, 0.1])),
        make=probs(S),
        note="weight",
    ),  # fmt: skip
    # torch's gradient at exactly 0 and 1 (the clamp), and the -100 clamp of the logs
    Case(
        "binary_cross_entropy",
        lambda m, x, y: F(m).binary_cross_entropy(x, y.detach()),
        make=lambda r: [np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0, 0.0, 0.3])],
        fd=False,
        order2=False,
        note="edges",
    ),  # fmt: skip
    *[
        Case(
            "binary_cross_entropy_with_logits",
            f("binary_cross_entropy_with_logits", reduction=red),
            make=lambda r: [r.uniform(-4, 4, S), r.uniform(0, 1, S)],
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "binary_cross_entropy_with_logits",
        lambda m, x, y: F(m).binary_cross_entropy_with_logits(
            x, y, const(m, x, [0.5, 1.0, 2.0, 0.1]), pos_weight=const(m, x, [3.0, 1.0, 0.2, 2.0])
        ),
        make=lambda r: [r.uniform(-4, 4, S), r.uniform(0, 1, S)],
        note="weights",
    ),  # fmt: skip
    Case(
        "binary_cross_entropy_with_logits",
        f("binary_cross_entropy_with_logits"),
        make=lambda r: [np.array(BIG), r.uniform(0, 1, (4, 3))],
        note="extreme",
    ),  # fmt: skip
    Case(
        "binary_cross_entropy_with_logits",
        lambda m, x, y: F(m).binary_cross_entropy_with_logits(
            x, y, pos_weight=const(m, x, [3.0, 0.5, 2.0])
        ),
        make=lambda r: [np.array(BIG), r.uniform(0, 1, (4, 3))],
        note="extreme-pw",
    ),  # fmt: skip
    # kl_div
    *[
        Case(
            "kl_div",
            f("kl_div", reduction=red),
            make=lambda r: [r.uniform(-3, 0, S), r.uniform(0.05, 1, S)],
            note=red,
        )
        for red in ("batchmean", "sum", "none")
    ],
    Case(
        "kl_div",
        f("kl_div", reduction="batchmean", log_target=True),
        make=lambda r: [r.uniform(-3, 0, S), r.uniform(-3, 0, S)],
        note="log-target",
    ),
    Case(
        "kl_div",
        lambda m, x: F(m).kl_div(
            x, const(m, x, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]), reduction="sum"
        ),
        make=lambda r: [r.uniform(-3, 0, (2, 3))],
        note="zeros",
    ),  # fmt: skip
    Case(
        "kl_div",
        f("kl_div", reduction="batchmean"),
        make=lambda r: [np.array(-0.5), np.array(0.3)],
        note="0d",
    ),  # fmt: skip
    # margin and embedding losses
    *[
        Case("soft_margin_loss", f("soft_margin_loss", reduction=red), make=signs(S), note=red)
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case("soft_margin_loss", f("soft_margin_loss", reduce=False), make=signs(S), note="legacy"),
    *[
        Case(
            "margin_ranking_loss",
            f("margin_ranking_loss", margin=mg, reduction=red),
            make=pair_and_signs((5,)),
            note=f"{red}-{mg}",
        )
        for red in ("mean", "sum", "none")
        for mg in (0.0, 0.5)
    ],  # fmt: skip
    *[
        Case(
            "hinge_embedding_loss",
            f("hinge_embedding_loss", margin=mg, reduction=red),
            make=lambda r: [r.uniform(-2, 2, S), r.choice([-1.0, 1.0], S)],
            note=f"{red}-{mg}",
        )
        for red in ("mean", "sum", "none")
        for mg in (1.0, 0.3)
    ],  # fmt: skip
    *[
        Case(
            "cosine_embedding_loss",
            f("cosine_embedding_loss", margin=mg, reduction=red),
            make=pair_and_signs((4, 3), (4,)),
            note=f"{red}-{mg}",
        )
        for red in ("mean", "sum", "none")
        for mg in (0.0, 0.2)
    ],  # fmt: skip
    Case(
        "cosine_embedding_loss",
        f("cosine_embedding_loss", margin=-0.5),
        make=pair_and_signs((3,), ()),
        note="1d",
    ),  # fmt: skip
    *[
        Case(
            "multilabel_soft_margin_loss",
            f("multilabel_soft_margin_loss", reduction=red),
            make=lambda r: [r.uniform(-3, 3, S), r.integers(0, 2, S).astype(float)],
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "multilabel_soft_margin_loss",
        lambda m, x, y: F(m).multilabel_soft_margin_loss(x, y, const(m, x, [1.0, 0.5, 2.0, 0.1])),
        make=lambda r: [r.uniform(-3, 3, S), r.integers(0, 2, S).astype(float)],
        note="weight",
    ),
    Case(
        "multilabel_soft_margin_loss",
        f("multilabel_soft_margin_loss"),
        make=lambda r: [r.uniform(-3, 3, (5,)), r.uniform(0, 1, (5,))],
        note="1d-soft",
    ),
    *[
        Case(
            "poisson_nll_loss",
            f("poisson_nll_loss", reduction=red),
            make=lambda r: [r.uniform(-2, 2, S), r.poisson(2.0, S).astype(float)],
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "poisson_nll_loss",
        f("poisson_nll_loss", log_input=False, full=True),
        # counts from 1 (a differentiable target of 0 has log(0) in its gradient, in torch too)
        make=lambda r: [r.uniform(0.1, 3, S), r.poisson(2.0, S).astype(float) + 1],
        fd=False,  # a target of exactly 1 sits on the Stirling term's jump
        note="full",
    ),
    Case(
        "poisson_nll_loss",
        f("poisson_nll_loss", log_input=False, eps=0.1, reduction="none"),
        make=lambda r: [r.uniform(0.1, 3, S), r.poisson(2.0, S).astype(float)],
        note="eps",
    ),
    Case(
        "poisson_nll_loss",
        f("poisson_nll_loss", full=True, reduction="sum"),
        make=lambda r: [r.uniform(-2, 2, S), r.uniform(0, 4, S)],
        note="full-target-grad",
    ),
    *[
        Case(
            "gaussian_nll_loss",
            f("gaussian_nll_loss", reduction=red),
            make=lambda r: [r.standard_normal(S), r.standard_normal(S), r.uniform(0.2, 2, S)],
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "gaussian_nll_loss",
        f("gaussian_nll_loss", full=True),
        make=lambda r: [r.standard_normal(S), r.standard_normal(S), r.uniform(0.2, 2, (3,))],
        note="var-one-dim-short",
    ),  # fmt: skip
    Case(
        "gaussian_nll_loss",
        f("gaussian_nll_loss", reduction="none"),
        make=lambda r: [
            r.standard_normal((2, 3, 4)),
            r.standard_normal((2, 3, 4)),
            r.uniform(0.2, 2, (2, 1, 4)),
        ],
        note="var-broadcast",
    ),  # fmt: skip
    Case(
        "gaussian_nll_loss",
        f("gaussian_nll_loss", eps=0.5),
        make=lambda r: [r.standard_normal(S), r.standard_normal(S), r.uniform(0.6, 2, S)],
        note="eps",
    ),  # fmt: skip
    Case(
        "gaussian_nll_loss",
        lambda m, x, y: F(m).gaussian_nll_loss(x, y, 0.7),
        [S, S],
        note="float-var",
    ),  # fmt: skip
    *[
        Case("pairwise_distance", f("pairwise_distance", **kw), [(4, 3), (4, 3)], note=note)
        for note, kw in (
            ("p2", {}),
            ("p1", {"p": 1.0}),
            ("p3-keep", {"p": 3.0, "keepdim": True}),
            ("eps", {"eps": 0.1}),
        )
    ],  # fmt: skip
    Case(
        "pairwise_distance",
        lambda m, a, b: F(m).pairwise_distance(a, b),
        [(3,), (2, 3)],
        note="torch-broadcast",
    ),  # fmt: skip
    *[
        Case("triplet_margin_loss", f("triplet_margin_loss", **kw), [(5, 3)] * 3, note=note)
        for note, kw in (
            ("default", {}),
            ("sum", {"reduction": "sum"}),
            ("none", {"reduction": "none", "margin": 3.0}),
            ("p1", {"p": 1}),
            ("swap", {"swap": True, "margin": 2.0}),
        )
    ],  # fmt: skip
    Case("triplet_margin_loss", f("triplet_margin_loss", margin=5.0), [(3,)] * 3, note="1d"),
    # torch has no double backward for these two (its kernels' backward is not differentiable)
    *[
        Case(
            "multi_margin_loss",
            f("multi_margin_loss", **kw),
            make=logits_and([0, 2, 1, 2]),
            order2=False,
            note=note,
        )
        for note, kw in (
            ("default", {}),
            ("p2", {"p": 2, "margin": 0.5}),
            ("sum", {"reduction": "sum"}),
            ("none", {"reduction": "none"}),
            ("margin0", {"margin": 0.0}),
        )
    ],  # fmt: skip
    Case(
        "multi_margin_loss",
        lambda m, x, t: F(m).multi_margin_loss(x, t, weight=const(m, x, W3), reduction="none"),
        make=logits_and([0, 2, 1, 2]),
        order2=False,
        note="weight",
    ),  # fmt: skip
    Case(
        "multi_margin_loss",
        f("multi_margin_loss", p=2),
        make=lambda r: [r.uniform(-2, 2, 5), np.array(3)],
        order2=False,
        note="1d",
    ),  # fmt: skip
    *[
        Case(
            "multilabel_margin_loss",
            f("multilabel_margin_loss", reduction=red),
            make=lambda r: [
                r.uniform(-2, 2, (3, 4)),
                np.array([[0, 3, -1, 1], [1, -1, 0, 0], [3, 2, 1, 0]]),
            ],
            order2=False,
            note=red,
        )
        for red in ("mean", "sum", "none")
    ],  # fmt: skip
    Case(
        "multilabel_margin_loss",
        f("multilabel_margin_loss"),
        make=lambda r: [r.uniform(-2, 2, 4), np.array([2, 2, -1, 0])],
        order2=False,
        note="1d-repeated-label",
    ),  # fmt: skip
]

FD_CASES = [c for c in CASES if c.grad and c.fd]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", FD_CASES, ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


def test_every_loss_has_a_case():
    losses = {n for n in CF.__all__ if "loss" in n or n in ("cross_entropy", "kl_div")}
    losses |= {"binary_cross_entropy", "binary_cross_entropy_with_logits"}
    losses |= {"pairwise_distance"}
    assert losses <= {c.op for c in CASES}


@pytest.mark.parametrize("logit", [1000.0, -1000.0, 88.0, -88.0, 1e30, -1e30])
def test_extreme_logits_stay_finite(logit):
    x = cr.tensor([[logit, 0.0, -logit]], requires_grad=True)
    for loss in (CF.cross_entropy(x, cr.tensor([1])),
                 CF.cross_entropy(x, cr.tensor([2]), label_smoothing=0.1),
                 CF.binary_cross_entropy_with_logits(x, cr.tensor([[1.0, 0.0, 0.5]]))):  # fmt: skip
        g = cr.autograd.grad(loss, x)[0]
        assert np.isfinite(loss.item()) and np.all(np.isfinite(g._data))


# --------------------------------------------------------------------------- modules

MODULES = [
    ("MSELoss", {}, "reg"), ("MSELoss", {"reduction": "sum"}, "reg"), ("L1Loss", {}, "reg"),
    ("SmoothL1Loss", {"beta": 0.5}, "reg"), ("HuberLoss", {"delta": 0.7}, "reg"),
    ("NLLLoss", {"ignore_index": 1}, "cls"), ("NLLLoss", {"weight": W3}, "cls"),
    ("CrossEntropyLoss", {}, "cls"), ("CrossEntropyLoss", {"weight": W3, "label_smoothing": 0.1,
                                                           "reduction": "sum"}, "cls"),
    ("CrossEntropyLoss", {"reduction": "none"}, "probs"), ("BCELoss", {}, "prob"),
    ("BCELoss", {"weight": np.array([1.0, 2.0, 0.5])}, "prob"), ("BCEWithLogitsLoss", {}, "bin"),
    ("BCEWithLogitsLoss", {"pos_weight": np.array([2.0, 1.0, 0.5])}, "bin"),
    ("KLDivLoss", {"reduction": "batchmean"}, "kl-p"), ("KLDivLoss", {}, "kl-p"),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, "kl"),
    ("MSELoss", {"size_average": False}, "reg"),
    ("PoissonNLLLoss", {}, "reg"), ("PoissonNLLLoss", {"log_input": False, "full": True}, "count"),
    ("SoftMarginLoss", {"reduction": "none"}, "sign"), ("SoftMarginLoss", {}, "sign"),
    ("HingeEmbeddingLoss", {"margin": 0.5}, "sign"), ("HingeEmbeddingLoss", {}, "sign"),
    ("MultiLabelSoftMarginLoss", {}, "bin"), ("MultiMarginLoss", {}, "cls"),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": W3, "reduction": "sum"}, "cls"),
    ("MultiLabelMarginLoss", {}, "labels"),
    ("MultiLabelMarginLoss", {"reduction": "none"}, "labels"),
    ("MultiLabelSoftMarginLoss", {"weight": np.array([1.0, 2.0, 0.5]), "reduction": "sum"}, "bin"),
]  # fmt: skip
THREE = [
    ("MarginRankingLoss", {}, (5,), (5,)),
    ("MarginRankingLoss", {"margin": 0.3}, (5,), (5,)),
    ("CosineEmbeddingLoss", {}, (4, 3), (4,)),
    ("CosineEmbeddingLoss", {"margin": 0.2, "reduction": "none"}, (4, 3), (4,)),
]
TRIPLE = [
    ("TripletMarginLoss", {}), ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "swap": True}),
    ("GaussianNLLLoss", {}), ("GaussianNLLLoss", {"full": True, "eps": 0.1, "reduction": "sum"}),
]  # fmt: skip


@pytest.mark.parametrize("name,kw", TRIPLE, ids=[f"{m[0]}-{i}" for i, m in enumerate(TRIPLE)])
def test_three_input_loss_modules_match_torch(name, kw):
    r = np.random.default_rng(2)
    arrays = [r.standard_normal((4, 3)), r.standard_normal((4, 3)), r.uniform(0.05, 2, (4, 3))]
    tm, cm = getattr(torch.nn, name)(**kw), getattr(nn, name)(**kw)
    assert repr(cm) == repr(tm) and cm.reduction == tm.reduction
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    cs = [cr.tensor(a, requires_grad=True) for a in arrays]
    lt, lc = tm(*ts), cm(*cs)
    np.testing.assert_allclose(lc._data, lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    lt.sum().backward(), lc.sum().backward()
    for c, t in zip(cs, ts):
        np.testing.assert_allclose(c.grad._data, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "name,kw,shape,tshape", THREE, ids=[f"{m[0]}-{i}" for i, m in enumerate(THREE)]
)
def test_pair_loss_modules_match_torch(name, kw, shape, tshape):
    r = np.random.default_rng(1)
    a, b, y = r.standard_normal(shape), r.standard_normal(shape), r.choice([-1, 1], tshape)
    tm, cm = getattr(torch.nn, name)(**kw), getattr(nn, name)(**kw)
    assert repr(cm) == repr(tm) and cm.reduction == tm.reduction and cm.margin == tm.margin
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    ca, cb = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    lt, lc = tm(ta, tb, torch.tensor(y)), cm(ca, cb, cr.tensor(y))
    np.testing.assert_allclose(lc._data, lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    lt.sum().backward(), lc.sum().backward()
    np.testing.assert_allclose(ca.grad._data, ta.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cb.grad._data, tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def _loss_inputs(kind, r):
    if kind == "reg":
        return r.standard_normal((4, 3)), r.standard_normal((4, 3))
    if kind == "cls":
        return r.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    if kind == "probs":
        return r.standard_normal((4, 3)), r.dirichlet(np.ones(3), 4)
    if kind == "prob":
        return r.uniform(0.05, 0.95, (4, 3)), r.uniform(0, 1, (4, 3))
    if kind == "bin":
        return r.standard_normal((4, 3)), r.uniform(0, 1, (4, 3))
    if kind == "labels":
        return r.standard_normal((4, 3)), np.array([[0, 2, -1], [1, -1, 0], [2, 1, 0], [0, 0, 1]])
    if kind == "sign":
        return r.standard_normal((4, 3)), r.choice([-1.0, 1.0], (4, 3))
    if kind == "count":
        return r.uniform(0.1, 3, (4, 3)), r.poisson(2.0, (4, 3)).astype(float)
    if kind == "kl-p":
        return np.log(r.dirichlet(np.ones(3), 4)), r.dirichlet(np.ones(3), 4)
    return np.log(r.dirichlet(np.ones(3), 4)), np.log(r.dirichlet(np.ones(3), 4))


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    "name,kw,kind", MODULES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)]
)  # noqa: E501
def test_loss_modules_match_torch(name, kw, kind):
    r = np.random.default_rng(0)
    x, y = _loss_inputs(kind, r)
    tk = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    ck = {k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    tm, cm = getattr(torch.nn, name)(**tk), getattr(nn, name)(**ck)
    assert repr(cm) == repr(tm) and cm.reduction == tm.reduction
    assert sorted(dict(cm.named_buffers())) == sorted(dict(tm.named_buffers()))
    xt, xc = torch.tensor(x, requires_grad=True), cr.tensor(x, requires_grad=True)
    lt, lc = tm(xt, torch.tensor(y)), cm(xc, cr.tensor(y))
    np.testing.assert_allclose(lc._data, lt.detach().numpy(), rtol=1e-10, atol=1e-12)
    up = r.standard_normal(lt.shape)
    (lt * torch.tensor(up)).sum().backward()
    (lc * cr.tensor(up)).sum().backward()
    np.testing.assert_allclose(xc.grad._data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- warnings


def _warnings(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [(x.category, adapt(str(x.message))) for x in w]


WARNS = {
    "broadcast-mse": lambda m: F(m).mse_loss(m.ones(2, 3), m.ones(3)),
    "broadcast-l1": lambda m: F(m).l1_loss(m.ones(2, 3), m.ones(3)),
    "broadcast-huber": lambda m: F(m).huber_loss(m.ones(2, 3), m.ones(3)),
    "broadcast-smooth": lambda m: F(m).smooth_l1_loss(m.ones(2, 3), m.ones(3)),
    "legacy": lambda m: F(m).mse_loss(m.ones(2), m.ones(2), size_average=False),
    "legacy-reduce": lambda m: F(m).nll_loss(m.zeros(2, 3), m.tensor([0, 1]), reduce=False),
    "elementwise_mean": lambda m: F(m).mse_loss(m.ones(2), m.ones(2), reduction="elementwise_mean"),  # noqa: E501
    "kl-mean": lambda m: F(m).kl_div(m.ones(2), m.ones(2)),
    "module-legacy": lambda m: m.nn.L1Loss(reduce=False),
}


@pytest.mark.parametrize("name", WARNS, ids=str)
def test_warnings_like_torch(name):
    assert _warnings(lambda: WARNS[name](cr)) == _warnings(lambda: WARNS[name](torch))


# --------------------------------------------------------------------------- errors

X = np.random.default_rng(0).standard_normal((2, 3))


def t_(a, dtype=None):
    return torch.tensor(np.asarray(a), dtype=dtype)


def c_(a, dtype=None):
    return cr.tensor(np.asarray(a), dtype=dtype)


L = np.array([0, 1])
ERRORS = {
    "multi-margin-range": lambda m, t: F(m).multi_margin_loss(t(X), t([0, 3])),
    "multi-margin-batch": lambda m, t: F(m).multi_margin_loss(t(X), t([0, 1, 1])),
    "multi-margin-p": lambda m, t: F(m).multi_margin_loss(t(X), t(L), p=3),
    "multi-margin-weight-dims": lambda m, t: F(m).multi_margin_loss(t(X), t(L), weight=t(X)),
    "multi-margin-weight-size": lambda m, t: F(m).multi_margin_loss(t(X), t(L), weight=t(L)),
    "multi-margin-float-target": lambda m, t: F(m).multi_margin_loss(t(X), t([0.0, 1.0])),
    "multilabel-range": lambda m, t: F(m).multilabel_margin_loss(t(X), t([[0, 5, 1], [1, 1, 1]])),
    "multilabel-size": lambda m, t: F(m).multilabel_margin_loss(t(X), t(L)),
    "gaussian-var-negative": lambda m, t: F(m).gaussian_nll_loss(t(X), t(X), t(-X * X)),
    "gaussian-var-float": lambda m, t: F(m).gaussian_nll_loss(t(X), t(X), -1.0),
    "gaussian-var-size": lambda m, t: F(m).gaussian_nll_loss(t(X), t(X), t(np.ones((3, 2)))),
    "gaussian-reduction": lambda m, t: F(m).gaussian_nll_loss(t(X), t(X), 1.0, reduction="x"),
    "triplet-dims": lambda m, t: F(m).triplet_margin_loss(t(X), t(X), t(X[0])),
    "reduction-soft-margin": lambda m, t: F(m).soft_margin_loss(t(X), t(X), reduction="x"),
    "reduction-poisson": lambda m, t: F(m).poisson_nll_loss(t(X), t(X), reduction="x"),
    "reduction-multilabel": lambda m, t: F(m).multilabel_soft_margin_loss(
        t(X), t(X), None, reduction="x"
    ),
    "reduction-hinge": lambda m, t: F(m).hinge_embedding_loss(t(X), t(X), reduction="x"),
    "ranking-dims": lambda m, t: F(m).margin_ranking_loss(t(X), t(X), t(np.ones(3))),
    "cosine-2d-target": lambda m, t: F(m).cosine_embedding_loss(t(X), t(X), t(X)),
    "cosine-1d-target": lambda m, t: F(m).cosine_embedding_loss(t(X[0]), t(X[0]), t([1.0, 1])),
    "cosine-0d-target": lambda m, t: F(m).cosine_embedding_loss(t(X), t(X), t(1.0)),
    "reduction-mse": lambda m, t: F(m).mse_loss(t(X), t(X), reduction="foo"),
    "reduction-weighted-mse": lambda m, t: F(m).mse_loss(
        t(X), t(X), reduction="foo", weight=t(X)
    ),  # fmt: skip
    "weight-shape-l1": lambda m, t: F(m).l1_loss(t(X), t(X), weight=t(np.ones(3))),
    "reduction-nll": lambda m, t: F(m).nll_loss(t(X), t(L), reduction="foo"),
    "reduction-ce": lambda m, t: F(m).cross_entropy(t(X), t(L), reduction="none2"),
    "reduction-kl": lambda m, t: F(m).kl_div(t(X), t(X), reduction="foo"),
    "reduction-bce": lambda m, t: F(m).binary_cross_entropy(t(X * 0), t(X * 0), reduction="x"),
    "reduction-huber": lambda m, t: F(m).huber_loss(t(X), t(X), reduction="x"),
    "mse-shapes": lambda m, t: F(m).mse_loss(t(X), t(np.ones(4))),
    "mse-int": lambda m, t: F(m).mse_loss(t([1, 2]), t([1, 3])),
    "huber-delta": lambda m, t: F(m).huber_loss(t(X), t(X), delta=-1.0),
    "smooth-beta": lambda m, t: F(m).smooth_l1_loss(t(X), t(X), beta=-1.0),
    "nll-batch": lambda m, t: F(m).nll_loss(t(X), t([0, 1, 2])),
    "nll-bounds": lambda m, t: F(m).nll_loss(t(X), t([0, 5])),
    "nll-negative": lambda m, t: F(m).nll_loss(t(X), t([0, -5])),
    "nll-float-target": lambda m, t: F(m).nll_loss(t(X), t([0.0, 1.0])),
    "nll-int32-target": lambda m, t: F(m).nll_loss(t(X), t(L, m.int32)),
    "nll-weight": lambda m, t: F(m).nll_loss(t(X), t(L), weight=t(np.ones(4))),
    "nll-nd-target": lambda m, t: F(m).nll_loss(t(np.ones((2, 3, 4))), t(np.zeros((2, 5), int))),
    "nll-0d": lambda m, t: F(m).nll_loss(t(1.0), t(0)),
    "nll-1d-target": lambda m, t: F(m).nll_loss(t(np.ones(3)), t([0, 1])),
    "nll-multi-target": lambda m, t: F(m).nll_loss(t(X), t(np.zeros((2, 1), int))),
    "ce-probs-shape": lambda m, t: F(m).cross_entropy(t(X), t(np.ones((2, 4)))),
    "ce-probs-long": lambda m, t: F(m).cross_entropy(t(X), t(np.zeros((2, 3), int))),
    "ce-probs-ignore": lambda m, t: F(m).cross_entropy(t(X), t(X), ignore_index=1),
    "ce-smoothing": lambda m, t: F(m).cross_entropy(t(X), t(L), label_smoothing=1.5),
    "ce-batch": lambda m, t: F(m).cross_entropy(t(X), t([0, 1, 2])),
    "ce-float-target": lambda m, t: F(m).cross_entropy(t(X), t([0.0, 1.0])),
    "ce-bounds": lambda m, t: F(m).cross_entropy(t(X), t([3, 0])),
    "bce-range": lambda m, t: F(m).binary_cross_entropy(t([1.5]), t([1.0])),
    "bce-nan": lambda m, t: F(m).binary_cross_entropy(t([float("nan")]), t([1.0])),
    "bce-target-range": lambda m, t: F(m).binary_cross_entropy(t([0.5]), t([1.5])),
    "bce-shape": lambda m, t: F(m).binary_cross_entropy(t(np.ones((3, 1)) / 2), t(np.ones(3))),
    "bcel-shape": lambda m, t: F(m).binary_cross_entropy_with_logits(
        t(np.ones((3, 1))), t(np.ones(3))
    ),  # fmt: skip
    "bcel-pos-weight": lambda m, t: F(m).binary_cross_entropy_with_logits(
        t(X), t(X), pos_weight=t(np.ones(4))
    ),  # fmt: skip
}


@pytest.mark.parametrize("name", ERRORS, ids=str)
def test_errors_like_torch(name):
    call = ERRORS[name]
    same_error(lambda: call(torch, t_), lambda: call(cr, c_))


def test_gaussian_nll_clamped_var_like_torch():
    """var below eps is clamped by an in-place clamp_ under no_grad, as torch: the reverse
    gradient passes through the clamp, forward mode sees the clamp (0 tangent), both as
    torch's (so forward and reverse disagree there, in torch too)."""
    r = np.random.default_rng(4)
    x, y, v = r.standard_normal(S), r.standard_normal(S), r.uniform(0.1, 0.8, S)
    ts = [torch.tensor(a, requires_grad=True) for a in (x, y, v)]
    cs = [cr.tensor(a, requires_grad=True) for a in (x, y, v)]
    lt = TF.gaussian_nll_loss(*ts, eps=0.5, reduction="none")
    lc = CF.gaussian_nll_loss(*cs, eps=0.5, reduction="none")
    np.testing.assert_allclose(lc._data, lt.detach().numpy(), rtol=1e-12)
    up = r.standard_normal(S)
    gt = torch.autograd.grad(lt, ts, torch.tensor(up))
    gc = cr.autograd.grad(lc, cs, cr.tensor(up))
    for a, b in zip(gc, gt):
        np.testing.assert_allclose(a._data, b.numpy(), rtol=1e-12)
    import torch.autograd.forward_ad as tfw

    from chainrule.autograd import forward_ad as cfw

    tan = r.standard_normal(S)
    with tfw.dual_level():
        d = tfw.make_dual(torch.tensor(v), torch.tensor(tan))
        jt = tfw.unpack_dual(TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(y), d, eps=0.5,
                                                  reduction="none")).tangent  # fmt: skip
    with cfw.dual_level():
        d = cfw.make_dual(cr.tensor(v), cr.tensor(tan))
        jc = cfw.unpack_dual(CF.gaussian_nll_loss(cr.tensor(x), cr.tensor(y), d, eps=0.5,
                                                  reduction="none")).tangent  # fmt: skip
    np.testing.assert_allclose(jc._data, jt.numpy(), rtol=1e-12)


@pytest.mark.parametrize("which", ["input", "target"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
@pytest.mark.parametrize(
    "loss, weighted",
    [("mse_loss", False), ("mse_loss", True), ("huber_loss", False), ("huber_loss", True),
     ("l1_loss", False), ("l1_loss", True), ("smooth_l1_loss", False)],
)  # fmt: skip
def test_regression_loss_saves_input_and_target_as_torch(loss, weighted, reduction, which):
    """torch's mse, huber and smooth_l1 are one node saving input and target: writing either
    before backward raises; l1 and a weighted mse are composites that do not."""
    outcome = []
    for m in (torch, cr):
        x, t = m.ones(3, requires_grad=True) * 1, m.zeros(3)
        kw = {"weight": m.ones(3)} if weighted else {}
        y = getattr(m.nn.functional, loss)(x, t, reduction=reduction, **kw)
        (x if which == "input" else t).mul_(2)
        try:
            y.sum().backward()
            outcome.append("ok")
        except RuntimeError as e:
            outcome.append(str(e)[:60])
    assert outcome[0].replace("torch", "chainrule") == outcome[1]

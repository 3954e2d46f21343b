"""nn.init against torch: distributions checked statistically (one-sample KS against torch's
formula for the bounds/std, two-sample KS against torch's own draws), deterministic fills
exactly, gains, fans, seeding, in-place semantics and every error."""

import math
import warnings

import numpy as np
import pytest
import torch
from nn_twins import same_error

import chainrule as cr
from chainrule import nn
from chainrule.nn import init

N = 60_000
# Kolmogorov-Smirnov critical values at alpha = 1e-4 (fixed seeds make the tests deterministic;
# a wrong bound or std moves D far past these, e.g. a 5% error in std gives D ~ 0.02 > 0.0079)
KS1 = 1.95 / math.sqrt(N)
KS2 = 1.95 * math.sqrt(2 / N)


def ks_one(x, cdf):
    x = np.sort(np.asarray(x, np.float64).ravel())
    n = x.size
    c = cdf(x)
    return max((np.arange(1, n + 1) / n - c).max(), (c - np.arange(n) / n).max())


def ks_two(a, b):
    a = np.sort(np.asarray(a, np.float64).ravel())
    b = np.sort(np.asarray(b, np.float64).ravel())
    allv = np.concatenate([a, b])
    fa = np.searchsorted(a, allv, side="right") / a.size
    fb = np.searchsorted(b, allv, side="right") / b.size
    return np.abs(fa - fb).max()


def normal_cdf(mean, std):
    return lambda x: 0.5 * (1 + torch.erf(torch.tensor((x - mean) / (std * math.sqrt(2)))).numpy())


def uniform_cdf(a, b):
    return lambda x: np.clip((x - a) / (b - a), 0, 1)


def draw(fn, shape, *args, seed=0, **kwargs):
    """chainrule's and torch's samples of the same initialiser."""
    cr.manual_seed(seed)
    torch.manual_seed(seed)
    c = cr.empty(*shape)
    t = torch.empty(*shape)
    assert getattr(init, fn)(c, *args, **kwargs) is c
    getattr(torch.nn.init, fn)(t, *args, **kwargs)
    return c.numpy(), t.numpy()


SHAPE_2D = (300, 200)
SHAPE_4D = (60, 40, 5, 5)


def fans(shape):
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


@pytest.mark.parametrize(
    "fn,args,kwargs,shape,bound",
    [
        ("uniform_", (), {}, SHAPE_2D, (0.0, 1.0)),
        ("uniform_", (-3.0, 0.5), {}, SHAPE_2D, (-3.0, 0.5)),
        ("xavier_uniform_", (), {}, SHAPE_2D, None),
        ("xavier_uniform_", (), {"gain": 5 / 3}, SHAPE_4D, None),
        ("kaiming_uniform_", (), {}, SHAPE_2D, None),
        ("kaiming_uniform_", (), {"a": math.sqrt(5)}, SHAPE_4D, None),
        ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}, SHAPE_4D, None),
        ("kaiming_uniform_", (), {"nonlinearity": "tanh", "mode": "FAN_IN"}, SHAPE_2D, None),
    ],
)
def test_uniform_family(fn, args, kwargs, shape, bound):
    c, t = draw(fn, shape, *args, **kwargs)
    fan_in, fan_out = fans(shape)
    if fn == "xavier_uniform_":
        a = kwargs.get("gain", 1.0) * math.sqrt(6 / (fan_in + fan_out))
        bound = (-a, a)
    elif fn == "kaiming_uniform_":
        fan = fan_out if kwargs.get("mode", "fan_in").lower() == "fan_out" else fan_in
        gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
        b = gain * math.sqrt(3 / fan)
        bound = (-b, b)
    lo, hi = bound
    assert c.dtype == np.float32 and c.shape == shape
    assert lo <= c.min() and c.max() <= hi and t.min() >= lo and t.max() <= hi
    assert ks_one(c, uniform_cdf(lo, hi)) < KS1
    assert ks_two(c, t) < KS2


@pytest.mark.parametrize(
    "fn,args,kwargs,shape",
    [
        ("normal_", (), {}, SHAPE_2D),
        ("normal_", (2.0, 0.3), {}, SHAPE_2D),
        ("xavier_normal_", (), {"gain": 2.0}, SHAPE_4D),
        ("kaiming_normal_", (), {}, SHAPE_2D),
        ("kaiming_normal_", (), {"a": 0.2, "mode": "fan_out"}, SHAPE_4D),
        ("kaiming_normal_", (), {"nonlinearity": "selu"}, SHAPE_2D),
    ],
)
def test_normal_family(fn, args, kwargs, shape):
    c, t = draw(fn, shape, *args, **kwargs)
    fan_in, fan_out = fans(shape)
    mean, std = 0.0, 1.0
    if fn == "normal_" and args:
        mean, std = args
    elif fn == "xavier_normal_":
        std = kwargs["gain"] * math.sqrt(2 / (fan_in + fan_out))
    elif fn == "kaiming_normal_":
        fan = fan_out if kwargs.get("mode") == "fan_out" else fan_in
        gain = init.calculate_gain(kwargs.get("nonlinearity", "leaky_relu"), kwargs.get("a", 0))
        std = gain / math.sqrt(fan)
    assert abs(c.std() / std - 1) < 0.02 and abs(c.mean() - mean) < 0.02 * std
    assert ks_one(c, normal_cdf(mean, std)) < KS1
    assert ks_two(c, t) < KS2


@pytest.mark.parametrize(
    "mean,std,a,b",
    [(0.0, 1.0, -2.0, 2.0), (0.5, 0.2, 0.0, 1.0), (0.0, 1.0, 1.5, 3.0), (0.0, 0.02, -0.04, 0.04)],
)  # the last two take torch's low-acceptance branch (uniform proposals)
def test_trunc_normal(mean, std, a, b):
    c, t = draw("trunc_normal_", SHAPE_2D, mean, std, a, b)
    assert a <= c.min() and c.max() <= b
    phi = normal_cdf(mean, std)
    lo, hi = phi(np.array(a)), phi(np.array(b))
    assert ks_one(c, lambda x: (phi(x) - lo) / (hi - lo)) < KS1
    assert ks_two(c, t) < KS2


@pytest.mark.parametrize("shape", [(30, 30), (50, 20), (20, 50), (8, 3, 4, 4), (1, 10), (10, 1)])
def test_orthogonal(shape):
    cr.manual_seed(1)
    w = cr.empty(*shape)
    init.orthogonal_(w, gain=2.0)
    q = w.numpy().reshape(shape[0], -1).astype(np.float64) / 2.0
    rows, cols = q.shape
    gram = q.T @ q if rows >= cols else q @ q.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-5)
    t = torch.empty(*shape)
    torch.nn.init.orthogonal_(t, gain=2.0)
    # same distribution as torch's (Haar, thanks to the sign fix): entry magnitudes agree
    assert ks_two(np.abs(w.numpy()), np.abs(t.numpy())) < 1.95 * math.sqrt(2 / w.numel()) + 0.05


def test_orthogonal_entries_are_haar_distributed():
    # over many 4x4 draws, an entry of a Haar orthogonal matrix has mean 0 and variance 1/4;
    # without the sign fix of R's diagonal the diagonal entries would be biased
    cr.manual_seed(3)
    diag = []
    for _ in range(3000):
        w = cr.empty(4, 4)
        init.orthogonal_(w)
        diag.append(w.numpy()[0, 0])
    diag = np.array(diag)
    assert abs(diag.mean()) < 0.03 and abs(diag.var() - 0.25) < 0.02


def test_sparse():
    cr.manual_seed(2)
    w = cr.empty(200, 300)
    init.sparse_(w, 0.3, std=0.5)
    zeros = (w.numpy() == 0).sum(axis=0)
    assert (zeros == math.ceil(0.3 * 200)).all()
    nz = w.numpy()[w.numpy() != 0]
    assert ks_one(nz, normal_cdf(0.0, 0.5)) < 1.95 / math.sqrt(nz.size)
    same_error(
        lambda: torch.nn.init.sparse_(torch.empty(3), 0.1), lambda: init.sparse_(cr.empty(3), 0.1)
    )


@pytest.mark.parametrize(
    "fn,shape,args",
    [
        ("constant_", (3, 4), (2.5,)),
        ("ones_", (2, 3), ()),
        ("zeros_", (5,), ()),
        ("eye_", (3, 5), ()),
        ("eye_", (4, 2), ()),
        ("dirac_", (4, 2, 3), ()),
        ("dirac_", (6, 3, 3, 4), ()),
        ("dirac_", (6, 2, 3, 3, 3), (3,)),
        ("dirac_", (4, 4, 3, 3), (2,)),
    ],
)
def test_deterministic_fills_equal_torch(fn, shape, args):
    c, t = draw(fn, shape, *args)
    np.testing.assert_array_equal(c, t)


def test_constant_on_integer_tensor_like_torch():
    c = init.constant_(cr.zeros(3, dtype=cr.int64), 2.7)
    t = torch.nn.init.constant_(torch.zeros(3, dtype=torch.long), 2.7)
    assert c.tolist() == t.tolist() and c.dtype == cr.int64


def test_calculate_gain_matches_torch():
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                 "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]:  # fmt: skip
        assert init.calculate_gain(name) == torch.nn.init.calculate_gain(name), name
    for p in (0.2, 1, 0, 3.5):
        assert init.calculate_gain("leaky_relu", p) == torch.nn.init.calculate_gain("leaky_relu", p)
    for bad in [("leaky_relu", True), ("leaky_relu", "x"), ("gelu",), ("Tanh",)]:
        same_error(
            lambda b=bad: torch.nn.init.calculate_gain(*b), lambda b=bad: init.calculate_gain(*b)
        )


@pytest.mark.parametrize("shape", [(3, 4), (5, 2, 3), (4, 3, 2, 7), (1, 1, 1, 1, 1)])
def test_fan_in_and_fan_out_match_torch(shape):
    assert init._calculate_fan_in_and_fan_out(cr.empty(*shape)) == (
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    )


@pytest.mark.parametrize(
    "call",
    [
        ("xavier_uniform_", (3,), (), {}),
        ("xavier_normal_", (), (), {}),
        ("kaiming_uniform_", (4,), (), {}),
        ("kaiming_normal_", (2, 3), (), {"mode": "fan_avg"}),
        ("kaiming_uniform_", (2, 3), (), {"nonlinearity": "swish"}),
        ("orthogonal_", (3,), (), {}),
        ("eye_", (2, 2, 2), (), {}),
        ("dirac_", (2, 2), (), {}),
        ("dirac_", (4, 2, 3), (3,), {}),
        ("uniform_", (3,), (1.0, 0.0), {}),
        ("normal_", (3,), (0.0, -1.0), {}),
        ("normal_", (3,), (0.0, -0.5), {}),
        ("trunc_normal_", (3,), (0.0, 1.0, 2.0, 1.0), {}),
    ],
)
def test_errors_match_torch(call):
    fn, shape, args, kwargs = call
    same_error(
        lambda: getattr(torch.nn.init, fn)(torch.empty(shape), *args, **kwargs),
        lambda: getattr(init, fn)(cr.empty(shape), *args, **kwargs),
    )


@pytest.mark.parametrize("fn", ["uniform_", "normal_", "trunc_normal_", "xavier_uniform_",
                                "kaiming_normal_", "orthogonal_"])  # fmt: skip
@pytest.mark.parametrize("dtype", ["int64", "int32", "bool"])
def test_integer_tensors_rejected_like_torch(fn, dtype):
    same_error(
        lambda: getattr(torch.nn.init, fn)(torch.zeros(3, 3, dtype=getattr(torch, dtype))),
        lambda: getattr(init, fn)(cr.zeros(3, 3, dtype=getattr(cr, dtype))),
    )


def test_warnings_like_torch():
    for fn in ("kaiming_uniform_", "kaiming_normal_"):
        with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
            t = cr.empty(0, 3)
            assert getattr(init, fn)(t) is t
    with pytest.warns(UserWarning, match="mean is more than 2 std from"):
        init.trunc_normal_(cr.empty(10), mean=10.0)
    assert init.orthogonal_(cr.empty(0, 3)).shape == (0, 3)
    old_names = """uniform normal constant eye dirac xavier_uniform xavier_normal kaiming_uniform
    kaiming_normal orthogonal sparse""".split()
    for old in old_names:
        with pytest.warns(FutureWarning) as rec:
            args = {"constant": (1.0,), "sparse": (0.1,)}.get(old, ())
            shape = (2, 2, 3) if old == "dirac" else (3, 3)
            getattr(init, old)(cr.empty(*shape), *args)
        with warnings.catch_warnings(record=True) as trec:
            warnings.simplefilter("always")
            getattr(torch.nn.init, old)(torch.empty(*shape), *args)
        assert str(rec[0].message) == str(trec[0].message)


def test_seeding_generators_and_in_place_semantics():
    cr.manual_seed(7)
    a = init.normal_(cr.empty(5)).tolist()
    cr.manual_seed(7)
    assert init.normal_(cr.empty(5)).tolist() == a
    g1, g2 = cr.Generator().manual_seed(3), cr.Generator().manual_seed(3)
    cr.manual_seed(0)
    x = init.kaiming_uniform_(cr.empty(4, 4), generator=g1).tolist()
    cr.manual_seed(99)  # the default generator plays no part
    assert init.kaiming_uniform_(cr.empty(4, 4), generator=g2).tolist() == x
    for fn in ("uniform_", "normal_", "trunc_normal_", "orthogonal_", "xavier_normal_"):
        r1 = getattr(init, fn)(cr.empty(3, 3), generator=cr.Generator().manual_seed(5))
        r2 = getattr(init, fn)(cr.empty(3, 3), generator=cr.Generator().manual_seed(5))
        assert r1.tolist() == r2.tolist(), fn
    p = nn.Parameter(cr.zeros(3, 2))
    view = p.detach()  # shares memory
    out = init.xavier_uniform_(p)
    assert out is p and isinstance(out, nn.Parameter)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None
    assert view.tolist() == p.tolist() and p.abs().sum().item() > 0
    d = init.normal_(cr.empty(4, 4, dtype=cr.float64))
    assert d.dtype == cr.float64
    assert init.uniform_(cr.empty(3, dtype=cr.float16)).dtype == cr.float16


def test_init_is_an_in_place_change_for_autograd():
    w = nn.Parameter(cr.ones(3))
    y = (w * w).sum()
    init.zeros_(w)
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()

"""Layers against torch: torch's initialised weights copied in, then outputs, input and
weight gradients (float64 tight, float32 loose), train/eval behaviour, running statistics,
default init distributions, reprs and constructor errors."""

import math
import re

import numpy as np
import pytest
import torch
from nn_twins import adapt, copy_weights, same_error

import chainrule as cr
from chainrule import nn

TOL = {"float64": (1e-9, 1e-11), "float32": (2e-4, 2e-5)}


def twin(name, *args, dtype="float64", **kw):
    """The same layer in both libraries, ours carrying torch's initial weights."""
    t = getattr(torch.nn, name)(*args, **kw).to(getattr(torch, dtype))
    c = getattr(nn, name)(*args, **kw).to(getattr(cr, dtype))
    copy_weights(c, t)
    return c, t


def _tensors(arrays, dtype):
    tt, cc = [], []
    for a in arrays:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            tt.append(torch.tensor(a.astype(dtype), requires_grad=True))
            cc.append(cr.tensor(a.astype(dtype), requires_grad=True))
        else:
            tt.append(torch.tensor(a))
            cc.append(cr.tensor(a))
    return tt, cc


def _close(ours, theirs, dtype, what, scale=1):
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=rtol * scale,
                               atol=atol * scale, err_msg=what)  # fmt: skip
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], what


def parity(c, t, arrays, dtype="float64", call=None, seed=1):
    """Forward and backward through both; compare outputs, input and parameter grads."""
    tt, cc = _tensors(arrays, dtype)
    call = call or (lambda m, *xs: m(*xs))
    ot, oc = call(t, *tt), call(c, *cc)
    ot = list(ot) if isinstance(ot, tuple) else [ot]
    oc = list(oc) if isinstance(oc, tuple) else [oc]
    assert len(ot) == len(oc)
    rng = np.random.default_rng(seed)
    lt, lc = 0, 0
    for i, (a, b) in enumerate(zip(oc, ot)):
        if b is None:
            assert a is None
            continue
        _close(a, b, dtype, f"output {i}")
        if b.requires_grad:
            u = rng.standard_normal(tuple(b.shape)).astype(dtype)
            lt = lt + (b * torch.tensor(u)).sum()
            lc = lc + (a * cr.tensor(u)).sum()
    if isinstance(lt, int):
        return
    lt.backward()
    lc.backward()
    for i, (a, b) in enumerate(zip(cc, tt)):
        if b.grad is not None:
            _close(a.grad, b.grad, dtype, f"grad of input {i}", 5)
    tp, cp = dict(t.named_parameters()), dict(c.named_parameters())
    assert list(tp) == list(cp)
    for k in tp:
        if tp[k].grad is None:
            assert cp[k].grad is None or not cp[k].grad._data.any(), k
        else:
            _close(cp[k].grad, tp[k].grad, dtype, f"grad of {k}", 5)


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def idx(high, *shape):
    return np.random.default_rng(0).integers(0, high, shape)


LAYERS = [
    ("Linear", (3, 4), {}, [rnd(5, 3)]),
    ("Linear", (3, 4), {"bias": False}, [rnd(2, 5, 3)]),
    ("Linear", (3, 1), {}, [rnd(3)]),
    ("Bilinear", (3, 2, 4), {}, [rnd(5, 3), rnd(5, 2, seed=1)]),
    ("Bilinear", (3, 2, 4), {"bias": False}, [rnd(2, 5, 3), rnd(2, 5, 2, seed=1)]),
    ("Identity", (3,), {"x": 1}, [rnd(2, 3)]),
    ("Conv1d", (2, 4, 3), {}, [rnd(2, 2, 7)]),
    ("Conv1d", (2, 4, 3), {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, [rnd(2, 2, 9)]),
    ("Conv1d", (2, 3, 4), {"padding": "same", "padding_mode": "reflect"}, [rnd(2, 2, 6)]),
    ("Conv1d", (2, 3, 3), {"padding": 2, "padding_mode": "circular"}, [rnd(2, 5)]),
    ("Conv2d", (2, 4, 3), {}, [rnd(2, 2, 6, 6)]),
    (
        "Conv2d",
        (4, 6, (3, 2)),
        {"stride": (2, 1), "padding": (1, 0), "groups": 2, "bias": False},
        [rnd(2, 4, 5, 5)],
    ),  # fmt: skip
    ("Conv2d", (2, 3, 3), {"padding": "same", "padding_mode": "replicate"}, [rnd(1, 2, 5, 4)]),
    (
        "Conv2d",
        (2, 3, 3),
        {"padding": 1, "padding_mode": "reflect", "dilation": 1},
        [rnd(1, 2, 4, 4)],
    ),  # fmt: skip
    ("Conv2d", (2, 3, 2), {"padding": "valid", "dilation": 2}, [rnd(2, 5, 5)]),
    ("ConvTranspose1d", (2, 3, 3), {"stride": 2}, [rnd(2, 2, 4)]),
    (
        "ConvTranspose2d",
        (2, 4, 3),
        {"stride": 2, "padding": 1, "output_padding": 1},
        [rnd(2, 2, 3, 3)],
    ),  # fmt: skip
    ("ConvTranspose2d", (4, 2, 2), {"groups": 2, "bias": False, "dilation": 2}, [rnd(1, 4, 3, 3)]),
    ("MaxPool1d", (2,), {}, [rnd(2, 3, 6)]),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1}, [rnd(2, 3, 6, 6)]),
    ("MaxPool2d", (2,), {"ceil_mode": True}, [rnd(1, 5, 5)]),
    ("AvgPool1d", (3,), {"stride": 2}, [rnd(2, 3, 7)]),
    ("AvgPool2d", (2,), {"padding": 1, "count_include_pad": False}, [rnd(2, 3, 5, 5)]),
    ("AvgPool2d", (3,), {"stride": 1, "divisor_override": 2}, [rnd(1, 2, 4, 4)]),
    ("AdaptiveAvgPool1d", (3,), {}, [rnd(2, 3, 7)]),
    ("AdaptiveAvgPool2d", ((2, 3),), {}, [rnd(2, 3, 5, 7)]),
    ("LayerNorm", (4,), {}, [rnd(3, 4)]),
    ("LayerNorm", ((3, 4),), {"elementwise_affine": False}, [rnd(2, 3, 4)]),
    ("LayerNorm", (4,), {"bias": False, "eps": 1e-3}, [rnd(2, 3, 4)]),
    ("GroupNorm", (2, 4), {}, [rnd(2, 4, 3)]),
    ("GroupNorm", (3, 6), {"affine": False}, [rnd(2, 6, 2, 2)]),
    ("GroupNorm", (2, 4), {"bias": False}, [rnd(3, 4)]),
    ("RMSNorm", (4,), {}, [rnd(3, 4)]),
    ("RMSNorm", ((3, 4),), {"eps": 1e-3, "elementwise_affine": False}, [rnd(2, 3, 4)]),
    ("BatchNorm1d", (3,), {}, [rnd(4, 3)]),
    ("BatchNorm1d", (3,), {"affine": False, "momentum": None}, [rnd(4, 3, 5)]),
    ("BatchNorm2d", (3,), {"track_running_stats": False}, [rnd(2, 3, 4, 4)]),
    ("BatchNorm2d", (3,), {"bias": False}, [rnd(2, 3, 2, 2)]),
    ("Embedding", (6, 3), {}, [idx(6, 2, 5)]),
    ("Embedding", (6, 3), {"padding_idx": 2}, [np.array([[2, 0, 2], [5, 2, 1]])]),
    (
        "Embedding",
        (6, 3),
        {"padding_idx": -1, "scale_grad_by_freq": True},
        [np.array([5, 5, 1, 0, 1])],
    ),  # fmt: skip
    ("Dropout", (0.5,), {}, None),  # eval only (see below)
    ("ReLU", (), {}, [rnd(3, 4)]),
    ("LeakyReLU", (0.2,), {}, [rnd(3, 4)]),
    ("GELU", (), {}, [rnd(3, 4)]),
    ("GELU", ("tanh",), {}, [rnd(3, 4)]),
    ("SiLU", (), {}, [rnd(3, 4)]),
    ("ELU", (), {"alpha": 0.5}, [rnd(3, 4)]),
    ("Tanh", (), {}, [rnd(3, 4)]),
    ("Sigmoid", (), {}, [rnd(3, 4)]),
    ("Softmax", (1,), {}, [rnd(3, 4)]),
    ("LogSoftmax", (-1,), {}, [rnd(2, 3, 4)]),
    ("Softplus", (), {"beta": 2.0, "threshold": 1.0}, [rnd(3, 4)]),
    ("Hardtanh", (-0.5, 0.7), {}, [rnd(3, 4)]),
    ("ReLU6", (), {}, [rnd(3, 4) * 5]),
    ("LogSigmoid", (), {}, [rnd(3, 4)]),
    ("Mish", (), {}, [rnd(3, 4)]),
    ("SELU", (), {}, [rnd(3, 4)]),
    ("CELU", (), {"alpha": 0.5}, [rnd(3, 4)]),
    ("Hardswish", (), {}, [rnd(3, 4) * 5]),
    ("Hardsigmoid", (), {}, [rnd(3, 4) * 5]),
    ("Softsign", (), {}, [rnd(3, 4)]),
    ("Tanhshrink", (), {}, [rnd(3, 4)]),
    ("Softshrink", (), {}, [rnd(3, 4)]),
    ("Softshrink", (1.0,), {}, [rnd(3, 4) * 3]),
    ("Hardshrink", (), {"lambd": 0.25}, [rnd(3, 4)]),
    ("Threshold", (0.1, 20.0), {}, [rnd(3, 4)]),
    ("RReLU", (), {}, None),  # eval (training draws: tests/ops/test_activation.py)
    ("RReLU", (0.2, 0.4), {}, None),
    ("GLU", (), {}, [rnd(3, 4)]),
    ("GLU", (0,), {}, [rnd(4, 3)]),
    ("Softmin", (1,), {}, [rnd(3, 4)]),
    ("Flatten", (), {}, [rnd(2, 3, 4)]),
    ("Flatten", (0, 1), {}, [rnd(2, 3, 4)]),
    ("Unflatten", (1, (2, 3)), {}, [rnd(4, 6)]),
]


def _id(spec):
    return f"{spec[0]}-{'-'.join(map(str, spec[2].values()))}" if spec[2] else spec[0]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("spec", LAYERS, ids=[f"{i}-{_id(s)}" for i, s in enumerate(LAYERS)])
def test_layer_matches_torch(spec, dtype):
    name, args, kw, arrays = spec
    c, t = twin(name, *args, dtype=dtype, **kw)
    assert adapt(repr(t)) == repr(c)
    assert sorted(k for k, _ in t.named_buffers()) == sorted(k for k, _ in c.named_buffers())
    if arrays is None:
        c.eval(), t.eval()
        arrays = [rnd(3, 4)]
    parity(c, t, arrays, dtype)
    for k, v in t.state_dict().items():  # buffers moved the same way (batch norm)
        np.testing.assert_allclose(c.state_dict()[k]._data, v.numpy(), rtol=TOL[dtype][0] * 10,
                                   atol=TOL[dtype][1] * 10, err_msg=k)  # fmt: skip


def test_identity_repr_and_passthrough():
    x = cr.ones(2)
    assert nn.Identity(54, unused="x")(x) is x and repr(nn.Identity()) == "Identity()"


def test_conv_transpose_output_size_like_torch():
    c, t = twin("ConvTranspose2d", 2, 3, 3, stride=2, padding=1)
    parity(c, t, [rnd(1, 2, 4, 4)], call=lambda m, x: m(x, output_size=[8, 8]))
    parity(c, t, [rnd(2, 4, 4)], call=lambda m, x: m(x, output_size=(3, 7, 8)))
    for size in ([9, 9], [1, 2, 3]):
        same_error(lambda: t(torch.ones(1, 2, 4, 4, dtype=torch.float64), output_size=size),  # noqa: B023
                   lambda: c(cr.ones(1, 2, 4, 4, dtype=cr.float64), output_size=size))  # fmt: skip  # noqa: B023


def test_maxpool_return_indices_like_torch():
    c, t = twin("MaxPool2d", 2, return_indices=True)
    out_c, ind_c = c(cr.tensor(rnd(1, 2, 4, 4)))
    out_t, ind_t = t(torch.tensor(rnd(1, 2, 4, 4)))
    np.testing.assert_array_equal(ind_c._data, ind_t.numpy())
    assert adapt(repr(t)) == repr(c)


# --------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"momentum": 0.5, "affine": False},
                                {"track_running_stats": False}], ids=str)  # fmt: skip
@pytest.mark.parametrize("name,shape", [("BatchNorm1d", (5, 3)), ("BatchNorm1d", (4, 3, 2)),
                                        ("BatchNorm2d", (2, 3, 2, 3))])  # fmt: skip
def test_batchnorm_running_stats_over_steps_then_eval(name, shape, kw):
    c, t = twin(name, 3, **kw)
    for step in range(4):
        parity(c, t, [rnd(*shape, seed=step) * (step + 1) + step], seed=step)
        for k, v in t.state_dict().items():
            np.testing.assert_allclose(c.state_dict()[k]._data, v.numpy(), rtol=1e-12,
                                       err_msg=f"{k} after step {step}")  # fmt: skip
    c.eval(), t.eval()
    parity(c, t, [rnd(*shape, seed=9)])
    if kw.get("track_running_stats", True):  # eval must not move the statistics
        assert int(c.num_batches_tracked.item()) == 4
    c.reset_running_stats(), t.reset_running_stats()
    for k, v in t.state_dict().items():
        np.testing.assert_array_equal(c.state_dict()[k]._data, v.numpy())


def test_batchnorm_state_dict_from_torch_loads_and_agrees():
    t = torch.nn.BatchNorm1d(3).double()
    t(torch.randn(8, 3, dtype=torch.float64) * 3 + 1)
    c = nn.BatchNorm1d(3).double()
    copy_weights(c, t)
    c.eval(), t.eval()
    parity(c, t, [rnd(4, 3)])


# --------------------------------------------------------------------------- dropout


def test_dropout_train_and_eval():
    cr.manual_seed(0)
    d = nn.Dropout(0.25)
    x = cr.ones(400, 250)
    y = d(x)
    kept = y._data != 0
    assert abs(kept.mean() - 0.75) < 0.005
    np.testing.assert_allclose(y._data[kept], 1 / 0.75, rtol=1e-6)
    d.eval()
    assert d(x) is x
    assert repr(d) == "Dropout(p=0.25, inplace=False)"


# --------------------------------------------------------------------------- embedding


def test_embedding_from_pretrained_like_torch():
    w = rnd(4, 3)
    t = torch.nn.Embedding.from_pretrained(torch.tensor(w), padding_idx=1)
    c = nn.Embedding.from_pretrained(cr.tensor(w), padding_idx=1)
    assert not c.weight.requires_grad and adapt(repr(t)) == repr(c)
    np.testing.assert_array_equal(c(cr.tensor([1, 3]))._data, t(torch.tensor([1, 3])).numpy())
    c2 = nn.Embedding.from_pretrained(cr.tensor(w), freeze=False, max_norm=1.0)
    t2 = torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, max_norm=1.0)
    parity(c2, t2, [np.array([[0, 2], [2, 3]])])
    np.testing.assert_allclose(c2.weight._data, t2.weight.detach().numpy(), rtol=1e-12)


def test_embedding_padding_row_starts_at_zero():
    e = nn.Embedding(5, 4, padding_idx=3)
    assert not e.weight._data[3].any() and e.weight._data[[0, 1, 2, 4]].all()


# --------------------------------------------------------------------------- attention

MHA = [
    ({}, {}),
    ({"batch_first": True}, {}),
    ({"bias": False}, {"need_weights": False}),
    ({"kdim": 4, "vdim": 6}, {"average_attn_weights": False}),
    ({"add_bias_kv": True, "add_zero_attn": True}, {}),
    ({}, {"attn_mask": "bool"}),
    ({}, {"attn_mask": "float", "key_padding_mask": "bool"}),
    ({"batch_first": True}, {"key_padding_mask": "bool", "need_weights": False}),
    ({}, {"attn_mask": "causal", "is_causal": True}),
]


def _mha_kwargs(kw, lib, dtype, L, S, N):
    out = dict(kw)
    if kw.get("attn_mask") == "bool":
        out["attn_mask"] = lib.tensor(np.triu(np.ones((L, S), bool), 1))
    elif kw.get("attn_mask") == "float":
        out["attn_mask"] = lib.tensor(rnd(L, S, seed=5).astype(dtype))
    elif kw.get("attn_mask") == "causal":
        out["attn_mask"] = lib.tensor(np.where(np.triu(np.ones((L, S), bool), 1), -np.inf, 0.0)
                                      .astype(dtype))  # fmt: skip
    if kw.get("key_padding_mask") == "bool":
        m = np.zeros((N, S), bool)
        m[0, -1] = m[1, 0] = True
        out["key_padding_mask"] = lib.tensor(m)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ctor,kw", MHA, ids=[f"{a}{b}" for a, b in MHA])
def test_multihead_attention_matches_torch(ctor, kw, dtype):
    torch.manual_seed(0)
    c, t = twin("MultiheadAttention", 8, 2, dtype=dtype, **ctor)
    assert list(c.state_dict()) == list(t.state_dict())
    assert adapt(repr(t)) == repr(c)
    L, S, N = 3, 4 if "kdim" in ctor or "attn_mask" not in kw else 3, 2
    if kw.get("attn_mask") == "causal":
        S = L
    kd, vd = ctor.get("kdim", 8), ctor.get("vdim", 8)
    bf = ctor.get("batch_first", False)
    shape = (lambda n, s, e: (n, s, e)) if bf else (lambda n, s, e: (s, n, e))
    q, k, v = rnd(*shape(N, L, 8)), rnd(*shape(N, S, kd), seed=1), rnd(*shape(N, S, vd), seed=2)

    def call(m, q, k, v):
        lib = torch if isinstance(m, torch.nn.Module) else cr
        return m(q, k, v, **_mha_kwargs(kw, lib, dtype, L, S, N))

    parity(c, t, [q, k, v], dtype, call=call)


@pytest.mark.parametrize("train", [True, False])
def test_multihead_self_attention_and_unbatched(train):
    c, t = twin("MultiheadAttention", 6, 3)
    c.train(train), t.train(train)
    parity(c, t, [rnd(4, 2, 6)], call=lambda m, x: m(x, x, x))  # packed self-attention path
    parity(c, t, [rnd(4, 6), rnd(5, 6, seed=1)], call=lambda m, q, kv: m(q, kv, kv))


def test_multihead_attention_dropout_only_in_training():
    cr.manual_seed(0)
    m = nn.MultiheadAttention(4, 2, dropout=0.5)
    x = cr.tensor(rnd(3, 1, 4).astype(np.float32))
    a, b = m(x, x, x)[1], m(x, x, x)[1]
    assert not np.allclose(a._data, b._data)
    m.eval()
    a, b = m(x, x, x)[1], m(x, x, x)[1]
    np.testing.assert_array_equal(a._data, b._data)
    np.testing.assert_allclose(a._data.sum(-1), 1.0, rtol=1e-6)


def test_torch_state_dict_loads_into_multihead_attention():
    t = torch.nn.MultiheadAttention(8, 4, kdim=3, vdim=5)
    c = nn.MultiheadAttention(8, 4, kdim=3, vdim=5)
    sd = {k: cr.tensor(v.detach().numpy()) for k, v in t.state_dict().items()}
    assert c.load_state_dict(sd).missing_keys == []


def _masked_rows(lib, kind, dtype, L, S, N, H):
    """Masks under which some query row has no key left (issue 10, #13)."""
    kpm = np.zeros((N, S), bool)
    kpm[0] = True  # batch 0: every key padded
    am = np.zeros((L, S), bool)
    am[1] = True  # query 1: every key masked
    ninf = lambda m: lib.tensor(np.where(m, -np.inf, 0.0).astype(dtype))  # noqa: E731
    if kind == "kpm-bool":
        return {"key_padding_mask": lib.tensor(kpm)}
    if kind == "kpm-float":
        return {"key_padding_mask": ninf(kpm)}
    if kind == "mask-bool":
        return {"attn_mask": lib.tensor(am)}
    if kind == "mask-float":
        return {"attn_mask": ninf(am)}
    if kind == "mask-3d":
        m3 = np.zeros((N * H, L, S), bool)
        m3[3, 0] = True
        return {"attn_mask": lib.tensor(m3)}
    if kind == "both":  # neither masks a whole row alone
        half = np.zeros((L, S), bool)
        half[2, :2] = True
        k = np.zeros((N, S), bool)
        k[1, 2:] = True
        return {"attn_mask": lib.tensor(half), "key_padding_mask": lib.tensor(k)}
    if kind == "causal-kpm":
        causal = np.triu(np.ones((L, S), bool), 1)
        return {"attn_mask": lib.tensor(causal), "key_padding_mask": lib.tensor(kpm),
                "is_causal": True}  # fmt: skip
    raise AssertionError(kind)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize(
    "kind", ["kpm-bool", "kpm-float", "mask-bool", "mask-float", "mask-3d", "both", "causal-kpm"]
)
def test_multihead_attention_fully_masked_rows_match_torch(kind, need_weights, average,
                                                           batch_first):  # fmt: skip
    """torch's need_weights=False path is scaled_dot_product_attention, whose safe softmax
    gives 0 on a row with no key left; the weights path gives nan. Values and gradients."""
    torch.manual_seed(0)
    c, t = twin("MultiheadAttention", 4, 2, batch_first=batch_first)
    L, S, N, H = 3, 3, 2, 2
    shape = (lambda n, s: (n, s, 4)) if batch_first else (lambda n, s: (s, n, 4))

    def call(m, q, k, v):
        lib = torch if isinstance(m, torch.nn.Module) else cr
        kw = _masked_rows(lib, kind, "float64", L, S, N, H)
        return m(q, k, v, need_weights=need_weights, average_attn_weights=average, **kw)

    parity(c, t, [rnd(*shape(N, L)), rnd(*shape(N, S), seed=1), rnd(*shape(N, S), seed=2)],
           call=call)  # fmt: skip
    if not need_weights:  # the self-attention (packed projection) path too
        parity(c, t, [rnd(*shape(N, L))], call=lambda m, x: call(m, x, x, x))


# --------------------------------------------------------------------------- init


def ks(sample, cdf):
    """The one-sample Kolmogorov-Smirnov statistic."""
    x = np.sort(np.asarray(sample, float).ravel())
    n = x.size
    c = cdf(x)
    return max(np.max(np.arange(1, n + 1) / n - c), np.max(c - np.arange(n) / n))


def uniform_cdf(b):
    return lambda x: np.clip((x + b) / (2 * b), 0, 1)


def normal_cdf(std):
    return lambda x: 0.5 * (1 + np.vectorize(math.erf)(x / (std * math.sqrt(2))))


UNIFORM_INITS = [
    # (layer, args, parameter, torch's bound)
    ("Linear", (200, 150), "weight", 1 / math.sqrt(200)),
    ("Linear", (200, 3000), "bias", 1 / math.sqrt(200)),
    ("Bilinear", (30, 20, 40), "weight", 1 / math.sqrt(30)),
    ("Bilinear", (30, 20, 4000), "bias", 1 / math.sqrt(30)),
    ("Conv1d", (8, 64, 5), "weight", 1 / math.sqrt(8 * 5)),
    ("Conv2d", (4, 16, 3), "weight", 1 / math.sqrt(4 * 9)),
    ("Conv2d", (4, 3000, 3, 1, 0, 1, 2), "bias", 1 / math.sqrt(2 * 9)),
    ("ConvTranspose2d", (16, 4, 3), "weight", 1 / math.sqrt(4 * 9)),
    ("ConvTranspose1d", (6, 3000, 2), "bias", 1 / math.sqrt(3000 * 2)),
    ("MultiheadAttention", (64, 4), "in_proj_weight", math.sqrt(6 / (64 + 192))),
    ("MultiheadAttention", (64, 4), "out_proj.weight", 1 / 8),
]


@pytest.mark.parametrize("name,args,param,bound", UNIFORM_INITS,
                         ids=[f"{u[0]}-{u[2]}" for u in UNIFORM_INITS])  # fmt: skip
def test_default_init_is_torchs_uniform(name, args, param, bound):
    cr.manual_seed(0)
    w = dict(getattr(nn, name)(*args).named_parameters())[param]._data
    tw = dict(getattr(torch.nn, name)(*args).named_parameters())[param].detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(tw).max() <= bound
    assert np.abs(w).max() > 0.95 * bound  # the whole range is used
    assert ks(w, uniform_cdf(bound)) < 1.63 / math.sqrt(w.size)  # 1% level


def test_embedding_init_is_standard_normal():
    cr.manual_seed(0)
    w = nn.Embedding(1000, 10).weight._data
    assert ks(w, normal_cdf(1.0)) < 1.63 / math.sqrt(w.size)


def test_mha_bias_kv_init_is_xavier_normal():
    cr.manual_seed(0)
    ws = np.concatenate([nn.MultiheadAttention(64, 4, add_bias_kv=True).bias_k._data.ravel()
                         for _ in range(40)])  # fmt: skip
    std = math.sqrt(2 / (1 * 64 + 1 * 64))  # fans of (1, 1, 64): 64 and 64
    assert ks(ws, normal_cdf(std)) < 1.63 / math.sqrt(ws.size)


@pytest.mark.parametrize("name,args", [("BatchNorm2d", (5,)), ("LayerNorm", ((2, 3),)),
                                       ("GroupNorm", (2, 4)), ("RMSNorm", (3,)),
                                       ("MultiheadAttention", (4, 2))])  # fmt: skip
def test_deterministic_inits_equal_torch(name, args):
    t, c = getattr(torch.nn, name)(*args), getattr(nn, name)(*args)
    for k, v in t.state_dict().items():
        if "proj_weight" in k or k == "out_proj.weight":
            continue
        np.testing.assert_array_equal(c.state_dict()[k]._data, v.numpy(), err_msg=k)


def test_dtype_argument_and_parameters_are_leaves():
    m = nn.Linear(2, 3, dtype=cr.float64)
    assert m.weight.dtype == cr.float64 and m.weight.is_leaf and m.weight.requires_grad
    assert nn.Conv2d(1, 2, 3, dtype=cr.float64).bias.dtype == cr.float64


# --------------------------------------------------------------------------- errors

CTOR_ERRORS = [
    ("Conv2d", (4, 6, 3), {"groups": 0}),
    ("Conv2d", (3, 6, 3), {"groups": 2}),
    ("Conv2d", (4, 5, 3), {"groups": 2}),
    ("Conv2d", (2, 2, 3), {"padding": "full"}),
    ("Conv2d", (2, 2, 3), {"padding": "same", "stride": 2}),
    ("Conv2d", (2, 2, 3), {"padding_mode": "mirror"}),
    ("ConvTranspose2d", (2, 2, 3), {"padding_mode": "reflect"}),
    ("GroupNorm", (4, 6), {}),
    ("Dropout", (1.5,), {}),
    ("Embedding", (4, 3), {"padding_idx": 4}),
    ("Embedding", (4, 3), {"padding_idx": -5}),
    ("Hardtanh", (1.0, 1.0), {}),
    ("MultiheadAttention", (8, 3), {}),
    ("MultiheadAttention", (0, 3), {}),
    ("Unflatten", (1, 6), {}),
    ("Unflatten", (1, (2, 3.0)), {}),
]


def _set_text(msg):  # torch prints Python sets, whose order varies between runs
    return re.sub(r"\{[^}]*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))), msg)


@pytest.mark.parametrize("name,args,kw", CTOR_ERRORS, ids=[f"{e[0]}-{e[2]}" for e in CTOR_ERRORS])
def test_constructor_errors_like_torch(name, args, kw):
    with pytest.raises(Exception) as te:
        getattr(torch.nn, name)(*args, **kw)
    with pytest.raises(type(te.value)) as ce:
        getattr(nn, name)(*args, **kw)
    assert _set_text(adapt(str(te.value))) == _set_text(str(ce.value))


FORWARD_ERRORS = [
    ("BatchNorm1d", (3,), rnd(2, 3, 4, 5)),
    ("BatchNorm2d", (3,), rnd(2, 3, 4)),
    ("BatchNorm1d", (3,), rnd(1, 3)),
    ("LayerNorm", (4,), rnd(2, 3)),
    ("Linear", (4, 2), rnd(2, 3)),
    ("Conv2d", (3, 2, 3), rnd(1, 2, 5, 5)),
    ("Embedding", (3, 2), np.array([3])),
]


@pytest.mark.parametrize("name,args,x", FORWARD_ERRORS, ids=[e[0] for e in FORWARD_ERRORS])
def test_forward_errors_like_torch(name, args, x):
    c, t = twin(name, *args)
    same_error(lambda: t(torch.tensor(x)), lambda: c(cr.tensor(x)))


def test_running_stat_updates_bump_versions_like_torch():
    c, t = twin("BatchNorm1d", 3)
    before = {k: (v._version, dict(c.named_buffers())[k]._version) for k, v in t.named_buffers()}
    for step in range(2):
        c(cr.tensor(rnd(4, 3, seed=step))), t(torch.tensor(rnd(4, 3, seed=step)))
    for k, v in t.named_buffers():  # torch's kernel writes the statistics without a bump
        assert dict(c.named_buffers())[k]._version - before[k][1] == v._version - before[k][0]


def test_mismatched_mask_types_warn_like_torch():
    c, t = twin("MultiheadAttention", 4, 2)
    x, m = rnd(3, 1, 4), np.zeros((1, 3), bool)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask"):
        c(*[cr.tensor(x)] * 3, key_padding_mask=cr.tensor(m), attn_mask=cr.zeros(3, 3))


@pytest.mark.parametrize(
    "name, shape, weight",
    [("conv1d", (1, 3, 0), (3, 3, 1)), ("conv2d", (1, 3, 0, 4), (3, 3, 1, 1)),
     ("conv1d", (0, 3, 0), (3, 3, 1))],
)  # fmt: skip
def test_convolution_of_an_empty_spatial_input_as_torch(name, shape, weight):
    """torch's kernels take an empty batch or channel dim only: an empty spatial dim raises,
    naming the input as the 2-d kernel sees it."""
    out = []
    for m in (torch, cr):
        try:
            y = getattr(m.nn.functional, name)(m.ones(shape), m.ones(weight), padding=1)
            out.append(tuple(y.shape))
        except RuntimeError as e:
            out.append(str(e))
    assert out[0] == out[1]


@pytest.mark.parametrize("shape", [(1, 0), (1, 0, 3), (2, 0)])
def test_batch_norm_with_no_channels_as_torch(shape):
    """Values per channel are the batch times the spatial size (not numel / channels)."""
    out = []
    for m in (torch, cr):
        try:
            out.append(tuple(m.nn.BatchNorm1d(0, affine=False)(m.ones(shape)).shape))
        except ValueError as e:
            out.append(str(e).replace("torch.Size", "Size").replace("chainrule.Size", "Size"))
    assert out[0] == out[1]

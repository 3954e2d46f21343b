"""MultiheadAttention / F.multi_head_attention_forward against torch where the layer tests
do not reach: torch's shape and rank checks (types and messages), the mask dtype rule of
the weights path, and static_k / static_v."""

import numpy as np
import pytest
import torch
from nn_twins import copy_weights, same_error

import chainrule as cr
from chainrule import nn

L, S, N, E = 3, 4, 2, 8


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _twin(**kw):
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, 2, **kw)
    c = nn.MultiheadAttention(E, 2, **kw)
    copy_weights(c, t)
    return c, t


def _z(lib, shape, dtype="float32"):
    return lib.tensor(np.zeros(shape, dtype))


# (ctor kwargs, query/key/value shapes, extra arguments as (name, shape, dtype))
BAD = {
    "4-d query": ({}, [(L, N, 1, E), (S, N, 1, E), (S, N, 1, E)], []),
    "2-d key, 3-d query": ({}, [(L, N, E), (S, E), (S, E)], []),
    "3-d key, 2-d query": ({}, [(L, E), (S, N, E), (S, N, E)], []),
    "1-d kpm, batched": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("key_padding_mask", (S,), "bool")]),
    "2-d kpm, unbatched": ({}, [(L, E)] + [(S, E)] * 2, [("key_padding_mask", (N, S), "bool")]),
    "4-d mask": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("attn_mask", (1, 1, L, S), "bool")]),
    "unbatched 3-d mask": ({}, [(L, E)] + [(S, E)] * 2, [("attn_mask", (3, L, S), "bool")]),
    "2-d mask shape": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("attn_mask", (L, L), "bool")]),
    "3-d mask shape": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("attn_mask", (N, L, S), "bool")]),
    "kpm batch": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("key_padding_mask", (N + 1, S), "bool")]),
    "kpm length": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("key_padding_mask", (N, L), "bool")]),
    "key/value shapes": ({}, [(L, N, E), (S, N, E), (S + 1, N, E)], []),
    "key/value, kdim": ({"kdim": 5, "vdim": 6}, [(L, N, E), (S, N, 5), (S + 1, N, 6)], []),
    "embed dim": ({}, [(L, N, E - 1), (S, N, E), (S, N, E)], []),
    "integer mask": ({}, [(L, N, E)] + [(S, N, E)] * 2, [("attn_mask", (L, S), "int64")]),
    "float64 mask, weights": (
        {},
        [(L, N, E)] + [(S, N, E)] * 2,
        [("attn_mask", (L, S), "float64")],
    ),
    "float64 kpm, weights": (
        {},
        [(L, N, E)] + [(S, N, E)] * 2,
        [("key_padding_mask", (N, S), "float64")],
    ),
    "float64 mask, no weights": (
        {},
        [(L, N, E)] + [(S, N, E)] * 2,
        [("attn_mask", (L, S), "float64"), ("need_weights", False, None)],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_errors_match_torch(case):
    ctor, shapes, extra = BAD[case]
    c, t = _twin(**ctor)

    def call(m, lib):
        kw = {n: (s if d is None else _z(lib, s, d)) for n, s, d in extra}
        return lambda: m(
            *[lib.tensor(rnd(*s, seed=i).astype("float32")) for i, s in enumerate(shapes)], **kw
        )

    same_error(call(t, torch), call(c, cr))


@pytest.mark.parametrize("need_weights", [True, False])
def test_float32_mask_on_double_query_without_weights(need_weights):
    """torch's sdpa path takes a float32 mask on a float64 query; the weights path refuses."""
    c, t = _twin()
    c, t = c.double(), t.double()
    q = rnd(L, N, E)
    m = rnd(L, L, seed=3).astype("float32")
    if need_weights:
        same_error(
            lambda: t(*[torch.tensor(q)] * 3, attn_mask=torch.tensor(m)),
            lambda: c(*[cr.tensor(q)] * 3, attn_mask=cr.tensor(m)),
        )
        return
    ot = t(*[torch.tensor(q)] * 3, attn_mask=torch.tensor(m), need_weights=False)[0]
    oc = c(*[cr.tensor(q)] * 3, attn_mask=cr.tensor(m), need_weights=False)[0]
    np.testing.assert_allclose(oc._data, ot.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert oc.dtype == cr.float64


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("which", ["both", "k"])
def test_static_k_and_v(need_weights, which):
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(E, 2).double()
    arrays = [rnd(L, N, E), rnd(N * 2, 5, E // 2, seed=1), rnd(N * 2, 5, E // 2, seed=2)]
    if which == "k":
        arrays[0] = np.concatenate([arrays[0], arrays[0][:2]])  # 5 keys and values
    grads, outs = [], []
    for lib, F in ((torch, torch.nn.functional), (cr, nn.functional)):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        ps = {
            k: lib.tensor(v.detach().numpy(), requires_grad=True) for k, v in t.named_parameters()
        }
        sv = xs[2] if which == "both" else None
        o, w = F.multi_head_attention_forward(
            xs[0],
            xs[0],
            xs[0],
            E,
            2,
            ps["in_proj_weight"],
            ps["in_proj_bias"],
            None,
            None,
            False,
            0.0,
            ps["out_proj.weight"],
            ps["out_proj.bias"],
            static_k=xs[1],
            static_v=sv,
            need_weights=need_weights,
        )
        (o.sum() + (0 if w is None else w.sum())).backward()
        outs.append(np.asarray(o.detach().numpy() if lib is torch else o._data))
        grads.append(
            [
                np.asarray(x.grad.numpy() if lib is torch else x.grad._data)
                if x.grad is not None
                else None
                for x in xs[:2]
            ]
        )
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-10, atol=1e-12)
    for a, b in zip(grads[1], grads[0]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_static_k_checks_match_torch():
    t = torch.nn.MultiheadAttention(E, 2, add_bias_kv=True)
    c = nn.MultiheadAttention(E, 2, add_bias_kv=True)
    copy_weights(c, t)

    def call(m, lib, F, static, bias=True):
        q = lib.zeros(L, N, E)
        return lambda: F.multi_head_attention_forward(
            q,
            q,
            q,
            E,
            2,
            m.in_proj_weight,
            m.in_proj_bias,
            m.bias_k if bias else None,
            m.bias_v if bias else None,
            False,
            0.0,
            m.out_proj.weight,
            m.out_proj.bias,
            static_k=lib.zeros(*static),
            static_v=lib.zeros(*static),
        )

    tf, cf = torch.nn.functional, nn.functional
    same_error(call(t, torch, tf, (4, 3, 4)), call(c, cr, cf, (4, 3, 4)))
    same_error(call(t, torch, tf, (3, 3, 4), False), call(c, cr, cf, (3, 3, 4), False))
    same_error(call(t, torch, tf, (4, 3, 3), False), call(c, cr, cf, (4, 3, 3), False))


@pytest.mark.parametrize(
    "case", ["fused", "need_weights", "grad", "train", "float-mask", "not-self", "odd-heads"]
)
def test_inference_fused_kernel_as_torch(case):
    """torch's fused kernel (eval, no graph, batch first, self-attention, bool masks) gives
    nan for a query with no key left even with need_weights=False, where its reference path
    (scaled_dot_product_attention) gives 0."""
    heads = 3 if case == "odd-heads" else 2
    torch.manual_seed(0)
    t = torch.nn.MultiheadAttention(6, heads, batch_first=True)
    c = nn.MultiheadAttention(6, heads, batch_first=True)
    copy_weights(c, t)
    if case != "train":
        t.eval(), c.eval()
    x = rnd(2, 4, 6).astype("float32")
    m = np.zeros((4, 4), bool)
    m[1] = True
    outs = []
    for lib, mod in ((torch, t), (cr, c)):
        q = lib.tensor(x, requires_grad=case == "grad")
        kv = lib.tensor(x) if case == "not-self" else q
        mask = lib.tensor(np.where(m, -np.inf, 0).astype("f")) if case == "float-mask" else (
            lib.tensor(m))  # fmt: skip
        with torch.no_grad() if case != "grad" else torch.enable_grad():
            with cr.no_grad() if case != "grad" else cr.enable_grad():
                o = mod(q, kv, kv, attn_mask=mask, need_weights=case == "need_weights")[0]
        outs.append(o.detach().numpy() if lib is torch else o._data)
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    assert np.isnan(outs[0]).any() == (case in ("fused", "need_weights"))

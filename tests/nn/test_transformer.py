"""nn.Transformer, TransformerEncoder/Decoder and their layers against torch: torch's weights
loaded into chainrule's module, then outputs and the gradients of every input and parameter
(eval mode, and train mode with dropout 0) over batch_first, norm_first, activations and
every kind of mask; state_dict keys and shapes, reprs, construction warnings, init, the
causal mask, errors, torch's nested-tensor padding in inference, and a small GPT trained
with Adam, loss for loss."""

import math
import warnings

import numpy as np
import pytest
import torch
from nn_twins import copy_weights, same_error

import chainrule as cr
from chainrule import nn

D, H, FF = 8, 2, 16


def rnd(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def lib_of(m):
    return torch if isinstance(m, torch.nn.Module) else cr


def build(make, dtype="float64"):
    """``make(lib)`` in both libraries, chainrule's carrying torch's weights."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = make(torch).to(getattr(torch, dtype))
        c = make(cr).to(getattr(cr, dtype))
    assert [(k, tuple(v.shape)) for k, v in t.state_dict().items()] == [
        (k, tuple(v.shape)) for k, v in c.state_dict().items()
    ]
    res = copy_weights(c, t)
    assert not res.missing_keys and not res.unexpected_keys
    return c, t


def check(c, t, arrays, call, dtype="float64", tol=(1e-9, 1e-11)):
    """Run ``call(module, lib, *inputs)`` in both; compare the output, then the gradients of
    the float inputs and of every parameter under a random cotangent."""
    tt = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    cc = [cr.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    ot, oc = call(t, torch, *tt), call(c, cr, *cc)
    rtol, atol = tol
    np.testing.assert_allclose(oc._data, ot.detach().numpy(), rtol=rtol, atol=atol)
    assert str(oc.dtype) == str(ot.dtype).replace("torch", "chainrule")
    u = rnd(*ot.shape, seed=9).astype(dtype)
    (ot * torch.tensor(u)).sum().backward()
    (oc * cr.tensor(u)).sum().backward()
    for i, (a, b) in enumerate(zip(cc, tt)):
        np.testing.assert_allclose(
            a.grad._data, b.grad.numpy(), rtol=rtol * 5, atol=atol * 5, err_msg=f"grad of input {i}"
        )
    tp, cp = dict(t.named_parameters()), dict(c.named_parameters())
    assert list(tp) == list(cp)
    for k in tp:
        if tp[k].grad is None:
            assert cp[k].grad is None or not cp[k].grad._data.any(), k
        else:
            np.testing.assert_allclose(
                cp[k].grad._data,
                tp[k].grad.numpy(),
                rtol=rtol * 5,
                atol=atol * 5,
                err_msg=f"grad of {k}",
            )


# --------------------------------------------------------------------------- masks


def _bool(lib, m):
    return lib.tensor(np.asarray(m, bool))


def _ninf(lib, m, dtype):
    return lib.tensor(np.where(m, -np.inf, 0.0).astype(dtype))


def masks(lib, kind, L, S, N, dtype, prefix):
    """Keyword arguments of one kind of mask for queries of length L over keys of length S;
    ``prefix`` names them (``src``/``tgt``/``memory``; ``""`` for the layer's self one)."""
    causal = np.triu(np.ones((L, S), bool), 1)
    pad = np.zeros((N, S), bool)
    pad[0, -1] = True
    pad[-1, :2] = True
    am, kp, hint = f"{prefix}_mask", f"{prefix}_key_padding_mask", f"{prefix}_is_causal"
    if kind == "none":
        return {}
    if kind == "bool":
        return {am: _bool(lib, causal)}
    if kind == "float-causal":
        return {am: _ninf(lib, causal, dtype)}
    if kind == "float":
        return {am: lib.tensor(rnd(L, S, seed=5).astype(dtype))}
    if kind == "3d":
        m = np.zeros((N * H, L, S), bool)
        m[1, :, -1] = m[2, 0, :-1] = True
        return {am: _bool(lib, m)}
    if kind == "kpm-bool":
        return {kp: _bool(lib, pad)}
    if kind == "kpm-float":
        return {kp: _ninf(lib, pad, dtype)}
    if kind == "both":
        return {am: _bool(lib, causal), kp: _bool(lib, pad)}
    if kind == "hint":
        return {am: _ninf(lib, causal, dtype), hint: True}
    if kind == "wrong-hint":  # torch then attends causally, ignoring the mask
        return {am: lib.tensor(rnd(L, S, seed=5).astype(dtype)), hint: True}
    raise AssertionError(kind)


MASKS = [
    "none",
    "bool",
    "float-causal",
    "float",
    "3d",
    "kpm-bool",
    "kpm-float",
    "both",
    "hint",
    "wrong-hint",
]


def _layer_kw(kw, names):
    """Rename ``src_*`` mask arguments to a layer's parameter names."""
    return {names.get(k, k): v for k, v in kw.items()}


def _seq(bf, N, L):
    return (N, L, D) if bf else (L, N, D)


def _act(lib, name):
    if name == "module":
        return lib.nn.GELU(approximate="tanh")
    if name == "callable":
        return lib.nn.functional.silu
    return name


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", MASKS)
def test_encoder_layer(kind, batch_first, norm_first):
    mode = "train" if batch_first == norm_first else "eval"  # each kind in both modes
    c, t = build(
        lambda lib: lib.nn.TransformerEncoderLayer(
            D, H, FF, dropout=0.0, batch_first=batch_first, norm_first=norm_first
        )
    )
    c.train(mode == "train"), t.train(mode == "train")
    L, N = 4, 3
    names = {"src_is_causal": "is_causal"}

    def call(m, lib, x):
        return m(x, **_layer_kw(masks(lib, kind, L, L, N, "float64", "src"), names))

    check(c, t, [rnd(*_seq(batch_first, N, L))], call)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", MASKS)
def test_decoder_layer(kind, batch_first, norm_first):
    mode = "train" if batch_first == norm_first else "eval"  # each kind in both modes
    c, t = build(
        lambda lib: lib.nn.TransformerDecoderLayer(
            D, H, FF, dropout=0.0, activation="gelu", batch_first=batch_first, norm_first=norm_first
        )
    )
    c.train(mode == "train"), t.train(mode == "train")
    T, S, N = 4, 5, 3

    def call(m, lib, tgt, mem):
        kw = masks(lib, kind, T, T, N, "float64", "tgt")
        if kind not in ("hint", "wrong-hint"):  # memory_mask is (T, S): no causal hint
            kw.update(masks(lib, kind, T, S, N, "float64", "memory"))
        return m(tgt, mem, **kw)

    check(c, t, [rnd(*_seq(batch_first, N, T)), rnd(*_seq(batch_first, N, S), seed=1)], call)


@pytest.mark.parametrize("activation", ["relu", "gelu", "module", "callable"])
@pytest.mark.parametrize("kind", ["none", "both", "hint", "wrong-hint"])
def test_encoder_stack_with_final_norm(kind, activation):
    c, t = build(
        lambda lib: lib.nn.TransformerEncoder(
            lib.nn.TransformerEncoderLayer(
                D,
                H,
                FF,
                0.0,
                _act(lib, activation),
                batch_first=True,
                layer_norm_eps=1e-6,
                bias=activation != "gelu",
            ),
            3,
            lib.nn.LayerNorm(D),
            enable_nested_tensor=False,
        )
    )
    L, N = 5, 2
    names = {"src_mask": "mask", "src_is_causal": "is_causal"}

    def call(m, lib, x):
        return m(x, **_layer_kw(masks(lib, kind, L, L, N, "float64", "src"), names))

    check(c, t, [rnd(N, L, D)], call)


@pytest.mark.parametrize("activation", ["relu", "module", "callable"])
@pytest.mark.parametrize("kind", ["none", "bool", "float", "both", "kpm-float", "hint"])
def test_decoder_stack(kind, activation):
    c, t = build(
        lambda lib: lib.nn.TransformerDecoder(
            lib.nn.TransformerDecoderLayer(D, H, FF, 0.0, _act(lib, activation)),
            2,
            lib.nn.LayerNorm(D) if activation == "relu" else None,
        )
    )
    T, S, N = 4, 3, 2

    def call(m, lib, tgt, mem):
        kw = masks(lib, kind, T, T, N, "float64", "tgt")
        if kind != "hint":
            kw.update(masks(lib, kind, T, S, N, "float64", "memory"))
        return m(tgt, mem, **kw)

    check(c, t, [rnd(T, N, D), rnd(S, N, D, seed=1)], call)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["none", "bool", "float-causal", "both", "kpm-bool", "hint"])
def test_transformer(kind, batch_first, norm_first):
    c, t = build(
        lambda lib: lib.nn.Transformer(
            D, H, 2, 2, FF, 0.0, batch_first=batch_first, norm_first=norm_first
        )
    )
    c.train(), t.train()
    S, T, N = 5, 4, 3

    def call(m, lib, src, tgt):
        kw = masks(lib, kind, S, S, N, "float64", "src")
        kw.update(masks(lib, kind, T, T, N, "float64", "tgt"))
        if kind != "hint":
            kw.update(masks(lib, kind, T, S, N, "float64", "memory"))
        return m(src, tgt, **kw)

    check(c, t, [rnd(*_seq(batch_first, N, S)), rnd(*_seq(batch_first, N, T), seed=1)], call)


def test_transformer_float32_and_no_bias():
    c, t = build(
        lambda lib: lib.nn.Transformer(D, H, 1, 2, FF, 0.0, activation="gelu", bias=False),
        "float32",
    )
    assert c.encoder.layers[0].self_attn.in_proj_bias is None
    assert c.decoder.norm.bias is None

    def call(m, lib, src, tgt):
        mask = lib.nn.Transformer.generate_square_subsequent_mask(4)
        return m(src, tgt, tgt_mask=mask)

    check(c, t, [rnd(5, 2, D), rnd(4, 2, D, seed=1)], call, "float32", (2e-4, 2e-5))


@pytest.mark.parametrize("batch_first", [False, True])
def test_unbatched_inputs(batch_first):
    """2-D inputs (S, E); batch_first is ignored; key padding masks of shape (S,)."""
    c, t = build(lambda lib: lib.nn.Transformer(D, H, 1, 1, FF, 0.0, batch_first=batch_first))
    S, T = 5, 4

    def call(m, lib, src, tgt):
        pad = np.zeros(S, bool)
        pad[-2:] = True
        return m(
            src,
            tgt,
            src_key_padding_mask=lib.tensor(pad),
            memory_key_padding_mask=lib.tensor(pad),
            tgt_mask=lib.nn.Transformer.generate_square_subsequent_mask(T).double(),
        )

    check(c, t, [rnd(S, D), rnd(T, D, seed=1)], call)


def test_custom_encoder_and_decoder():
    def make(lib):
        enc = lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(D, H, FF, 0.0), 1)
        dec = lib.nn.TransformerDecoder(lib.nn.TransformerDecoderLayer(D, H, 4, 0.0), 3)
        return lib.nn.Transformer(D, H, custom_encoder=enc, custom_decoder=dec, dropout=0.0)

    c, t = build(make)
    assert c.encoder.norm is None and len(c.decoder.layers) == 3
    check(c, t, [rnd(3, 2, D), rnd(2, 2, D, seed=1)], lambda m, lib, s, g: m(s, g))


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    "make",
    [
        lambda lib: lib.nn.TransformerEncoderLayer(D, H),
        lambda lib: lib.nn.TransformerEncoderLayer(D, H, activation=lib.nn.ReLU(), bias=False),
        lambda lib: lib.nn.TransformerDecoderLayer(D, H, 32, norm_first=True, batch_first=True),
        lambda lib: lib.nn.TransformerEncoder(lib.nn.TransformerEncoderLayer(D, H), 2),
        lambda lib: lib.nn.TransformerDecoder(
            lib.nn.TransformerDecoderLayer(D, H), 2, lib.nn.LayerNorm(D)
        ),
        lambda lib: lib.nn.Transformer(D, H, 2, 1, 32),
        lambda lib: lib.nn.Transformer(D, H, 1, 1, 32, activation=lib.nn.GELU(), bias=False),
    ],
    ids=[
        "enc-layer",
        "enc-layer-relu-module",
        "dec-layer",
        "encoder",
        "decoder",
        "transformer",
        "transformer-gelu-module",
    ],
)
def test_state_dict_repr_and_attributes(make):
    c, t = build(make)
    assert repr(c) == repr(t)
    assert [(k, tuple(v.shape)) for k, v in c.named_parameters()] == [
        (k, tuple(v.shape)) for k, v in t.named_parameters()
    ]
    for name in (
        "norm_first",
        "activation_relu_or_gelu",
        "num_layers",
        "d_model",
        "nhead",
        "batch_first",
        "enable_nested_tensor",
        "use_nested_tensor",
        "mask_check",
    ):
        assert hasattr(c, name) == hasattr(t, name), name  # noqa: B009
        if hasattr(t, name):
            assert getattr(c, name) == getattr(t, name), name


def _warned(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        fn()
    return [(x.category, str(x.message)) for x in w]


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"batch_first": True},
        {"batch_first": True, "norm_first": True},
        {"batch_first": True, "bias": False},
        {"batch_first": True, "activation": "silu"},
        {"batch_first": True, "nhead": 1},
        {"batch_first": True, "nested": False},
    ],
    ids=str,
)
def test_encoder_construction_warnings(kw):
    """torch warns when enable_nested_tensor cannot be honoured, saying why."""
    kw = dict(kw)
    nested = kw.pop("nested", True)
    nhead = kw.pop("nhead", H)

    def make(lib):
        act = kw.get("activation")
        rest = {k: v for k, v in kw.items() if k != "activation"}
        if act == "silu":
            rest["activation"] = lib.nn.functional.silu
        layer = lib.nn.TransformerEncoderLayer(D, nhead, FF, **rest)
        return lambda: lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=nested)

    assert _warned(make(cr)) == _warned(make(torch))
    if nested:
        assert _warned(lambda: nn.Transformer(D, H, 1, 1)) == _warned(
            lambda: torch.nn.Transformer(D, H, 1, 1)
        )


def test_clones_are_deep_copies():
    layer = nn.TransformerEncoderLayer(D, H, FF)
    enc = nn.TransformerEncoder(layer, 3, enable_nested_tensor=False)
    ws = [m.linear1.weight for m in enc.layers]
    assert all(w is not layer.linear1.weight for w in ws)
    assert len({id(w) for w in ws}) == 3
    for w in ws:
        np.testing.assert_array_equal(w._data, layer.linear1.weight._data)
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))


def test_transformer_init_is_xavier_uniform():
    """Every parameter of more than one dimension is xavier_uniform_; the rest keep their
    layer's init (biases of in_proj zero, LayerNorm ones and zeros, Linear biases uniform)."""
    cr.manual_seed(0)
    m = nn.Transformer(64, 4, 1, 1, 128)
    for name, p in m.named_parameters():
        w = p._data
        if w.ndim > 1:
            bound = math.sqrt(6 / sum(w.shape[:2]))
            assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound, name
            x = np.sort(w.ravel())
            cdf = np.clip((x + bound) / (2 * bound), 0, 1)
            n = x.size
            ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
            assert ks < 1.63 / math.sqrt(n), name
        elif "in_proj_bias" in name or "out_proj.bias" in name or "norm" in name and "bias" in name:
            assert not w.any(), name
        elif "norm" in name:
            np.testing.assert_array_equal(w, 1.0)
        else:  # Linear's bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
            fan_in = 64 if "linear1" in name else 128
            assert 0 < np.abs(w).max() <= 1 / math.sqrt(fan_in), name


@pytest.mark.parametrize("args", [(1,), (4,), (3, None, "float64"), (0,)])
def test_generate_square_subsequent_mask(args):
    sz, *rest = args
    kw = {"dtype": getattr(torch, rest[1])} if len(rest) > 1 else {}
    ckw = {"dtype": getattr(cr, rest[1])} if len(rest) > 1 else {}
    t = torch.nn.Transformer.generate_square_subsequent_mask(sz, **kw)
    c = nn.Transformer.generate_square_subsequent_mask(sz, **ckw)
    np.testing.assert_array_equal(c._data, t.numpy())
    assert str(c.dtype) == str(t.dtype).replace("torch", "chainrule")
    assert not c.requires_grad
    m = nn.Transformer(D, H, 1, 1, FF)
    np.testing.assert_array_equal(
        m.generate_square_subsequent_mask(sz)._data,
        torch.nn.Transformer.generate_square_subsequent_mask(sz).numpy(),
    )


# --------------------------------------------------------------------------- errors


def test_errors_match_torch():
    same_error(
        lambda: torch.nn.TransformerEncoderLayer(D, H, activation="tanh"),
        lambda: nn.TransformerEncoderLayer(D, H, activation="tanh"),
    )
    same_error(
        lambda: torch.nn.TransformerDecoderLayer(D, H, activation="swish"),
        lambda: nn.TransformerDecoderLayer(D, H, activation="swish"),
    )
    same_error(
        lambda: torch.nn.TransformerEncoderLayer(D, 3), lambda: nn.TransformerEncoderLayer(D, 3)
    )
    tm, cm = torch.nn.Transformer(D, H, 1, 1, FF), nn.Transformer(D, H, 1, 1, FF)
    for src, tgt in [((5, 2, D), (4, 3, D)), ((5, 2, D), (4, 2, D + 1)), ((5, D - 1), (4, D))]:
        same_error(
            lambda s=src, g=tgt: tm(torch.zeros(s), torch.zeros(g)),
            lambda s=src, g=tgt: cm(cr.zeros(s), cr.zeros(g)),
        )
    tb, cb = (
        torch.nn.Transformer(D, H, 1, 1, FF, batch_first=True),
        nn.Transformer(D, H, 1, 1, FF, batch_first=True),
    )
    same_error(
        lambda: tb(torch.zeros(2, 5, D), torch.zeros(3, 5, D)),
        lambda: cb(cr.zeros(2, 5, D), cr.zeros(3, 5, D)),
    )
    tl, cl = torch.nn.TransformerEncoderLayer(D, H, FF), nn.TransformerEncoderLayer(D, H, FF)
    # the causal hint without a mask; an integer mask
    same_error(
        lambda: tl(torch.zeros(3, 2, D), is_causal=True),
        lambda: cl(cr.zeros(3, 2, D), is_causal=True),
    )
    same_error(
        lambda: tl(torch.zeros(3, 2, D), src_mask=torch.zeros(3, 3, dtype=torch.long)),
        lambda: cl(cr.zeros(3, 2, D), src_mask=cr.zeros(3, 3, dtype=cr.long)),
    )
    same_error(
        lambda: tl(torch.zeros(3, 2, D), src_mask=torch.zeros(2, 3)),
        lambda: cl(cr.zeros(3, 2, D), src_mask=cr.zeros(2, 3)),
    )


def test_mismatched_mask_types_warn_as_torch():
    tl, cl = torch.nn.TransformerEncoderLayer(D, H, FF), nn.TransformerEncoderLayer(D, H, FF)
    kt = {"src_mask": torch.zeros(3, 3), "src_key_padding_mask": torch.zeros(2, 3, dtype=bool)}
    kc = {"src_mask": cr.zeros(3, 3), "src_key_padding_mask": cr.zeros(2, 3, dtype=cr.bool)}
    wt = _warned(lambda: tl(torch.zeros(3, 2, D), **kt))
    wc = _warned(lambda: cl(cr.zeros(3, 2, D), **kc))
    assert wt == wc and len(wt) == 1


# --------------------------------------------------------------------------- dropout, modes


def test_dropout_only_in_training():
    cr.manual_seed(0)
    m = nn.TransformerEncoderLayer(D, H, FF, dropout=0.5)
    x = cr.tensor(rnd(4, 2, D).astype(np.float32))
    assert not np.allclose(m(x)._data, m(x)._data)
    m.eval()
    np.testing.assert_array_equal(m(x)._data, m(x)._data)


@pytest.mark.parametrize(
    "case",
    [
        "no_grad",
        "grad",
        "train",
        "unaligned",
        "mask_check_off",
        "with_mask",
        "not_batch_first",
        "float-kpm",
    ],
)
def test_encoder_inference_padding_as_torch(case):
    """In eval mode without a graph, torch's batch-first encoder runs a left-aligned padded
    batch as nested tensors: padded positions come out 0 (then the final norm)."""
    bf = case != "not_batch_first"

    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(D, H, FF, dropout=0.0, batch_first=bf)
        return lib.nn.TransformerEncoder(
            layer, 2, lib.nn.LayerNorm(D), mask_check=case != "mask_check_off"
        )

    c, t = build(make)
    if case != "train":
        c.eval(), t.eval()
    N, L = 3, 5
    pad = np.zeros((N, L), bool)
    pad[0, -1] = True
    pad[1, 2:] = True
    if case in ("unaligned", "mask_check_off"):
        pad[2, 0] = True
    x = rnd(N, L, D) if bf else rnd(L, N, D)
    outs = []
    for lib, m in ((torch, t), (cr, c)):
        kw = {"src_key_padding_mask": lib.tensor(pad)}
        if case == "float-kpm":  # any nonzero entry pads, here -1 (not -inf)
            kw["src_key_padding_mask"] = lib.tensor(np.where(pad, -1.0, 0.0))
        if case == "with_mask":
            kw["mask"] = lib.nn.Transformer.generate_square_subsequent_mask(L).double()
        xi = lib.tensor(x, requires_grad=case == "grad")
        if case in ("grad", "train"):
            out = m(xi, **kw)
        else:
            with lib.no_grad():
                out = m(xi, **kw)
        outs.append(out.detach().numpy() if lib is torch else out._data)
    if case != "mask_check_off":  # torch reads an unchecked, unaligned mask as it lies
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- a tiny GPT


def _gpt(lib, vocab, block, norm_first):
    nn_ = lib.nn

    class GPT(nn_.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn_.Embedding(vocab, D)
            self.pos = nn_.Parameter(lib.zeros(1, block, D))
            layer = nn_.TransformerEncoderLayer(
                D, H, FF, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first
            )
            self.blocks = nn_.TransformerEncoder(layer, 2, nn_.LayerNorm(D))
            self.head = nn_.Linear(D, vocab)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.tok(idx) + self.pos[:, :T]
            mask = nn_.Transformer.generate_square_subsequent_mask(T)
            x = self.blocks(x, mask=mask, is_causal=True)
            return self.head(x)

    return GPT()


@pytest.mark.parametrize("norm_first", [False, True])
def test_tiny_gpt_trains_as_torch(norm_first):
    vocab, block, B = 11, 6, 4
    c, t = build(lambda lib: _gpt(lib, vocab, block, norm_first), "float32")
    c.train(), t.train()
    data = np.random.default_rng(0).integers(0, vocab, (B, block + 1))
    ot = torch.optim.Adam(t.parameters(), lr=3e-3)
    oc = cr.optim.Adam(c.parameters(), lr=3e-3)
    for step in range(6):
        losses = []
        for lib, m, opt in ((torch, t, ot), (cr, c, oc)):
            x, y = lib.tensor(data[:, :-1]), lib.tensor(data[:, 1:])
            logits = m(x)
            loss = lib.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6), step
    for k, v in t.state_dict().items():
        ours, theirs = c.state_dict()[k]._data, v.numpy()
        if k.endswith("in_proj_bias"):  # the key bias's gradient is 0 but for rounding, which
            ours, theirs = (
                ours[[*range(D), *range(2 * D, 3 * D)]],
                theirs[  # Adam scales up
                    [*range(D), *range(2 * D, 3 * D)]
                ],
            )
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5, err_msg=k)


def test_decoder_clones_with_a_module_activation_use_relu_as_torch():
    """torch's TransformerDecoderLayer.__setstate__ gives a deep copy whose activation is a
    Module (kept in _modules) an instance attribute F.relu, which its forward then uses."""
    c, t = build(
        lambda lib: lib.nn.TransformerDecoder(
            lib.nn.TransformerDecoderLayer(D, H, FF, 0.0, lib.nn.Tanh()), 1
        )
    )
    assert c.layers[0].activation is nn.functional.relu
    assert t.layers[0].activation is torch.nn.functional.relu
    assert "(activation): Tanh()" in repr(c) and repr(c) == repr(t)
    check(c, t, [rnd(3, 2, D), rnd(4, 2, D, seed=1)], lambda m, lib, x, y: m(x, y))
    layer = nn.TransformerEncoderLayer(D, H, FF, 0.0, nn.Tanh())  # the encoder keeps its own
    assert isinstance(nn.TransformerEncoder(layer, 1).layers[0].activation, nn.Tanh)


FUSED = ["kpm-full-row", "mask-full-row", "nonzero-float", "causal-no-mask", "both", "plain"]


@pytest.mark.parametrize("hook", [False, True])
@pytest.mark.parametrize("stack", [False, True])
@pytest.mark.parametrize("kind", FUSED)
def test_inference_fused_kernel_as_torch(kind, stack, hook):
    """In eval mode without a graph, torch's batch-first encoder layer runs a fused kernel: a
    mask entry masks wherever it is nonzero, a query with no key left gives nan, the causal
    hint is ignored. A forward hook on the layer keeps torch on the reference path."""

    def make(lib):
        layer = lib.nn.TransformerEncoderLayer(D, H, FF, batch_first=True, activation="gelu")
        return lib.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False) if stack else layer

    c, t = build(make, "float32")
    c.eval(), t.eval()
    if hook:
        for m in (c, t):
            (m.layers[0] if stack else m).register_forward_hook(lambda *a: None)
    L, N = 4, 3
    pad = np.zeros((N, L), bool)
    pad[1], pad[0, 3] = True, True
    full = np.zeros((L, L), bool)
    full[2] = True
    x = rnd(N, L, D).astype(np.float32)
    outs = []
    for lib, m in ((torch, t), (cr, c)):
        am = "mask" if stack else "src_mask"
        kw = {}
        if kind == "kpm-full-row":
            kw["src_key_padding_mask"] = lib.tensor(pad)
        elif kind == "mask-full-row":
            kw[am] = lib.tensor(full)
        elif kind == "nonzero-float":  # 0.3 masks as -inf would
            kw[am] = lib.tensor(np.where(np.triu(np.ones((L, L)), 1) > 0, 0.3, 0.0).astype("f"))
        elif kind == "causal-no-mask":
            kw["is_causal"] = True
        elif kind == "both":
            kw[am] = lib.tensor(np.triu(np.ones((L, L), bool), 1))
            kw["src_key_padding_mask"] = lib.tensor(np.eye(N, L, k=1, dtype=bool))
        with lib.no_grad():
            try:
                out = m(lib.tensor(x), **kw)
            except RuntimeError as e:
                outs.append(str(e))
                continue
        outs.append(out.numpy() if lib is torch else out._data)
    if isinstance(outs[0], str):
        assert outs[1] == outs[0]
        return
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-5)  # nan where torch's

"""Layers and losses given tensors of different dtypes: torch refuses most mixes (with its
exception type and message, in its order of checks) and chainrule must not silently
promote them; the mixes torch takes are computed as torch (values, dtype, gradients).
Each case runs the same program in both libraries. Issue 10, fuzzer findings
"missing-error"."""

import itertools

import numpy as np
import pytest
import torch
from nn_twins import same_error

import chainrule as cr

F32, F64, F16, I64 = "float32", "float64", "float16", "int64"
D = (F32, F64)


def run(lib, build):
    """``build(lib, t)`` with ``t(shape, dtype, grad=True)`` making a fixed tensor (None for
    a None dtype); the output, and the gradients of the tensors made with grad=True."""
    leaves = []

    def t(shape, dtype=F32, grad=True, scale=0.6):
        if dtype is None:
            return None
        n = int(np.prod(shape))
        a = (np.arange(n).reshape(shape) % 5 - 1.7) * scale
        x = lib.tensor(a.astype(dtype))
        if grad and dtype != I64:
            x.requires_grad_()
            leaves.append(x)
        return x

    out = build(lib, t)
    if leaves and out.requires_grad:
        u = np.cos(np.arange(out.numel())).reshape(tuple(out.shape))
        (out * lib.tensor(u.astype(str(out.dtype).split(".")[-1]))).sum().backward()
    return out, [x.grad for x in leaves]


def check(build):
    """Either both refuse (same type and message) or both give the same results."""
    try:
        ot, gt = run(torch, build)
    except Exception:
        same_error(lambda: run(torch, build), lambda: run(cr, build))
        return
    oc, gc = run(cr, build)
    assert str(oc.dtype).split(".")[-1] == str(ot.dtype).split(".")[-1]
    tol = (
        {"rtol": 2e-3, "atol": 2e-3} if ot.dtype == torch.float16 else {"rtol": 1e-4, "atol": 1e-6}
    )
    np.testing.assert_allclose(oc._data.astype(float), ot.detach().double().numpy(), **tol)
    for a, b in zip(gc, gt):
        assert (a is None) == (b is None)
        if b is not None:
            assert str(a.dtype).split(".")[-1] == str(b.dtype).split(".")[-1]
            np.testing.assert_allclose(a._data.astype(float), b.double().numpy(), **tol)


TRIPLES = list(itertools.product(D, D, (*D, None)))


@pytest.mark.parametrize("nd", [1, 2])
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "conv_transpose"])
@pytest.mark.parametrize("dx,dw,db", TRIPLES)
def test_conv(nd, transposed, dx, dw, db):
    def build(m, t):
        x = t((1, 2) + (4,) * nd, dx)
        if transposed:
            f = getattr(m.nn.functional, f"conv_transpose{nd}d")
            return f(x, t((2, 3) + (2,) * nd, dw), t((3,), db))
        return getattr(m.nn.functional, f"conv{nd}d")(x, t((3, 2) + (2,) * nd, dw), t((3,), db))

    check(build)


CONV_ORDER = {  # a dtype mix and a wrong shape together: which one torch tells first
    "bias-before-channels": lambda m, t: m.nn.functional.conv1d(
        t((1, 2, 4)), t((3, 5, 2)), t((3,), F64)
    ),
    "bias-before-bias-size": lambda m, t: m.nn.functional.conv1d(
        t((1, 2, 4)), t((3, 2, 2)), t((4,), F64)
    ),
    "channels-before-weight": lambda m, t: m.nn.functional.conv1d(t((1, 2, 4)), t((3, 5, 2), F64)),
    "transposed-channels-before-weight": lambda m, t: m.nn.functional.conv_transpose1d(
        t((1, 2, 4)), t((5, 3, 2), F64)
    ),
}


@pytest.mark.parametrize("name", CONV_ORDER)
def test_conv_check_order(name):
    check(CONV_ORDER[name])


def test_conv_module_under_float64_default():
    """The issue's repro: a Conv1d made under a float64 default, given a float32 input."""

    def build(m, t):
        m.set_default_dtype(m.float64)
        try:
            return m.nn.Conv1d(1, 3, 2)(m.tensor([[1.0, 1.0]], dtype=m.float32))
        finally:
            m.set_default_dtype(m.float32)

    same_error(lambda: build(torch, None), lambda: build(cr, None))


AFFINE = list(itertools.product(D, (*D, None), (*D, None)))


@pytest.mark.parametrize("dx,dw,db", AFFINE)
def test_layer_norm(dx, dw, db):
    check(lambda m, t: m.nn.functional.layer_norm(t((2, 3), dx), (3,), t((3,), dw), t((3,), db)))


@pytest.mark.parametrize("dx,dw,db", [c for c in AFFINE if c[1:] != (None, c[0])])
def test_group_norm(dx, dw, db):
    """(torch's backward of a bias without a weight fails: "tensor does not have a device")"""
    check(lambda m, t: m.nn.functional.group_norm(t((2, 3, 2), dx), 3, t((3,), dw), t((3,), db)))


HALF = [(F32, F32), (F32, None), (None, F32), (F16, F32), (F32, F16), (F16, F16), (F64, None)]


@pytest.mark.parametrize("dw,db", HALF)
@pytest.mark.parametrize("fn", ["layer_norm", "group_norm"])
def test_norm_half_input(fn, dw, db):
    """A float16 input takes float32 parameters (a float16 result), and nothing else mixed.
    (Without a weight, torch's backward fails: "expected scalar type Half but found Float";
    that case is compared forward only.)"""
    grad = dw is not None

    def build(m, t):
        x, w, b = t((2, 3), F16, grad), t((3,), dw), t((3,), db, grad)
        if fn == "layer_norm":
            return m.nn.functional.layer_norm(x, (3,), w, b)
        return m.nn.functional.group_norm(x, 3, w, b)

    check(build)


NORM_ORDER = {
    "ln-shape-before-dtype": lambda m, t: m.nn.functional.layer_norm(
        t((2, 3)), (3,), t((3,)), t((4,), F64)
    ),
    "gn-groups-before-dtype": lambda m, t: m.nn.functional.group_norm(
        t((2, 3, 2)), 2, t((3,), F64)
    ),
}


@pytest.mark.parametrize("name", NORM_ORDER)
def test_norm_check_order(name):
    check(NORM_ORDER[name])


@pytest.mark.parametrize("default", [F32, F64])
@pytest.mark.parametrize("dx", D)
def test_layer_norm_module(default, dx):
    """The issue's repros: LayerNorm's parameters in the default dtype, another input."""

    def build(m, t):
        m.set_default_dtype(getattr(m, default))
        try:
            mod = m.nn.LayerNorm((3,))
        finally:
            m.set_default_dtype(m.float32)
        return mod(t((2, 3), dx))

    check(build)


@pytest.mark.parametrize("dx,dw,db", AFFINE)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm(dx, dw, db, training):
    check(
        lambda m, t: m.nn.functional.batch_norm(
            t((2, 3), dx), t((3,), dx, grad=False), t((3,), dx, grad=False).abs(),
            t((3,), dw), t((3,), db), training=training,
        )
    )  # fmt: skip


@pytest.mark.parametrize("dx,dw", list(itertools.product(D, (*D, None))))
def test_rms_norm(dx, dw):
    check(lambda m, t: m.nn.functional.rms_norm(t((2, 3), dx), (3,), t((3,), dw)))


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 2, 3)])
@pytest.mark.parametrize("dx,dw,db", TRIPLES)
def test_linear(shape, dx, dw, db):
    check(lambda m, t: m.nn.functional.linear(t(shape, dx), t((4, 3), dw), t((4,), db)))


@pytest.mark.parametrize("d1,d2,dw,db", list(itertools.product(D, D, D, (*D, None))))
def test_bilinear(d1, d2, dw, db):
    check(
        lambda m, t: m.nn.functional.bilinear(
            t((2, 3), d1), t((2, 5), d2), t((4, 3, 5), dw), t((4,), db)
        )
    )


def test_bilinear_dtype_before_shapes():
    check(lambda m, t: m.nn.functional.bilinear(t((2, 3)), t((2, 5)), t((4, 3, 6), F64)))


@pytest.mark.parametrize("di", [I64, F64])
def test_embedding_indices(di):
    check(lambda m, t: m.nn.functional.embedding(t((2,), di, grad=False).abs(), t((5, 2))))


@pytest.mark.parametrize("dm,dq,dkv", list(itertools.product(D, D, D)))
def test_multihead_attention(dm, dq, dkv):
    def build(m, t):
        mod = m.nn.MultiheadAttention(4, 2, dtype=getattr(m, dm))
        with m.no_grad():
            for i, (_, p) in enumerate(sorted(mod.named_parameters())):
                p.copy_(m.tensor(np.cos(np.arange(p.numel()) + i).reshape(tuple(p.shape))))
        q = t((3, 1, 4), dq)
        return mod(q, t((3, 1, 4), dkv), t((3, 1, 4), dkv))[0]

    check(build)


@pytest.mark.parametrize("dx,dt", list(itertools.product(D, D)))
@pytest.mark.parametrize(
    "loss", ["mse_loss", "l1_loss", "smooth_l1_loss", "kl_div", "binary_cross_entropy_with_logits"]
)
def test_pointwise_losses(loss, dx, dt):
    """(binary_cross_entropy_with_logits: in the target's dtype)"""
    check(lambda m, t: getattr(m.nn.functional, loss)(t((2, 3), dx), t((2, 3), dt)))


@pytest.mark.parametrize("dx,dt", list(itertools.product(D, D)))
@pytest.mark.parametrize("dw", [*D, None])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_huber_loss(dx, dt, dw, reduction):
    """In the input's dtype (torch's backward then refuses a mixed target: only the forward
    is compared), promoted with a weight."""
    check(
        lambda m, t: m.nn.functional.huber_loss(
            t((2, 3), dx, dx == dt), t((2, 3), dt, dx == dt), reduction, weight=t((2, 3), dw, False)
        )
    )


@pytest.mark.parametrize("dx,dt,dw", list(itertools.product(D, D, D)))
@pytest.mark.parametrize("which", ["weight", "pos_weight"])
def test_binary_cross_entropy_with_logits_weights(dx, dt, dw, which):
    check(
        lambda m, t: m.nn.functional.binary_cross_entropy_with_logits(
            t((2, 3), dx), t((2, 3), dt).sigmoid(), **{which: t((3,), dw, False)}
        )
    )


@pytest.mark.parametrize("dx,dt", list(itertools.product(D, D)))
def test_binary_cross_entropy(dx, dt):
    check(
        lambda m, t: m.nn.functional.binary_cross_entropy(
            t((2, 3), dx).sigmoid(), t((2, 3), dt).sigmoid()
        )
    )


@pytest.mark.parametrize("dx,dw", list(itertools.product(D, D)))
def test_binary_cross_entropy_weight(dx, dw):
    check(
        lambda m, t: m.nn.functional.binary_cross_entropy(
            t((2, 3), dx).sigmoid(), t((2, 3), dx, grad=False).sigmoid(), weight=t((3,), dw, False)
        )
    )


def test_binary_cross_entropy_shape_before_dtype():
    check(
        lambda m, t: m.nn.functional.binary_cross_entropy(
            t((2, 3)).sigmoid(), t((2, 4), F64).sigmoid()
        )
    )


CLASS = {
    "nll": lambda m, t, w, **kw: m.nn.functional.nll_loss(
        t((2, 3), kw.pop("dx")), m.tensor([0, 1]), weight=w, **kw
    ),
    "cross_entropy": lambda m, t, w, **kw: m.nn.functional.cross_entropy(
        t((2, 3), kw.pop("dx")), m.tensor([0, 1]), weight=w, **kw
    ),
    "cross_entropy-smoothing": lambda m, t, w, **kw: m.nn.functional.cross_entropy(
        t((2, 3), kw.pop("dx")), m.tensor([0, 1]), weight=w, label_smoothing=0.1, **kw
    ),
    "cross_entropy-probabilities": lambda m, t, w, **kw: m.nn.functional.cross_entropy(
        t((2, 3), kw.pop("dx")), t((2, 3), F32, grad=False).softmax(1), weight=w, **kw
    ),
    "nll-1d": lambda m, t, w, **kw: m.nn.functional.nll_loss(
        t((3,), kw.pop("dx")), m.tensor(0), weight=w, **kw
    ),
    "nll-4d": lambda m, t, w, **kw: m.nn.functional.nll_loss(
        t((2, 3, 2, 2), kw.pop("dx")), m.zeros(2, 2, 2, dtype=m.long), weight=w, **kw
    ),
}


@pytest.mark.parametrize("dx,dw", list(itertools.product(D, D)))
@pytest.mark.parametrize("name", CLASS)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_class_weight(name, dx, dw, reduction):
    check(lambda m, t: CLASS[name](m, t, t((3,), dw, grad=False), dx=dx, reduction=reduction))


CLASS_ORDER = {
    "weight-size-before-dtype": lambda m, t: m.nn.functional.nll_loss(
        t((2, 3)), m.tensor([0, 1]), weight=t((4,), F64, grad=False)
    ),
    "dtype-before-target-range": lambda m, t: m.nn.functional.nll_loss(
        t((2, 3)), m.tensor([0, 5]), weight=t((3,), F64, grad=False)
    ),
    "ce-weight-size-before-dtype": lambda m, t: m.nn.functional.cross_entropy(
        t((2, 3)), m.tensor([0, 1]), weight=t((4,), F64, grad=False)
    ),
}


@pytest.mark.parametrize("name", CLASS_ORDER)
def test_class_weight_check_order(name):
    check(CLASS_ORDER[name])


# ------------------------------------------------ dtypes the kernels refuse (not promoted)


def _ones(m, shape, dtype):
    return m.ones(*shape, dtype=getattr(m, dtype))


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8", "complex64"])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("fn", ["layer_norm", "group_norm"])
def test_norm_input_dtype(fn, affine, dtype):
    def build(m, t):
        w = m.ones(3) if affine else None
        if fn == "layer_norm":
            return m.nn.functional.layer_norm(_ones(m, (2, 3), dtype), (3,), w)
        return m.nn.functional.group_norm(_ones(m, (2, 3), dtype), 3, w)

    check(build)


@pytest.mark.parametrize("dtype", ["int64", "int32", "bool", "uint8", "complex64"])
@pytest.mark.parametrize("dx", D)
def test_binary_cross_entropy_with_logits_target_dtype(dx, dtype):
    check(
        lambda m, t: m.nn.functional.binary_cross_entropy_with_logits(
            t((2, 3), dx, False), _ones(m, (2, 3), dtype)
        )
    )


COMPLEX = {
    "relu": lambda m, x: m.relu(x),
    "relu_": lambda m, x: x.relu_(),
    "F.relu-inplace": lambda m, x: m.nn.functional.relu(x, inplace=True),
    "relu6": lambda m, x: m.nn.functional.relu6(x),
    "ReLU6": lambda m, x: m.nn.ReLU6()(x),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x),
    "hardtanh_": lambda m, x: m.nn.functional.hardtanh_(x),
    "clamp": lambda m, x: m.clamp(x, 0, 1),
    "clamp-tensor": lambda m, x: m.clamp(x, m.zeros(2, dtype=m.complex64)),
    "clamp_min": lambda m, x: m.clamp_min(x, 0),
    "clip": lambda m, x: m.clip(x, max=1),
    "clamp_": lambda m, x: x.clamp_(0),
    "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x),
    "leaky_relu_": lambda m, x: m.nn.functional.leaky_relu_(x),
    "elu": lambda m, x: m.nn.functional.elu(x),
    "elu_": lambda m, x: m.nn.functional.elu_(x),
    "gelu": lambda m, x: m.nn.functional.gelu(x),
    "softplus": lambda m, x: m.nn.functional.softplus(x),
    "mish": lambda m, x: m.nn.functional.mish(x),
    "logsigmoid": lambda m, x: m.nn.functional.logsigmoid(x),
    "silu": lambda m, x: m.nn.functional.silu(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
}


@pytest.mark.parametrize("name", COMPLEX)
def test_complex_activations(name):
    """torch's kernels of these take no complex input (silu and sigmoid do: values
    compared, real and imaginary parts)."""

    def go(m):
        return COMPLEX[name](m, m.tensor([1 + 2j, -1 - 1j, 0.5 - 3j], dtype=m.complex64))

    try:
        ot = go(torch)
    except Exception:
        same_error(lambda: go(torch), lambda: go(cr))
        return
    oc = go(cr)
    assert str(oc.dtype) == "chainrule.complex64"
    np.testing.assert_allclose(oc._data, ot.numpy(), rtol=1e-5)

"""float16 and bfloat16 (issue 13, "half precision"), checked against torch run on the same
inputs: the dtypes' properties and finfo, torch's promotion table, casts and creation,
printing, ops computed as torch's CPU kernels compute them (float32 inside, one rounding),
gradients in each tensor's dtype, the ops torch refuses for these dtypes, a bf16 training
step, safetensors files bit for bit, and CPU autocast with torch's op lists."""

import math
import pickle
import warnings

import numpy as np
import pytest
import safetensors.torch
import torch
import torch.nn.functional as TF

import chainrule as cr
import chainrule.nn.functional as CF

PAIRS = [(cr.float16, torch.float16), (cr.bfloat16, torch.bfloat16)]
IDS = ["float16", "bfloat16"]
# torch.testing's default tolerances for these dtypes
TOL = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5)}

ALL = [
    (cr.bool, torch.bool), (cr.uint8, torch.uint8), (cr.int8, torch.int8),
    (cr.int16, torch.int16), (cr.int32, torch.int32), (cr.int64, torch.int64),
    (cr.float16, torch.float16), (cr.bfloat16, torch.bfloat16), (cr.float32, torch.float32),
    (cr.float64, torch.float64), (cr.complex64, torch.complex64),
    (cr.complex128, torch.complex128),
]  # fmt: skip


def name(d):
    return str(d).split(".")[-1]


def bits(t):
    """The raw bits of a float16/bfloat16 tensor of either library, as uint16 (a NaN as
    0x7FFF: torch's vectorized casts and ml_dtypes give NaNs different payloads)."""
    nan = t.isnan().numpy().reshape(-1) if t.dtype.is_floating_point else None
    raw = _raw(t)
    if nan is not None and nan.any():
        raw = np.where(nan, np.uint16(0x7FFF), raw)
    return raw


def _raw(t):
    if isinstance(t, torch.Tensor):
        return t.detach().contiguous().view(torch.int16).numpy().view(np.uint16).reshape(-1)
    return t._data.copy(order="C").view(np.uint16).reshape(-1)


def to_np(t):
    if isinstance(t, torch.Tensor):
        return t.detach().float().numpy()
    return t.detach().float().numpy()


# --------------------------------------------------------------------------- the dtypes


@pytest.mark.parametrize("c, t", PAIRS, ids=IDS)
def test_dtype_properties_as_torch(c, t):
    assert c.is_floating_point == t.is_floating_point and c.is_complex == t.is_complex
    assert c.is_signed == t.is_signed and c.itemsize == t.itemsize == 2
    assert repr(c) == repr(t).replace("torch.", "chainrule.")
    x, y = cr.ones(3, dtype=c), torch.ones(3, dtype=t)
    assert x.element_size() == y.element_size() == 2 and x.is_floating_point()
    assert x.dtype is c and name(x.dtype) == name(y.dtype)
    assert x.type() == y.type().replace("torch.", "chainrule.")  # HalfTensor, BFloat16Tensor
    assert cr.ones(2, requires_grad=True, dtype=c).requires_grad  # a float: it may
    assert pickle.loads(pickle.dumps(c)) is c
    assert cr.half is cr.float16
    v = [0.1, 2.5, -3.0]
    assert cr.tensor(v, dtype=c).tolist() == torch.tensor(v, dtype=t).tolist()
    assert cr.tensor(0.1, dtype=c).item() == torch.tensor(0.1, dtype=t).item()
    if t == torch.float16:  # (bfloat16: torch refuses .numpy(); we give ml_dtypes' array)
        assert cr.ones(2, dtype=c).numpy().dtype == torch.ones(2, dtype=t).numpy().dtype


@pytest.mark.parametrize("c, t", [*PAIRS, (cr.float32, torch.float32), (cr.float64, torch.float64)])
def test_finfo_as_torch(c, t):
    a, b = cr.finfo(c), torch.finfo(t)
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert repr(a) == repr(b)
    assert repr(cr.finfo()) == repr(torch.finfo())
    assert repr(cr.finfo(cr.complex64)) == repr(torch.finfo(torch.complex64))
    assert repr(cr.iinfo(cr.int16)) == repr(torch.iinfo(torch.int16))
    assert cr.iinfo(cr.uint8).max == 255
    for lib, bad in ((torch, torch.int32), (cr, cr.int32)):
        with pytest.raises(TypeError, match="requires a floating point input type"):
            lib.finfo(bad)
    for lib, bad in ((torch, torch.bool), (cr, cr.bool)):
        with pytest.raises(TypeError, match="bool is not supported by torch.iinfo"):
            lib.iinfo(bad)


def test_promotion_table_as_torch():
    """Every pair of dtypes, tensor with tensor; and each with Python numbers and 0-d
    tensors (torch's three priority groups)."""
    for ca, ta in ALL:
        for cb, tb in ALL:
            want = torch.promote_types(ta, tb)
            got = cr.promote_types(ca, cb) if hasattr(cr, "promote_types") else None
            assert name(got) == name(want), (ta, tb)
            x, y = torch.ones(2, dtype=ta), torch.ones(2, dtype=tb)
            assert name((cr.ones(2, dtype=ca) + cr.ones(2, dtype=cb)).dtype) == name((x + y).dtype)
            # a 0-d operand only counts when of a higher category
            want = (x + torch.ones((), dtype=tb)).dtype
            if want == torch.complex32:  # float16 with a complex 0-d tensor: ComplexHalf
                with pytest.raises(NotImplementedError, match="ComplexHalf"):
                    cr.ones(2, dtype=ca) + cr.ones((), dtype=cb)
                continue
            assert name((cr.ones(2, dtype=ca) + cr.ones((), dtype=cb)).dtype) == name(want)
    for c, t in PAIRS:
        for scalar in (2, 2.5, True):
            assert name((cr.ones(2, dtype=c) * scalar).dtype) == name(
                (torch.ones(2, dtype=t) * scalar).dtype
            )
        assert name((cr.ones(2, dtype=cr.int64) + cr.ones((), dtype=c)).dtype) == name(t)
        assert name(cr.result_type(cr.ones(2, dtype=c), 1.5)) == name(t)
    # bfloat16 with a complex number is complex64 (torch); float16's would be ComplexHalf
    assert (cr.ones(2, dtype=cr.bfloat16) * 1j).dtype == cr.complex64
    with pytest.raises(NotImplementedError, match="ComplexHalf"):
        cr.ones(2, dtype=cr.float16) * 1j


@pytest.mark.parametrize("c, t", PAIRS, ids=IDS)
def test_casts_and_creation_as_torch(c, t):
    vals = [0.1, -2.5, 1e-8, 70000.0, 3.0e38, float("inf"), float("nan"), 1 / 3]
    a, b = cr.tensor(vals), torch.tensor(vals)
    method = "half" if c is cr.float16 else "bfloat16"
    for x, y in [
        (getattr(a, method)(), getattr(b, method)()),
        (a.to(c), b.to(t)),
        (a.to(dtype=c), b.to(dtype=t)),
        (a.type(c), b.type(t)),
        (a.type(f"torch.{b.to(t).type().split('.')[-1]}"), b.type(b.to(t).type())),
        (cr.tensor(vals, dtype=c), torch.tensor(vals, dtype=t)),
        (a.double().to(c), b.double().to(t)),
    ]:
        assert x.dtype is c and np.array_equal(bits(x), bits(y))
    # back up, and from integers
    assert np.array_equal(a.to(c).float().numpy(), b.to(t).float().numpy(), equal_nan=True)
    assert a.to(c).to(cr.int32).tolist()[:3] == b.to(t)[:3].to(torch.int32).tolist()
    n = cr.arange(300).to(c)
    assert np.array_equal(bits(n), bits(torch.arange(300).to(t)))
    # dtype= in creation functions
    for make in (
        lambda L, d: L.zeros(2, 3, dtype=d), lambda L, d: L.ones(4, dtype=d),
        lambda L, d: L.full((2,), 1.1, dtype=d), lambda L, d: L.arange(0, 2, 0.3, dtype=d),
        lambda L, d: L.linspace(0, 1, 7, dtype=d), lambda L, d: L.eye(3, dtype=d),
        lambda L, d: L.zeros_like(L.ones(2), dtype=d),
        lambda L, d: L.ones(2).new_full((3,), 0.7, dtype=d),
        lambda L, d: L.tensor(2.7, dtype=d), lambda L, d: L.empty(0, 2, dtype=d),
    ):  # fmt: skip
        x, y = make(cr, c), make(torch, t)
        assert x.dtype is c and x.shape == tuple(y.shape)
        assert np.array_equal(bits(x), bits(y))
    for rand in (cr.rand, cr.randn):
        assert rand(3, dtype=c).dtype is c
    # a NumPy float16 array keeps its dtype; bfloat16 arrays are ml_dtypes'
    assert cr.from_numpy(np.ones(2, np.float16)).dtype is cr.float16
    # legacy constructors and Module casts
    legacy = cr.HalfTensor if c is cr.float16 else cr.BFloat16Tensor
    assert legacy([1, 2]).dtype is c and isinstance(cr.ones(1, dtype=c), legacy)
    m = cr.nn.Linear(2, 2)
    getattr(m, method)()
    assert m.weight.dtype is c and m.bias.dtype is c


@pytest.mark.parametrize("c, t", PAIRS, ids=IDS)
def test_printing_as_torch(c, t):
    rng = np.random.default_rng(0)
    cases = [
        [1.0, 2.0, 3.0], [0.1, -2.5, 1 / 3], [1e-5, 1.0, 300.0],
        [[1.5, float("inf")], [float("nan"), -0.0]],
        rng.standard_normal((3, 5)).tolist(), rng.standard_normal(2000).tolist(), 2.5, [],
        [60000.0, 1.0e4, 7.0],
    ]  # fmt: skip
    for v in cases:
        x, y = cr.tensor(v, dtype=c), torch.tensor(v, dtype=t)
        assert repr(x) == repr(y).replace("torch.", "chainrule."), v
    x = cr.tensor(cases[4], dtype=c, requires_grad=True)
    y = torch.tensor(cases[4], dtype=t, requires_grad=True)
    assert repr(x) == repr(y).replace("torch.", "chainrule.")
    assert repr(x * 2) == repr(y * 2).replace("torch.", "chainrule.")  # dtype, then grad_fn
    assert repr(cr.zeros(2, 0, dtype=c)) == repr(torch.zeros(2, 0, dtype=t)).replace(
        "torch.", "chainrule."
    )


# --------------------------------------------------------------------------- ops


def _a(rng, *shape, pos=False):
    a = rng.standard_normal(shape).astype(np.float32)
    return np.abs(a) + 0.1 if pos else a


R = np.random.default_rng(7)
# name: (fn(lib, F, *tensors), input arrays). Inputs are rounded to the dtype first.
OPS = {
    "exp": (lambda L, F, x: L.exp(x), [_a(R, 3, 4)]),
    "log": (lambda L, F, x: L.log(x), [_a(R, 3, 4, pos=True)]),
    "sqrt": (lambda L, F, x: L.sqrt(x), [_a(R, 3, 4, pos=True)]),
    "rsqrt": (lambda L, F, x: L.rsqrt(x), [_a(R, 3, 4, pos=True)]),
    "sin": (lambda L, F, x: L.sin(x), [_a(R, 3, 4)]),
    "cos": (lambda L, F, x: L.cos(x), [_a(R, 3, 4)]),
    "tan": (lambda L, F, x: L.tan(x), [_a(R, 3, 4)]),
    "tanh": (lambda L, F, x: L.tanh(x), [_a(R, 3, 4)]),
    "sigmoid": (lambda L, F, x: L.sigmoid(x), [_a(R, 3, 4)]),
    "abs": (lambda L, F, x: L.abs(x), [_a(R, 3, 4)]),
    "neg": (lambda L, F, x: -x, [_a(R, 3, 4)]),
    "reciprocal": (lambda L, F, x: L.reciprocal(x), [_a(R, 3, 4, pos=True)]),
    "erf": (lambda L, F, x: L.erf(x), [_a(R, 3, 4)]),
    "log1p": (lambda L, F, x: L.log1p(x), [_a(R, 3, 4, pos=True)]),
    "expm1": (lambda L, F, x: L.expm1(x), [_a(R, 3, 4)]),
    "floor": (lambda L, F, x: L.floor(x * 3), [_a(R, 3, 4)]),
    "round": (lambda L, F, x: L.round(x * 3), [_a(R, 3, 4)]),
    "square": (lambda L, F, x: L.square(x), [_a(R, 3, 4)]),
    "sign": (lambda L, F, x: L.sign(x), [_a(R, 3, 4)]),
    "add": (lambda L, F, x, y: x + y, [_a(R, 3, 4), _a(R, 4)]),
    "add_alpha": (lambda L, F, x, y: L.add(x, y, alpha=0.3), [_a(R, 3, 4), _a(R, 3, 4)]),
    "sub": (lambda L, F, x, y: x - y, [_a(R, 3, 4), _a(R, 3, 4)]),
    "mul": (lambda L, F, x, y: x * y, [_a(R, 3, 4), _a(R, 3, 1)]),
    "div": (lambda L, F, x, y: x / y, [_a(R, 3, 4), _a(R, 3, 4, pos=True)]),
    "pow": (lambda L, F, x, y: x**y, [_a(R, 3, 4, pos=True), _a(R, 3, 4)]),
    "pow_scalar": (lambda L, F, x: x**2.5, [_a(R, 3, 4, pos=True)]),
    "rpow": (lambda L, F, x: 2.0**x, [_a(R, 3, 4)]),
    "scalar_ops": (lambda L, F, x: (x * 0.1 + 1.7) / 3.3 - 0.25, [_a(R, 3, 4)]),
    "maximum": (lambda L, F, x, y: L.maximum(x, y), [_a(R, 3, 4), _a(R, 3, 4)]),
    "remainder": (lambda L, F, x, y: L.remainder(x, y), [_a(R, 3, 4), _a(R, 3, 4, pos=True)]),
    "fmod": (lambda L, F, x: L.fmod(x, 0.7), [_a(R, 3, 4)]),
    "where": (lambda L, F, x, y: L.where(x > 0, x, y), [_a(R, 3, 4), _a(R, 3, 4)]),
    "clamp": (lambda L, F, x: L.clamp(x, -0.5, 0.7), [_a(R, 3, 4)]),
    "lerp": (lambda L, F, x, y: L.lerp(x, y, 0.3), [_a(R, 3, 4), _a(R, 3, 4)]),
    "int_tensor": (lambda L, F, x: x + L.tensor([1, 2, 3, 4]), [_a(R, 3, 4)]),
    "compare": (lambda L, F, x: (x > 0.1).float(), [_a(R, 3, 4)]),
    "sum": (lambda L, F, x: x.sum(), [_a(R, 30, 40)]),
    "sum_dim": (lambda L, F, x: x.sum(1), [_a(R, 30, 40)]),
    "sum_float32": (lambda L, F, x: x.sum(dtype=L.float32), [_a(R, 30, 40)]),
    "mean": (lambda L, F, x: x.mean(0), [_a(R, 30, 40)]),
    "prod": (lambda L, F, x: x.prod(1), [_a(R, 3, 4)]),
    "amax": (lambda L, F, x: x.amax(1), [_a(R, 3, 4)]),
    "max_dim": (lambda L, F, x: x.max(1)[0], [_a(R, 3, 4)]),
    "argmax": (lambda L, F, x: x.argmax(1), [_a(R, 3, 4)]),
    "var": (lambda L, F, x: x.var(1), [_a(R, 8, 40)]),
    "std": (lambda L, F, x: x.std(), [_a(R, 8, 40)]),
    "vector_norm": (lambda L, F, x: L.linalg.vector_norm(x), [_a(R, 8, 40)]),
    "logsumexp": (lambda L, F, x: L.logsumexp(x, 1), [_a(R, 8, 40)]),
    "cumsum": (lambda L, F, x: L.cumsum(x, 1), [_a(R, 4, 50)]),
    "cumprod": (lambda L, F, x: L.cumprod(x, 1), [_a(R, 4, 6)]),
    "sort": (lambda L, F, x: L.sort(x, 1)[0], [_a(R, 4, 6)]),
    "topk": (lambda L, F, x: L.topk(x, 2)[0], [_a(R, 4, 6)]),
    "matmul": (lambda L, F, x, y: x @ y, [_a(R, 8, 30), _a(R, 30, 5)]),
    "bmm": (lambda L, F, x, y: L.bmm(x, y), [_a(R, 2, 8, 30), _a(R, 2, 30, 5)]),
    "matvec": (lambda L, F, x, y: x @ y, [_a(R, 8, 30), _a(R, 30)]),
    "einsum": (lambda L, F, x, y: L.einsum("ij,jk->ik", x, y), [_a(R, 8, 30), _a(R, 30, 5)]),
    "outer": (lambda L, F, x, y: L.outer(x, y), [_a(R, 8), _a(R, 5)]),
    "linear": (lambda L, F, x, w, b: F.linear(x, w, b), [_a(R, 6, 20), _a(R, 7, 20), _a(R, 7)]),
    "conv1d": (
        lambda L, F, x, w, b: F.conv1d(x, w, b, padding=1),
        [_a(R, 2, 3, 10), _a(R, 4, 3, 3), _a(R, 4)],
    ),
    "conv2d": (
        lambda L, F, x, w, b: F.conv2d(x, w, b, stride=2),
        [_a(R, 2, 3, 9, 9), _a(R, 4, 3, 3, 3), _a(R, 4)],
    ),
    "conv_transpose2d": (
        lambda L, F, x, w: F.conv_transpose2d(x, w),
        [_a(R, 2, 3, 5, 5), _a(R, 3, 4, 3, 3)],
    ),
    "softmax": (lambda L, F, x: F.softmax(x, -1), [_a(R, 4, 10)]),
    "log_softmax": (lambda L, F, x: F.log_softmax(x, -1), [_a(R, 4, 10)]),
    "layer_norm": (
        lambda L, F, x, w, b: F.layer_norm(x, (10,), w, b),
        [_a(R, 4, 10), _a(R, 10), _a(R, 10)],
    ),
    "group_norm": (
        lambda L, F, x, w, b: F.group_norm(x, 2, w, b),
        [_a(R, 3, 4, 5), _a(R, 4), _a(R, 4)],
    ),
    "batch_norm": (
        lambda L, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [_a(R, 6, 4), _a(R, 4), _a(R, 4)],
    ),
    "gelu": (lambda L, F, x: F.gelu(x), [_a(R, 4, 10)]),
    "gelu_tanh": (lambda L, F, x: F.gelu(x, approximate="tanh"), [_a(R, 4, 10)]),
    "silu": (lambda L, F, x: F.silu(x), [_a(R, 4, 10)]),
    "relu": (lambda L, F, x: F.relu(x), [_a(R, 4, 10)]),
    "leaky_relu": (lambda L, F, x: F.leaky_relu(x, 0.1), [_a(R, 4, 10)]),
    "elu": (lambda L, F, x: F.elu(x), [_a(R, 4, 10)]),
    "softplus": (lambda L, F, x: F.softplus(x), [_a(R, 4, 10)]),
    "hardtanh": (lambda L, F, x: F.hardtanh(x), [_a(R, 4, 10)]),
    "mish": (lambda L, F, x: F.mish(x), [_a(R, 4, 10)]),
    "logsigmoid": (lambda L, F, x: F.logsigmoid(x), [_a(R, 4, 10)]),
    "mse_loss": (lambda L, F, x, y: F.mse_loss(x, y), [_a(R, 4, 10), _a(R, 4, 10)]),
    "l1_loss": (lambda L, F, x, y: F.l1_loss(x, y), [_a(R, 4, 10), _a(R, 4, 10)]),
    "smooth_l1_loss": (lambda L, F, x, y: F.smooth_l1_loss(x, y), [_a(R, 4, 10), _a(R, 4, 10)]),
    "bce_with_logits": (
        lambda L, F, x, y: F.binary_cross_entropy_with_logits(x, L.sigmoid(y)),
        [_a(R, 4, 10), _a(R, 4, 10)],
    ),
    "cross_entropy": (lambda L, F, x: F.cross_entropy(x, L.tensor([1, 0, 3, 9])), [_a(R, 4, 10)]),
    "nll_loss": (
        lambda L, F, x: F.nll_loss(F.log_softmax(x, 1), L.tensor([1, 0, 3, 9])),
        [_a(R, 4, 10)],
    ),
    "max_pool2d": (lambda L, F, x: F.max_pool2d(x, 2), [_a(R, 2, 3, 6, 6)]),
    "avg_pool2d": (lambda L, F, x: F.avg_pool2d(x, 2), [_a(R, 2, 3, 6, 6)]),
    "adaptive_avg_pool2d": (lambda L, F, x: F.adaptive_avg_pool2d(x, 1), [_a(R, 2, 3, 6, 6)]),
    "embedding": (lambda L, F, w: F.embedding(L.tensor([[0, 2], [1, 1]]), w), [_a(R, 4, 5)]),
    "dropout_eval": (lambda L, F, x: F.dropout(x, 0.5, training=False), [_a(R, 4, 5)]),
    "cat": (lambda L, F, x, y: L.cat([x, y]), [_a(R, 2, 3), _a(R, 2, 3)]),
    "stack": (lambda L, F, x, y: L.stack([x, y]), [_a(R, 2, 3), _a(R, 2, 3)]),
    "views": (lambda L, F, x: x.t().reshape(-1)[2:] * 2, [_a(R, 3, 4)]),
    "index": (lambda L, F, x: x[L.tensor([0, 2, 2])], [_a(R, 3, 4)]),
    "gather": (lambda L, F, x: L.gather(x, 1, L.tensor([[0, 1], [2, 2], [3, 0]])), [_a(R, 3, 4)]),
    "index_add": (
        lambda L, F, x, y: x.index_add(0, L.tensor([0, 0, 1]), y),
        [_a(R, 2, 4), _a(R, 3, 4)],
    ),
    "scatter_add": (
        lambda L, F, x, y: x.scatter_add(1, L.tensor([[0, 0], [1, 1]]), y),
        [_a(R, 2, 4), _a(R, 2, 2)],
    ),
    "masked_fill": (lambda L, F, x: x.masked_fill(x > 0, 0.5), [_a(R, 3, 4)]),
    "attention": (
        lambda L, F, q, k, v: F.scaled_dot_product_attention(q, k, v),
        [_a(R, 2, 4, 8), _a(R, 2, 4, 8), _a(R, 2, 4, 8)],
    ),
    "normalize": (lambda L, F, x: F.normalize(x), [_a(R, 4, 8)]),
    "pad": (lambda L, F, x: F.pad(x, (1, 2)), [_a(R, 4, 8)]),
    "interpolate": (
        lambda L, F, x: F.interpolate(x, scale_factor=2, mode="bilinear"),
        [_a(R, 1, 2, 3, 3)],
    ),
    "tril": (lambda L, F, x: L.tril(x), [_a(R, 4, 4)]),
    "trace": (lambda L, F, x: L.trace(x), [_a(R, 3, 3)]),
}

# Results torch's CPU kernels give bit for bit here (measured): elementwise ops (the ones
# torch runs in float32 and rounds once), reductions, matmul, softmax, the activations
# and fused kernels. The rest are within torch's tolerance at the output's scale: torch
# rounds inside those kernels (conv_transpose, log_softmax, batch_norm) or its backward
# formula is a chain of ops each rounded (rsqrt, tanh, pow, the losses' gradients).
NOT_EXACT = {
    "rsqrt", "prod", "logsumexp", "conv_transpose2d", "log_softmax", "batch_norm",
    "smooth_l1_loss", "nll_loss", "einsum", "sum_float32", "add_alpha",
}  # fmt: skip
EXACT_GRAD = {
    "exp", "log", "sqrt", "sin", "cos", "tan", "abs", "neg", "log1p", "expm1", "floor",
    "round", "square", "sign", "add", "sub", "mul", "div", "scalar_ops",
    "maximum", "remainder", "fmod", "where", "clamp", "lerp", "int_tensor", "sum", "sum_dim",
    "amax", "max_dim", "vector_norm", "cumsum", "cumprod", "sort", "topk", "matmul", "bmm",
    "matvec", "outer", "linear", "softmax", "gelu", "gelu_tanh", "silu", "relu", "leaky_relu",
    "elu", "softplus", "hardtanh", "mish", "max_pool2d", "avg_pool2d", "embedding",
    "dropout_eval", "cat", "stack", "views", "index", "gather", "index_add", "scatter_add",
    "masked_fill", "attention", "normalize", "pad", "interpolate", "tril",
}  # fmt: skip


def _close(got, want, dt, what):
    """torch's tolerance for the dtype, its absolute part at the scale of the result (an
    accumulation's rounding error is relative to its partial sums, not to each element)."""
    rtol, atol = TOL[dt]
    a, b = to_np(got), to_np(want)
    scale = float(np.nanmax(np.abs(b))) if b.size else 0.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol + 2 * rtol * scale, err_msg=what)


@pytest.mark.parametrize("c, t", PAIRS, ids=IDS)
@pytest.mark.parametrize("op", OPS, ids=str)
def test_op_as_torch(op, c, t):
    fn, arrays = OPS[op]
    ts = [torch.tensor(a).to(t).requires_grad_() for a in arrays]
    cs = [cr.tensor(a).to(c).requires_grad_() for a in arrays]
    y, x = fn(torch, TF, *ts), fn(cr, CF, *cs)
    assert name(x.dtype) == name(y.dtype)
    if op in NOT_EXACT:
        _close(x, y, t, "forward")
    else:
        assert np.array_equal(to_np(x), to_np(y), equal_nan=True), "forward not bit-exact"
    if not y.requires_grad:
        return
    g = np.random.default_rng(1).standard_normal(tuple(y.shape)).astype(np.float32)
    y.backward(torch.tensor(g).to(y.dtype))
    x.backward(cr.tensor(g).to(x.dtype))
    for i, (xc, xt) in enumerate(zip(cs, ts)):
        assert xc.grad is not None and xc.grad.dtype is c, f"gradient {i} in its tensor's dtype"
        if op in EXACT_GRAD:
            assert np.array_equal(to_np(xc.grad), to_np(xt.grad)), f"gradient {i} not bit-exact"
        else:
            _close(xc.grad, xt.grad, t, f"gradient {i}")


def test_numbers_are_read_as_torch_reads_them():
    """torch casts a number to the tensor's dtype for add/sub/pow/remainder/fmod (and
    alpha), but multiplies and divides by it in float32; its bfloat16 cube and inverse
    square round the square first: each gives torch's bits."""
    a = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 3
    s = 1.7123
    ops = [
        lambda L, x: x + s, lambda L, x: x - s, lambda L, x: s - x, lambda L, x: x * s,
        lambda L, x: x / s, lambda L, x: x.abs() ** s, lambda L, x: s**x, lambda L, x: x % s,
        lambda L, x: L.fmod(x, s), lambda L, x: x.clamp(-s, s), lambda L, x: L.lerp(x, x, s),
        lambda L, x: L.add(x, x, alpha=s), lambda L, x: L.sub(x, 2 * x, alpha=s),
        lambda L, x: x + L.tensor(s), lambda L, x: L.where(x > 0, x, s),
        lambda L, x: x**2, lambda L, x: x**3, lambda L, x: x**-2, lambda L, x: x**4,
    ]  # fmt: skip
    for c, t in PAIRS:
        for i, f in enumerate(ops):
            x, y = f(cr, cr.tensor(a).to(c)), f(torch, torch.tensor(a).to(t))
            assert np.array_equal(bits(x), bits(y)), (name(t), i)


@pytest.mark.parametrize("c, t", PAIRS, ids=IDS)
def test_torch_refusals_for_half_on_cpu(c, t):
    """The LAPACK-backed ops torch refuses for these dtypes on the CPU raise the same."""
    a = np.eye(3, dtype=np.float32) * 2 + 0.1
    cases = {
        "det": lambda L, x: L.linalg.det(x), "det_fn": lambda L, x: L.det(x),
        "slogdet": lambda L, x: L.slogdet(x), "logdet": lambda L, x: L.logdet(x),
        "inv": lambda L, x: L.linalg.inv(x), "inverse": lambda L, x: L.inverse(x),
        "solve": lambda L, x: L.linalg.solve(x, x), "cholesky": lambda L, x: L.linalg.cholesky(x),
        "svdvals": lambda L, x: L.linalg.svdvals(x),
        "svd": lambda L, x: L.linalg.svd(x), "svd_fn": lambda L, x: L.svd(x),
        "eigh": lambda L, x: L.linalg.eigh(x), "eigvalsh": lambda L, x: L.linalg.eigvalsh(x),
        "qr": lambda L, x: L.linalg.qr(x), "pinv": lambda L, x: L.linalg.pinv(x),
        "pinverse": lambda L, x: L.pinverse(x), "rank": lambda L, x: L.linalg.matrix_rank(x),
        "cond": lambda L, x: L.linalg.cond(x), "cond_1": lambda L, x: L.linalg.cond(x, 1),
        "solve_triangular": lambda L, x: L.linalg.solve_triangular(x, x, upper=True),
        "matrix_norm_2": lambda L, x: L.linalg.matrix_norm(x, 2),
        "norm_2": lambda L, x: L.linalg.norm(x, 2),
    }  # fmt: skip
    for key, f in cases.items():
        with pytest.raises(Exception) as te:
            f(torch, torch.tensor(a).to(t))
        with pytest.raises(type(te.value)) as ce:
            f(cr, cr.tensor(a).to(c))
        assert str(ce.value) == str(te.value), key
    # what torch computes, we compute
    for f in (lambda L, x: L.linalg.matrix_norm(x), lambda L, x: L.linalg.matrix_norm(x, 1)):
        y, x = f(torch, torch.tensor(a).to(t)), f(cr, cr.tensor(a).to(c))
        assert np.array_equal(bits(x), bits(y))


def test_training_step_in_bfloat16_as_torch():
    """A small MLP cast to bfloat16 trained a few SGD-with-momentum steps with
    cross-entropy: parameters, gradients and losses as torch's (all bfloat16)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 8)).astype(np.float32)
    target = rng.integers(0, 3, 16)
    mt = torch.nn.Sequential(torch.nn.Linear(8, 12), torch.nn.GELU(), torch.nn.Linear(12, 3))
    mc = cr.nn.Sequential(cr.nn.Linear(8, 12), cr.nn.GELU(), cr.nn.Linear(12, 3))
    mc.load_state_dict({k: cr.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    mt.bfloat16()
    mc.bfloat16()
    ot = torch.optim.SGD(mt.parameters(), lr=0.1, momentum=0.9)
    oc = cr.optim.SGD(mc.parameters(), lr=0.1, momentum=0.9)
    xt, xc = torch.tensor(x).bfloat16(), cr.tensor(x).bfloat16()
    for _ in range(4):
        ot.zero_grad()
        oc.zero_grad()
        lt = TF.cross_entropy(mt(xt), torch.tensor(target))
        lc = CF.cross_entropy(mc(xc), cr.tensor(target))
        assert lc.dtype is cr.bfloat16
        _close(lc, lt, torch.bfloat16, "loss")
        lt.backward()
        lc.backward()
        for (k, pt), pc in zip(mt.named_parameters(), mc.parameters()):
            assert pc.grad.dtype is cr.bfloat16
            _close(pc.grad, pt.grad, torch.bfloat16, f"grad {k}")
        ot.step()
        oc.step()
        for (k, pt), pc in zip(mt.named_parameters(), mc.parameters()):
            assert pc.dtype is cr.bfloat16
            _close(pc, pt, torch.bfloat16, f"param {k}")


# --------------------------------------------------------------------------- safetensors


def _special(t):
    """Values that test the bits: zeros of both signs, subnormals, the largest finite,
    inf, nan, ordinary numbers."""
    v = [0.0, -0.0, 1.0, -2.5, 1 / 3, 1e-3, torch.finfo(t).max, torch.finfo(t).tiny / 4]
    base = torch.tensor(v).to(t)
    return torch.cat(
        [base, torch.tensor([math.inf, -math.inf, math.nan]).to(t), torch.randn(20).to(t)]
    )


def test_safetensors_f16_bf16_from_torch_bit_exact(tmp_path):
    f = tmp_path / "torch.safetensors"
    torch.manual_seed(0)
    tensors = {
        "h": _special(torch.float16), "b": _special(torch.bfloat16),
        "h2d": torch.randn(3, 5).half(), "b3d": torch.randn(2, 3, 4).bfloat16(),
        "h0d": torch.tensor(1.5, dtype=torch.float16),
        "b_empty": torch.zeros(0, 3, dtype=torch.bfloat16),
        "f": torch.randn(4),
    }  # fmt: skip
    safetensors.torch.save_file(tensors, f)
    back = cr.load(f)
    assert sorted(back) == sorted(tensors)
    for k, t in tensors.items():
        c = back[k]
        assert name(c.dtype) == name(t.dtype) and tuple(c.shape) == tuple(t.shape), k
        if t.dtype != torch.float32:
            assert np.array_equal(bits(c), bits(t)), k
    # and a step computes on them (their math switched on by the load)
    assert np.array_equal(bits(back["b"] * 3), bits(tensors["b"] * 3))


def test_safetensors_f16_bf16_to_torch_bit_exact(tmp_path):
    f = tmp_path / "cr.safetensors"
    src = {
        "h": cr.tensor(_special(torch.float16).float().numpy()).half(),
        "b": cr.tensor(_special(torch.bfloat16).float().numpy()).bfloat16(),
        "bt": cr.randn(4, 6).bfloat16().t(),  # non-contiguous
        "h0d": cr.tensor(0.1, dtype=cr.float16),
        "b_empty": cr.zeros(0, dtype=cr.bfloat16),
    }
    cr.save(src, f)
    back = safetensors.torch.load_file(f)
    for k, c in src.items():
        t = back[k]
        assert name(t.dtype) == name(c.dtype) and tuple(t.shape) == tuple(c.shape), k
        assert np.array_equal(bits(t), bits(c.contiguous())), k
    # a nested checkpoint (an optimizer's state) round-trips too
    state = {"step": 3, "buf": [cr.ones(2, dtype=cr.bfloat16), cr.ones(1, dtype=cr.float16)]}
    cr.save(state, tmp_path / "nested.pt")
    again = cr.load(tmp_path / "nested.pt")
    assert [t.dtype for t in again["buf"]] == [cr.bfloat16, cr.float16]


def test_torch_pickle_with_bfloat16_storage(tmp_path):
    f = tmp_path / "torch.pt"
    t = {"b": torch.randn(5).bfloat16(), "h": torch.randn(3).half()}
    torch.save(t, f)
    back = cr.load(f, weights_only=False)
    for k in t:
        assert np.array_equal(bits(back[k]), bits(t[k]))


# --------------------------------------------------------------------------- autocast

_S = np.random.default_rng(0)
_SQ = _a(_S, 6, 6)
_SQ = _SQ @ _SQ.T + 6 * np.eye(6, dtype=np.float32)
_X, _W, _B = _a(_S, 4, 6), _a(_S, 5, 6), _a(_S, 5)
_IMG, _K, _P = _a(_S, 1, 3, 6, 6), _a(_S, 2, 3, 3, 3), np.abs(_a(_S, 4, 6)) % 1
AUTOCAST = {
    "matmul": (lambda L, F, a, b: a @ b.t(), _X, _W),
    "mm": (lambda L, F, a, b: L.mm(a, b.t()), _X, _W),
    "bmm": (lambda L, F, a, b: L.bmm(a[None], b.t()[None]), _X, _W),
    "mv": (lambda L, F, a, b: L.mv(a, b), _SQ, _X[0]),
    "dot": (lambda L, F, a, b: L.dot(a, b), _X[0], _X[1]),
    "outer": (lambda L, F, a, b: L.outer(a, b), _X[0], _X[1]),
    "einsum": (lambda L, F, a, b: L.einsum("ij,kj->ik", a, b), _X, _W),
    "vecdot": (lambda L, F, a, b: L.linalg.vecdot(a, b), _X, _X),
    "tensordot": (lambda L, F, a, b: L.tensordot(a, b, 1), _X, _X.T.copy()),
    "inner": (lambda L, F, a, b: L.inner(a, b), _X, _X),
    "matrix_power": (lambda L, F, a: L.linalg.matrix_power(a, 2), _SQ),
    "multi_dot": (lambda L, F, a, b: L.linalg.multi_dot([a, b]), _X, _X.T.copy()),
    "kron": (lambda L, F, a, b: L.kron(a, b), _X, _X),
    "linear": (lambda L, F, a, b, c: F.linear(a, b, c), _X, _W, _B),
    "conv1d": (lambda L, F, a, b: F.conv1d(a, b), _IMG[:, :, 0], _K[:, :, 0]),
    "conv2d": (lambda L, F, a, b: F.conv2d(a, b), _IMG, _K),
    "conv_transpose1d": (
        lambda L, F, a, b: F.conv_transpose1d(a, b),
        _IMG[:, :, 0],
        _K.transpose(1, 0, 2, 3)[:, :, 0].copy(),
    ),
    "conv_transpose2d": (
        lambda L, F, a, b: F.conv_transpose2d(a, b),
        _IMG,
        _K.transpose(1, 0, 2, 3).copy(),
    ),
    "attention": (lambda L, F, a: F.scaled_dot_product_attention(a[None], a[None], a[None]), _X),
    "prod": (lambda L, F, a: a.prod(), _X),
    "trace": (lambda L, F, a: L.trace(a), _SQ),
    "mse_loss": (lambda L, F, a, b: F.mse_loss(a, b), _X, _X),
    "l1_loss": (lambda L, F, a, b: F.l1_loss(a, b), _X, _X),
    "cross_entropy": (lambda L, F, a: F.cross_entropy(a, L.tensor([1, 0, 3, 4])), _X),
    "nll_loss": (lambda L, F, a: F.nll_loss(a, L.tensor([1, 0, 3, 4])), _X),
    "binary_cross_entropy": (lambda L, F, a, b: F.binary_cross_entropy(a, b), _P, _P),
    "bce_with_logits": (lambda L, F, a, b: F.binary_cross_entropy_with_logits(a, b), _X, _P),
    "smooth_l1_loss": (lambda L, F, a, b: F.smooth_l1_loss(a, b), _X, _X),
    "huber_loss": (lambda L, F, a, b: F.huber_loss(a, b), _X, _X),
    "kl_div": (lambda L, F, a, b: F.kl_div(a, b), _X, _X),
    "inv": (lambda L, F, a: L.linalg.inv(a), _SQ),
    "inverse": (lambda L, F, a: L.inverse(a), _SQ),
    "solve": (lambda L, F, a, b: L.linalg.solve(a, b), _SQ, _SQ),
    "cholesky": (lambda L, F, a: L.linalg.cholesky(a), _SQ),
    "svdvals": (lambda L, F, a: L.linalg.svdvals(a), _SQ),
    "svd": (lambda L, F, a: L.linalg.svd(a).S, _SQ),
    "svd_fn": (lambda L, F, a: L.svd(a).S, _SQ),
    "eigh": (lambda L, F, a: L.linalg.eigh(a + a.mT).eigenvalues, _SQ),
    "eigvalsh": (lambda L, F, a: L.linalg.eigvalsh(a + a.mT), _SQ),
    "qr": (lambda L, F, a: L.linalg.qr(a).R.abs(), _SQ),
    "qr_fn": (lambda L, F, a: a.qr().R.abs(), _SQ),
    "pinv": (lambda L, F, a: L.linalg.pinv(a), _SQ),
    "pinverse": (lambda L, F, a: L.pinverse(a), _SQ),
    "matrix_rank": (lambda L, F, a: L.linalg.matrix_rank(a), _SQ),
    "cond": (lambda L, F, a: L.linalg.cond(a), _SQ),
    "cond_fro": (lambda L, F, a: L.linalg.cond(a, "fro"), _SQ),
    "det": (lambda L, F, a: L.linalg.det(a), _SQ),
    "pad_reflect": (lambda L, F, a: F.pad(a, (1, 1, 1, 1), mode="reflect"), _IMG),
    "pad_replicate": (lambda L, F, a: F.pad(a, (1, 1, 1, 1), mode="replicate"), _IMG),
    "pad_circular": (lambda L, F, a: F.pad(a, (1, 1, 1, 1), mode="circular"), _IMG),
    "pad_constant": (lambda L, F, a: F.pad(a, (1, 1)), _X),
    "softmax": (lambda L, F, a: F.softmax(a, -1), _X),
    "log_softmax": (lambda L, F, a: F.log_softmax(a, -1), _X),
    "layer_norm": (lambda L, F, a: F.layer_norm(a, (6,)), _X),
    "group_norm": (lambda L, F, a: F.group_norm(a, 3), _IMG),
    "sum": (lambda L, F, a: a.sum(), _X),
    "exp": (lambda L, F, a: a.exp(), _X),
    "add": (lambda L, F, a, b: a + b, _X, _X),
    "cat": (lambda L, F, a, b: L.cat([a, b]), _X, _X),
    "stack": (lambda L, F, a, b: L.stack([a, b]), _X, _X),
    "gelu": (lambda L, F, a: F.gelu(a), _X),
    "max_pool2d": (lambda L, F, a: F.max_pool2d(a, 2), _IMG),
    "vector_norm": (lambda L, F, a: L.linalg.vector_norm(a), _X),
    "cdist": (lambda L, F, a, b: L.cdist(a, b), _X, _X),
    "dist": (lambda L, F, a, b: L.dist(a, b), _X, _X),
    "cross": (lambda L, F, a, b: L.linalg.cross(a[:, :3], b[:, :3]), _X, _X),
    "baddbmm": (lambda L, F, a, b: L.baddbmm(a[None], a[None], b.mT[None]), _SQ, _SQ),
    "addbmm": (lambda L, F, a, b: L.addbmm(a, a[None], b.mT[None]), _SQ, _SQ),
    "addmv": (lambda L, F, a, b: L.addmv(a[0], a, b[0]), _SQ, _SQ),
    "addr": (lambda L, F, a, b: L.addr(a, a[0], b[0]), _SQ, _SQ),
}


def _under_autocast(lib, F, fn, arrays, dt, fast):
    make = (lambda a: torch.tensor(a).to(dt)) if lib is torch else (lambda a: cr.tensor(a).to(dt))
    ts = [make(a) for a in arrays]
    try:
        with lib.autocast("cpu", dtype=fast):
            out = fn(lib, F, *ts)
        return name(out.dtype), out
    except Exception as e:
        return f"raises {type(e).__name__}: {e}", None


@pytest.mark.parametrize("fast", ["bfloat16", "float16"])
@pytest.mark.parametrize("op", AUTOCAST, ids=str)
def test_autocast_op_lists_as_torch(op, fast):
    """Each function's result dtype under autocast from float32, bfloat16 and float16
    inputs (torch's lower_precision_fp, fp32 and promote lists), and the values."""
    fn, *arrays = AUTOCAST[op]
    for c, t in ((cr.float32, torch.float32), *PAIRS):
        got, x = _under_autocast(cr, CF, fn, arrays, c, getattr(cr, fast))
        want, y = _under_autocast(torch, TF, fn, arrays, t, getattr(torch, fast))
        assert got == want, name(t)
        if y is not None and y.dtype in TOL:
            _close(x, y, y.dtype, "value")


def test_autocast_training_step_as_torch():
    """A float32 model under bfloat16 autocast: linear layers run in bfloat16, the loss
    in float32, gradients come back float32 to the float32 weights; the step as torch's."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 6)).astype(np.float32)
    target = rng.integers(0, 4, 8)
    mt = torch.nn.Sequential(torch.nn.Linear(6, 10), torch.nn.ReLU(), torch.nn.Linear(10, 4))
    mc = cr.nn.Sequential(cr.nn.Linear(6, 10), cr.nn.ReLU(), cr.nn.Linear(10, 4))
    mc.load_state_dict({k: cr.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    ot, oc = torch.optim.Adam(mt.parameters(), lr=1e-2), cr.optim.Adam(mc.parameters(), lr=1e-2)
    for _ in range(3):
        ot.zero_grad()
        oc.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yt = mt(torch.tensor(x))
            lt = TF.cross_entropy(yt, torch.tensor(target))
        with cr.autocast("cpu", dtype=cr.bfloat16):
            yc = mc(cr.tensor(x))
            lc = CF.cross_entropy(yc, cr.tensor(target))
            assert cr.is_autocast_enabled("cpu") and cr.get_autocast_dtype("cpu") is cr.bfloat16
        assert not cr.is_autocast_enabled("cpu")
        assert yc.dtype is cr.bfloat16 and lc.dtype is cr.float32
        np.testing.assert_allclose(to_np(yc), to_np(yt), rtol=1.6e-2, atol=2e-2)
        np.testing.assert_allclose(lc.item(), lt.item(), rtol=1e-2)
        lt.backward()
        lc.backward()
        for (k, pt), pc in zip(mt.named_parameters(), mc.parameters()):
            assert pc.grad.dtype is cr.float32, k
            np.testing.assert_allclose(pc.grad.numpy(), pt.grad.numpy(), rtol=3e-2, atol=3e-3)
        ot.step()
        oc.step()


def test_autocast_context_rules_as_torch():
    x, w = cr.randn(3, 4), cr.randn(5, 4, requires_grad=True)
    with cr.autocast("cpu"):  # bfloat16 by default on the CPU
        assert (x @ w.t()).dtype is cr.bfloat16
        with cr.autocast("cpu", enabled=False):  # a region inside that opts out
            assert (x @ w.t()).dtype is cr.float32
        with cr.autocast("cpu", dtype=cr.float16):
            assert (x @ w.t()).dtype is cr.float16
        # the cast of a float32 leaf weight is cached: one cast node for two uses (torch's)
        a, b = CF.linear(x, w), CF.linear(x, w)
        cast = {n.name() for f in (a, b) for n, _ in f.grad_fn.next_functions if n is not None}
        assert cast == {"ToCopyBackward0"}
        wa = [n for n, _ in a.grad_fn.next_functions if n is not None]
        wb = [n for n, _ in b.grad_fn.next_functions if n is not None]
        assert any(p is q for p in wa for q in wb)
        (a.float().sum() + b.float().sum()).backward()
    assert w.grad.dtype is cr.float32
    with cr.amp.autocast(device_type="cpu", dtype=cr.bfloat16):
        assert cr.nn.functional.linear(x, w).dtype is cr.bfloat16

    @cr.autocast("cpu")
    def f(a):
        return a @ a.t()

    assert f(x).dtype is cr.bfloat16 and (x @ x.t()).dtype is cr.float32
    # unsupported dtype or device: torch warns and disables
    for lib, dt, dev in ((torch, torch.float64, "cpu"), (cr, cr.float64, "cpu")):
        with pytest.warns(UserWarning, match="CPU Autocast only supports dtypes of"):
            ctx = lib.autocast(dev, dtype=dt)
        with ctx:
            assert not lib.is_autocast_enabled("cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with cr.autocast("cuda"):
            assert (x @ x.t()).dtype is cr.float32
    for lib in (torch, cr):
        with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
            lib.autocast(device_type=3)
        assert lib.is_autocast_enabled() is False
        assert name(lib.get_autocast_dtype("cpu")) == "bfloat16"

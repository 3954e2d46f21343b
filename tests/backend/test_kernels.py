"""Each kernel of the dispatch table, on both backends, against torch's own kernel on the
same inputs, and the native one against the NumPy reference (values, nan positions and the
sign of zeros): float32 and float64, with nan, inf and -0 among the values, contiguous and
strided inputs (the native wrappers' fallback to the reference)."""

import numpy as np
import pytest
import torch

from chainrule.backend import TABLES

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-5, atol=1e-5), np.float64: dict(rtol=1e-12, atol=1e-13)}
T = torch.from_numpy
aten = torch.ops.aten


def _data(shape, dtype, seed=0, scale=3.0, specials=True):
    x = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    if specials:
        flat = x.reshape(-1)
        flat[:8] = [np.nan, np.inf, -np.inf, -0.0, 0.0, 40.0, -40.0, 1e-30]
    return x


def _strided(x):
    """The same values as a strided view of a larger array."""
    return np.repeat(x[..., None], 2, axis=-1)[..., 0]


def _rows(dtype, seed=0, finite=False):
    x = _data((9, 7, 130), dtype, seed=seed, specials=False)
    if not finite:
        x[0, 0, 3], x[1, 1, :], x[2, 2, 5] = np.nan, -np.inf, np.inf
    return x


def _pointwise(dtype):
    return _data((37, 70), dtype), _data((37, 70), dtype, seed=1, specials=False)


def _torch_gelu(x, approximate):
    """torch's gelu, but +inf at +inf for the exact one: torch 2.13's AVX-512 float32 loop
    gives nan there (8 elements or more), its scalar, AVX2 and float64 ones +inf."""
    out = torch.nn.functional.gelu(T(x), approximate=approximate)
    if approximate == "none":
        out[torch.from_numpy(np.isposinf(x))] = float("inf")
    return out


# name: (kernel args from dtype, torch's result on the same args, whether torch's sign of
# zero is checked). A kernel's args put the array it is strided over first in `strided`.
def _cases():
    c = {}
    for a in ("none", "tanh"):
        # torch's float32 exact gelu gives +0 at -0 and far left, its float64 one -0:
        # zero signs are compared with the reference only
        c[f"gelu-{a}"] = (
            "gelu",
            lambda d, a=a: (_pointwise(d)[0], a),
            _torch_gelu,
            False,
        )
        c[f"gelu_backward-{a}"] = (
            "gelu_backward",
            lambda d, a=a: (*reversed(_pointwise(d)), a),
            lambda g, x, a: aten.gelu_backward(T(g), T(x), approximate=a),
            True,
        )
    c["sigmoid"] = ("sigmoid", lambda d: (_pointwise(d)[0],), lambda x: torch.sigmoid(T(x)), True)
    c["silu"] = (
        "silu",
        lambda d: (_pointwise(d)[0],),
        lambda x: torch.nn.functional.silu(T(x)),
        True,
    )
    c["silu_backward"] = (
        "silu_backward",
        lambda d: tuple(reversed(_pointwise(d))),
        lambda g, x: aten.silu_backward(T(g), T(x)),
        True,
    )
    c["sigmoid_backward"] = (
        "sigmoid_backward",
        lambda d: (_pointwise(d)[1], torch.sigmoid(T(_pointwise(d)[0])).numpy()),
        lambda g, y: aten.sigmoid_backward(T(g), T(y)),
        True,
    )
    c["tanh_backward"] = (
        "tanh_backward",
        lambda d: (_pointwise(d)[1], np.tanh(_pointwise(d)[0])),
        lambda g, y: aten.tanh_backward(T(g), T(y)),
        True,
    )
    for dim in (2, 1, 0):
        c[f"softmax-{dim}"] = (
            "softmax",
            lambda d, dim=dim: (_rows(d), dim),
            lambda x, dim: torch.softmax(T(x), dim),
            True,
        )
        c[f"log_softmax-{dim}"] = (
            "log_softmax",
            lambda d, dim=dim: (_rows(d), dim),
            lambda x, dim: torch.log_softmax(T(x), dim),
            True,
        )
        c[f"softmax_backward-{dim}"] = (
            "softmax_backward",
            lambda d, dim=dim: (
                _rows(d, 1),
                torch.softmax(T(_rows(d, finite=True)), dim).numpy(),
                dim,
            ),
            lambda g, y, dim: aten._softmax_backward_data(T(g), T(y), dim, T(y).dtype),
            True,
        )
        c[f"log_softmax_backward-{dim}"] = (
            "log_softmax_backward",
            lambda d, dim=dim: (
                _rows(d, 1),
                torch.log_softmax(T(_rows(d, finite=True)), dim).numpy(),
                dim,
            ),
            lambda g, y, dim: aten._log_softmax_backward_data(T(g), T(y), dim, T(y).dtype),
            True,
        )
    for geo in GEOMETRIES:
        c[f"im2col-{geo}"] = (
            "im2col",
            lambda d, geo=geo: (_image(d), *_conv_geometry(geo)),
            _unfold,
            True,
        )
        c[f"col2im-{geo}"] = ("col2im", lambda d, geo=geo: _fold_args(d, geo), _fold, True)
    for geo in POOLS:
        c[f"max_pool2d-{geo}"] = (
            "max_pool2d",
            lambda d, geo=geo: _pool_args(d, geo),
            _max_pool,
            True,
        )
        c[f"max_pool2d_backward-{geo}"] = (
            "max_pool2d_backward",
            lambda d, geo=geo: _pool_backward_args(d, geo),
            _max_pool_backward,
            True,
        )
    for geo in AVG_POOLS:
        c[f"avg_pool2d-{geo}"] = ("avg_pool2d", lambda d, geo=geo: _avg_args(d, geo), _avg, True)
        c[f"avg_pool2d_backward-{geo}"] = (
            "avg_pool2d_backward",
            lambda d, geo=geo: _avg_backward_args(d, geo),
            _avg_backward,
            True,
        )
    for k, affine in ((1, "wb"), (2, "wb"), (1, "w"), (1, "b"), (1, "")):
        c[f"layer_norm-{k}-{affine}"] = (
            "layer_norm",
            lambda d, k=k, a=affine: _ln_args(d, k, a),
            _ln,
            True,
        )
        c[f"layer_norm_backward-{k}-{affine}"] = (
            "layer_norm_backward",
            lambda d, k=k, a=affine: _ln_backward_args(d, k, a),
            _ln_backward,
            True,
        )
    for pad in (None, 3):
        c[f"embedding_backward-{pad}"] = (
            "embedding_backward",
            lambda d, pad=pad: _embedding_args(d, pad),
            _embedding_backward,
            True,
        )
    for beta, th in ((1.0, 20.0), (2.0, 3.0), (0.5, 1.0)):
        c[f"softplus-{beta}-{th}"] = (
            "softplus",
            lambda d, b=beta, t=th: (_pointwise(d)[0], b, t),
            lambda x, b, t: torch.nn.functional.softplus(T(x), b, t),
            True,
        )
        c[f"softplus_backward-{beta}-{th}"] = (
            "softplus_backward",
            lambda d, b=beta, t=th: (*reversed(_pointwise(d)), b, t),
            lambda g, x, b, t: aten.softplus_backward(T(g), T(x), b, t),
            True,
        )
    # torch's relu keeps -0 (x < 0 ? 0 : x); chainrule's is maximum(x, 0), +0 there (as the
    # fused relu of cr.compile): zero signs are compared with the reference only
    c["relu"] = ("relu", lambda d: (_pointwise(d)[0],), lambda x: torch.relu(T(x)), False)
    for uf, tf in ((np.add, torch.add), (np.subtract, torch.sub), (np.multiply, torch.mul),
                   (np.divide, torch.div)):  # fmt: skip
        c[f"arith-{uf.__name__}"] = (
            "arith",
            lambda d, uf=uf: (uf, *_pointwise(d)),
            lambda uf, a, b, tf=tf: tf(T(a), T(b)),
            True,
        )
        c[f"arith-{uf.__name__}-number"] = (
            "arith",
            lambda d, uf=uf: (uf, _pointwise(d)[0], 0.75),
            lambda uf, a, b, tf=tf: tf(T(a), b),
            True,
        )
    c["relu_backward"] = (
        "relu_backward",
        lambda d: (_data((37, 70), d, seed=2), np.maximum(_pointwise(d)[0], 0)),
        lambda g, y: aten.threshold_backward(T(g), T(y), 0),
        True,
    )
    for p in (0.3, 0.9):
        c[f"dropout-{p}"] = ("dropout", lambda d, p=p: _dropout_args(d, p), _dropout, True)
        c[f"dropout_backward-{p}"] = (
            "dropout_backward",
            lambda d, p=p: (_pointwise(d)[0], _keep(p), p),
            lambda g, keep, p: T(g) * (T(keep).to(T(g).dtype) / (1 - p)),
            True,
        )
    for shape in CE_SHAPES:
        for w, ls, ign in ((False, 0.0, -100), (True, 0.0, 1), (False, 0.2, 1), (True, 0.3, -100)):
            key = f"{shape}-{w}-{ls}-{ign}"
            c[f"cross_entropy-{key}"] = (
                "cross_entropy",
                lambda d, s=shape, w=w, ls=ls, i=ign: _ce_args(d, s, w, ls, i),
                _cross_entropy,
                True,
            )
            c[f"cross_entropy_backward-{key}"] = (
                "cross_entropy_backward",
                lambda d, s=shape, w=w, ls=ls, i=ign: _ce_backward_args(d, s, w, ls, i),
                _cross_entropy_backward,
                True,
            )
    for shape in BN_SHAPES:
        c[f"batch_norm_stats-{shape}"] = (
            "batch_norm_stats",
            lambda d, s=shape: (_bn_x(d, s),),
            _bn_stats,
            True,
        )
        for affine in ("wb", "w", ""):
            c[f"batch_norm_elemt-{shape}-{affine}"] = (
                "batch_norm_elemt",
                lambda d, s=shape, a=affine: _bn_elemt_args(d, s, a),
                _bn_elemt,
                True,
            )
            for training in (True, False):
                c[f"batch_norm_backward-{shape}-{affine}-{training}"] = (
                    "batch_norm_backward",
                    lambda d, s=shape, a=affine, t=training: _bn_backward_args(d, s, a, t),
                    _bn_backward,
                    True,
                )
    for k, affine in ((1, True), (2, True), (1, False)):
        c[f"rms_norm-{k}-{affine}"] = (
            "rms_norm",
            lambda d, k=k, a=affine: _rms_args(d, k, a),
            _rms,
            True,
        )
        c[f"rms_norm_backward-{k}-{affine}"] = (
            "rms_norm_backward",
            lambda d, k=k, a=affine: _rms_backward_args(d, k, a),
            _rms_backward,
            True,
        )
    # masks that repeat over leading dims (attention's causal mask), a full one, one that
    # does not repeat as rows (the reference's np.where); numbers as masked_fill passes them
    causal = np.tril(np.ones((64, 64), bool))[None, None] == 0
    every_other = np.arange(37 * 70).reshape(37, 70) % 3 == 0
    for name, shape, mask, value in (
        ("causal", (6, 4, 64, 64), causal, -np.inf),
        ("full", (37, 70), every_other, 2.5),
        ("middle", (6, 4, 64, 64), np.ones((6, 1, 64, 1), bool), 0.0),
    ):
        c[f"masked_fill-{name}"] = (
            "masked_fill",
            lambda d, s=shape, m=mask, v=value: (_data(s, d), m, np.dtype(d).type(v)),
            lambda x, m, v: torch.masked_fill(T(x), T(m), float(v)),
            True,
        )
    # attention's scores in one kernel (cr.compile's rewrite): a causal mask over batch and
    # heads, a full mask, a mask broadcast in the middle (the composition); scale signs
    causal = np.tril(np.ones((64, 64), bool))[None, None] == 0
    for name, shape, mask, scale, fill in (
        ("causal", (3, 2, 64, 64), causal, 0.17677669529663687, -np.inf),
        ("full", (5, 7, 33), np.arange(5 * 7 * 33).reshape(5, 7, 33) % 4 == 1, -0.5, -1e4),
        ("middle", (3, 2, 9, 9), np.ones((3, 1, 9, 1), bool) & (np.arange(9) > 5), 2.0, -np.inf),
    ):
        c[f"scaled_masked_softmax-{name}"] = (
            "scaled_masked_softmax",
            lambda d, s=shape, m=mask, sc=scale, f=fill: (
                _data(s, d, specials=False),
                sc,
                m,
                np.dtype(d).type(f),
                len(s) - 1,
            ),
            lambda x, sc, m, f, dim: torch.softmax(
                torch.masked_fill(T(x) * sc, T(m), float(f)), dim
            ),
            True,
        )
        c[f"scaled_masked_softmax_backward-{name}"] = (
            "scaled_masked_softmax_backward",
            lambda d, s=shape, m=mask, sc=scale, f=fill: (
                _data(s, d, 1),
                torch.softmax(
                    torch.masked_fill(T(_data(s, d, specials=False)), T(m), float(f)), -1
                ).numpy(),
                m,
                sc,
                len(s) - 1,
            ),
            lambda g, y, m, sc, dim: (
                torch.masked_fill(
                    aten._softmax_backward_data(T(g), T(y), dim, T(y).dtype), T(m), 0.0
                )
                * sc
            ),
            True,
        )
    # over every dim but the last (Linear's bias gradient); nan, inf and -0 among the values
    for shape in ((37, 70), (6, 9, 130), (11, 1)):
        c[f"sum_rows-{len(shape)}d-{shape[-1]}"] = (
            "sum_rows",
            lambda d, s=shape: (_data(s, d),),
            lambda x: torch.sum(T(x), dim=tuple(range(x.ndim - 1))),
            True,
        )
    # stacks large enough for the native kernel's threads (products are sums: torch's and
    # NumPy's BLAS order them differently, so no nan/inf here and unit-scale values)
    c["matmul-heads"] = ("matmul", _heads_args, lambda a, b: torch.matmul(T(a), T(b)), False)
    c["matmul-broadcast"] = (
        "matmul",
        lambda d: (
            _data((16, 9), d, scale=1.0, specials=False),
            _data((9, 64, 784), d, seed=1, scale=1.0, specials=False).transpose(1, 0, 2),
        ),
        lambda a, b: torch.matmul(T(a), T(b)),
        False,
    )
    # Linear's forward with a bias: x @ wᵀ (w row-major, so its transpose column-major),
    # an inner dim beyond one BLAS block with a column-major a, and a row-major b; values
    # of about 1 / sqrt(inner), so the sums stay near 1 (BLAS orders them its own way)
    for name, (m, n, p), a_t, b_t in (
        ("linear", (300, 128, 384), False, True),
        ("deep", (70, 700, 90), True, False),
    ):
        c[f"addmm-{name}"] = (
            "addmm",
            lambda d, m=m, n=n, p=p, a_t=a_t, b_t=b_t: (
                _data((p,), d, seed=2, scale=1.0, specials=False),
                _data((n, m), d, scale=n**-0.5, specials=False).T
                if a_t
                else _data((m, n), d, scale=n**-0.5, specials=False),
                _data((p, n), d, seed=1, scale=1.0, specials=False).T
                if b_t
                else _data((n, p), d, seed=1, scale=1.0, specials=False),
            ),
            lambda bias, a, b: torch.addmm(
                T(bias), T(np.ascontiguousarray(a)), T(np.ascontiguousarray(b))
            ),  # fmt: skip
            False,
        )
    return c


def _heads_args(dtype):
    """Attention's per-head products: q (B, H, T, hs) @ kᵀ, both views of one projection."""
    qk = _data((8, 64, 2, 4, 32), dtype, scale=1.0, specials=False)
    q, k = qk[:, :, 0].transpose(0, 2, 1, 3), qk[:, :, 1].transpose(0, 2, 1, 3)
    return q, k.swapaxes(-1, -2)


def _dropout_args(dtype, p):
    return _pointwise(dtype)[0], p, np.random.default_rng(7)


def _keep(p, shape=(37, 70)):
    return np.random.default_rng(7).random(shape) >= p


def _dropout(x, p, rng):
    """torch's dropout is ``input * noise`` with noise = bernoulli(1 - p) / (1 - p): the
    same product on the mask chainrule's stream gives (one float64 draw per element)."""
    keep = _keep(p, x.shape)
    return T(x) * (T(keep).to(T(x).dtype) / (1 - p)), keep


CE_SHAPES = [(37, 10), (6, 9, 5, 4)]


def _ce_args(dtype, shape, weighted, ls, ignore_index):
    x = _data(shape, dtype, specials=False)
    x.reshape(-1)[:2] = [np.nan, np.inf]  # a nan row (or position) and an inf one: nan
    t = np.random.default_rng(5).integers(0, shape[1], (shape[0], *shape[2:]))
    t.reshape(-1)[2:6] = 1  # some ignored when ignore_index is 1
    w = np.random.default_rng(6).random(shape[1]).astype(dtype) + 0.1 if weighted else None
    return x, t, w, ignore_index, ls


def _cross_entropy(x, t, w, ignore_index, ls):
    """torch's log_softmax, its per-element loss and the weight of each element."""
    tw = None if w is None else T(w)
    loss = torch.nn.functional.cross_entropy(
        T(x), T(t), tw, ignore_index=ignore_index, reduction="none", label_smoothing=ls
    )
    valid = T(t) != ignore_index
    wt = torch.ones(t.shape, dtype=T(x).dtype) if w is None else tw[T(t).clamp(0)]
    return torch.log_softmax(T(x), 1), loss, torch.where(valid, wt, 0)


def _ce_backward_args(dtype, shape, weighted, ls, ignore_index):
    x, t, w, _, _ = _ce_args(dtype, shape, weighted, ls, ignore_index)
    g = _data(t.shape, dtype, seed=3, specials=False)
    return g, torch.log_softmax(T(x), 1).numpy(), t, w, ignore_index, ls, x


def _cross_entropy_backward(g, logp, t, w, ignore_index, ls, x):
    xt = T(x).requires_grad_()
    loss = torch.nn.functional.cross_entropy(
        xt, T(t), None if w is None else T(w), ignore_index=ignore_index, reduction="none",
        label_smoothing=ls,
    )  # fmt: skip
    (dx,) = torch.autograd.grad(loss, xt, T(g))
    return dx


BN_SHAPES = [(40, 6), (5, 6, 7, 9)]


def _bn_x(dtype, shape):
    x = _data(shape, dtype, specials=False) + 1.5
    x[0, 0] = np.nan  # a nan channel: nan statistics, as torch
    return x


def _bn_stats(x):
    var, mean = torch.var_mean(T(x), (0, *range(2, x.ndim)), unbiased=False)
    return mean, var


def _bn_vectors(dtype, shape, affine):
    c = shape[1]
    rng = np.random.default_rng(8)
    mean = rng.standard_normal(c).astype(dtype)
    rstd = (rng.random(c) + 0.5).astype(dtype)
    w = rng.standard_normal(c).astype(dtype) if "w" in affine else None
    b = rng.standard_normal(c).astype(dtype) if "b" in affine else None
    return mean, rstd, w, b


def _bn_elemt_args(dtype, shape, affine):
    return (_bn_x(dtype, shape), *_bn_vectors(dtype, shape, affine))


def _bn_elemt(x, mean, rstd, w, b):
    per = (1, -1) + (1,) * (x.ndim - 2)
    y = (T(x) - T(mean).reshape(per)) * T(rstd).reshape(per)
    y = y if w is None else y * T(w).reshape(per)
    return y if b is None else y + T(b).reshape(per)


def _bn_backward_args(dtype, shape, affine, training):
    x = _data(shape, dtype, specials=False)
    mean, rstd, w, _ = _bn_vectors(dtype, shape, affine)
    if training:  # the batch's own statistics
        var, m = torch.var_mean(T(x), (0, *range(2, x.ndim)), unbiased=False)
        mean, rstd = m.numpy(), torch.rsqrt(var + 1e-5).numpy()
    g = _data(shape, dtype, seed=3, specials=False)
    return g, x, mean, rstd, w, training


def _bn_backward(g, x, mean, rstd, w, training):
    """torch's native_batch_norm_backward; in eval the running variance that gives rstd
    (eps 0). Without a weight torch gives no dw: the sum of g * xhat."""
    rv = 1 / T(rstd).double() ** 2
    rv = rv.to(T(x).dtype)
    dx, dw, db = aten.native_batch_norm_backward(
        T(g), T(x), None if w is None else T(w), T(mean), rv, T(mean), T(rstd), training, 0.0,
        [True, w is not None, True],
    )  # fmt: skip
    if training or dw is None:
        per = (1, -1) + (1,) * (x.ndim - 2)
        xhat = (T(x) - T(mean).reshape(per)) * T(rstd).reshape(per)
        dw = (T(g) * xhat).sum((0, *range(2, x.ndim)))
    if not training:  # torch's eval dx reads rstd from the variance: ours from rstd itself
        per = (1, -1) + (1,) * (x.ndim - 2)
        f = T(rstd) if w is None else T(w) * T(rstd)
        dx = T(g) * f.reshape(per)
    return dx, dw, db


RMS_SHAPE = (5, 6, 70)


def _rms_args(dtype, k, affine):
    x = _data(RMS_SHAPE, dtype, specials=False)
    x[0, 0, 3], x[1, 1, 0] = np.nan, np.inf  # a nan row and an inf row, as torch
    w = _data(RMS_SHAPE[3 - k :], dtype, seed=1, specials=False) if affine else None
    return x, w, 1e-6, k


def _rms(x, w, eps, k):
    shape = RMS_SHAPE[3 - k :]
    y = torch.nn.functional.rms_norm(T(x), shape, None if w is None else T(w), eps)
    rstd = torch.rsqrt((T(x) * T(x)).mean(tuple(range(3 - k, 3)), keepdim=True) + eps)
    return y, rstd


def _rms_backward_args(dtype, k, affine):
    x, w, eps, _ = _rms_args(dtype, k, affine)
    x = _data(RMS_SHAPE, dtype, specials=False)
    _, rstd = _rms(x, w, eps, k)
    return _data(RMS_SHAPE, dtype, seed=3, specials=False), x, rstd.numpy(), w, k


def _rms_backward(g, x, rstd, w, k):
    xt = T(x).requires_grad_()
    wt = None if w is None else T(w).requires_grad_()
    y = torch.nn.functional.rms_norm(xt, RMS_SHAPE[3 - k :], wt, 1e-6)
    grads = torch.autograd.grad(y, [xt] + ([wt] if w is not None else []), T(g))
    if w is None:
        xhat = T(x) * T(rstd)
        return grads[0], (T(g) * xhat).sum(tuple(range(3 - k)))
    return grads


LN_SHAPE = (5, 6, 70)


def _ln_args(dtype, k, affine, seed=0):
    x = _data(LN_SHAPE, dtype, seed=seed, specials=False)
    x[0, 0, 3], x[1, 1, 0] = np.nan, np.inf  # a nan row and an inf row: nan, as torch
    tail = LN_SHAPE[3 - k :]
    w = _data(tail, dtype, seed=1, specials=False) if "w" in affine else None
    b = _data(tail, dtype, seed=2, specials=False) if "b" in affine else None
    return x, w, b, 1e-5, k


def _ln(x, w, b, eps, k):
    """torch's (y, mean, rstd). Its mean of a row holding inf is nan (Welford's update),
    the two-pass mean's is inf: the saved mean is internal (y and rstd are nan alike)."""
    opt = lambda a: None if a is None else T(a)  # noqa: E731
    y, mu, rstd = aten.native_layer_norm(T(x), LN_SHAPE[3 - k :], opt(w), opt(b), eps)
    two_pass = x.mean(axis=tuple(range(3 - k, 3)), keepdims=True)
    return y, torch.where(torch.isinf(T(two_pass)), T(two_pass), mu), rstd


def _ln_backward_args(dtype, k, affine):
    x, w, b, eps, _ = _ln_args(dtype, k, affine)
    x = _data(LN_SHAPE, dtype, specials=False)
    _, mu, rstd = _ln(x, w, b, eps, k)
    g = _data(LN_SHAPE, dtype, seed=3, specials=False)
    return g, x, mu.numpy(), rstd.numpy(), w, k


def _ln_backward(g, x, mu, rstd, w, k):
    """torch's (dx, dw, db); without a weight torch gives no dw: the sum of g * xhat."""
    shape = LN_SHAPE[3 - k :]
    tw = None if w is None else T(w)
    dx, dw, db = aten.native_layer_norm_backward(
        T(g), T(x), shape, T(mu), T(rstd), tw, torch.zeros(shape, dtype=T(x).dtype),
        [True, w is not None, True])  # fmt: skip
    if dw is None:
        lead = tuple(range(3 - k))
        dw = (T(g) * (T(x) - T(mu)) * T(rstd)).sum(lead)
    return dx, dw, db


def _embedding_args(dtype, pad):
    index = np.random.default_rng(4).integers(0, 11, 300)
    index[:3] = 3  # repeats, and the padding row
    return _data((300, 20), dtype, specials=False), index, 11, pad


def _embedding_backward(g, index, num, pad):
    return aten.embedding_dense_backward(T(g), T(index), num, -1 if pad is None else pad, False)


# convolution: (kernel, stride, padding, dilation); pooling: + ceil_mode
GEOMETRIES = [(3, 1, 1, 1), (3, 2, 0, 1), (2, 1, 2, 2), (5, 3, 2, 1)]
POOLS = [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (2, 1, 1, 2, False), (3, 3, 1, 1, True)]
X_SHAPE = (3, 4, 11, 9)


def _image(dtype, seed=0):
    x = _data(X_SHAPE, dtype, seed=seed, specials=False)
    x[0, 0, 0, :4], x[0, 1, :3, :3] = [np.nan, np.inf, -np.inf, -0.0], -np.inf  # -inf windows
    x[1, 0, 2, :4] = [0.0, -0.0, -0.0, 0.0]  # ties of zeros: the first position wins
    x[1, 1, :, 4] = 1.5  # ties
    return x


def _conv_geometry(geo, x_shape=X_SHAPE):
    k, s, p, d = geo
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n in x_shape[2:])
    return (k, k), (s, s), ((p, p), (p, p)), (d, d), out


def _unfold(x, kernel, stride, padding, dilation, out_hw):
    u = torch.nn.functional.unfold(T(x), kernel, dilation, padding[0][0], stride)
    return u.permute(1, 0, 2).reshape(u.shape[1], -1)


def _fold_args(dtype, geo):
    kernel, stride, padding, dilation, out_hw = _conv_geometry(geo)
    rows = X_SHAPE[1] * kernel[0] * kernel[1]
    cols = _data((rows, X_SHAPE[0] * out_hw[0] * out_hw[1]), dtype, specials=False)
    return cols, X_SHAPE, kernel, stride, padding, dilation, out_hw


def _fold(cols, x_shape, kernel, stride, padding, dilation, out_hw):
    u = T(cols).reshape(cols.shape[0], x_shape[0], -1).permute(1, 0, 2)
    return torch.nn.functional.fold(u, x_shape[2:], kernel, dilation, padding[0][0], stride)


def _pool_args(dtype, geo):
    from chainrule.ops.conv.pooling import _pool_geometry

    k, s, p, d, ceil = geo
    g, _, out_hw = _pool_geometry(X_SHAPE, 2, k, s, p, d, ceil)
    return _image(dtype), g.k, g.stride, g.pad, g.dilation, out_hw


def _torch_pool(x, kernel, stride, padding, dilation, out_hw):
    """torch's max_pool2d on the same geometry (ceil_mode where the output needs it)."""
    for ceil in (False, True):
        y, i = torch.nn.functional.max_pool2d(
            T(x), kernel, stride, padding[0][0], dilation, ceil_mode=ceil, return_indices=True
        )
        if tuple(y.shape[2:]) == tuple(out_hw):
            return y, i, ceil
    raise AssertionError("no torch geometry gives this output size")


def _max_pool(x, *geo):
    y, i, _ = _torch_pool(x, *geo)
    return y, i


def _pool_backward_args(dtype, geo):
    x, *g = _pool_args(dtype, geo)
    _, index, _ = _torch_pool(x, *g)
    grad = _data(tuple(index.shape), dtype, seed=3, specials=False)
    return grad, index.numpy(), X_SHAPE, x, g


def _max_pool_backward(grad, index, x_shape, x, geo):
    kernel, stride, padding, dilation, _ = geo
    _, i, ceil = _torch_pool(x, *geo)
    return aten.max_pool2d_with_indices_backward(
        T(grad), T(x), kernel, stride, padding[0][0], dilation, ceil, i
    )


# average pooling: (kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_POOLS = [
    (2, 2, 0, False, True, None),
    (3, 2, 1, True, True, None),  # windows past the padding (ceil_mode): not counted
    (3, 2, 1, True, False, None),
    (3, 1, 1, False, False, None),
    ((2, 3), (1, 2), (1, 1), False, True, 5),
]


def _avg_geometry(geo):
    from chainrule.ops.conv.pooling import _pool_geometry

    k, s, p, ceil, include, divisor = geo
    g, pads, out_hw = _pool_geometry(X_SHAPE, 2, k, s, p, 1, ceil)
    return g.k, g.stride, pads, out_hw, include, divisor or 0


def _avg_args(dtype, geo):
    return (_image(dtype), *_avg_geometry(geo))


def _torch_avg_args(geo):
    k, s, p, ceil, include, divisor = geo
    return k, s, p, ceil, include, divisor


def _avg(x, *kernel_args):
    for g in AVG_POOLS:  # the case's own torch arguments (ceil_mode is not a kernel arg)
        if _avg_geometry(g) == tuple(kernel_args):
            return aten.avg_pool2d(T(x), *_torch_avg_args(g))
    raise AssertionError("no case with this geometry")


def _avg_backward_args(dtype, geo):
    x = _image(dtype)
    kernel_args = _avg_geometry(geo)
    grad = _data((*X_SHAPE[:2], *kernel_args[3]), dtype, seed=3, specials=False)
    return (grad, X_SHAPE, *kernel_args, x)


def _avg_backward(grad, x_shape, *rest):
    *kernel_args, x = rest
    for g in AVG_POOLS:
        if _avg_geometry(g) == tuple(kernel_args):
            return aten.avg_pool2d_backward(T(grad), T(x), *_torch_avg_args(g))
    raise AssertionError("no case with this geometry")


CASES = _cases()


def _check(ours, theirs, dtype, signs=True):
    if isinstance(ours, tuple):  # (values, indices), (y, mean, rstd) ...
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            if a.dtype in (np.int64, np.bool_):
                np.testing.assert_array_equal(a, b.numpy() if isinstance(b, torch.Tensor) else b)
            else:
                _check(a, b, dtype, signs)
        return
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else theirs
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, equal_nan=True, **TOL[dtype])
    if signs:
        zeros = (ours == 0) & (theirs == 0)
        assert (np.signbit(ours[zeros]) == np.signbit(theirs[zeros])).all(), "sign of zero"


@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_matches_torch(backend_name, case, dtype, strided):
    name, args, want, signs = CASES[case]
    args = args(dtype)
    i = 1 if name == "arith" else 0  # the first array (arith's first argument: the ufunc)
    ours_args = (*args[:i], _strided(args[i]), *args[i + 1 :]) if strided else args
    with np.errstate(all="ignore"):
        ours = TABLES[backend_name][name](*ours_args[: _KERNEL_ARGS.get(name)])
    _check(ours, want(*args), dtype, signs)


# the rest of a case's args are for torch
_KERNEL_ARGS = {"max_pool2d_backward": 3, "avg_pool2d_backward": 8, "cross_entropy_backward": 6}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_native_matches_reference(case, dtype):
    name, args, _, _ = CASES[case]
    n = _KERNEL_ARGS.get(name)
    with np.errstate(all="ignore"):  # fresh args for each (dropout's generator is consumed)
        _check(TABLES["native"][name](*args(dtype)[:n]), TABLES["numpy"][name](*args(dtype)[:n]),
               dtype)  # fmt: skip


def test_every_kernel_is_tested_and_in_both_tables():
    """The tables hold the same names (a backend is one table, not a rewrite)."""
    assert sorted(TABLES["native"]) == sorted(TABLES["numpy"])
    in_place = {"sgd_step", "adam_step"}  # tested by their own functions below
    assert {case[0] for case in CASES.values()} | in_place == set(TABLES["numpy"])
    for name, fn in TABLES["native"].items():
        assert fn.__name__ == name and fn.__doc__ == TABLES["numpy"][name].__doc__


# ------------------------------------------------------------- in-place optimizer updates


def _opt_arrays(dtype, n=1000):
    rng = np.random.default_rng(5)
    return [rng.standard_normal(n).astype(dtype) for _ in range(4)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("momentum, dampening, nesterov", [(0, 0, False), (0.9, 0.1, False),
                                                           (0.9, 0, True)])  # fmt: skip
def test_sgd_step(backend_name, dtype, momentum, dampening, nesterov):
    p, g, buf, _ = _opt_arrays(dtype)
    pt = torch.tensor(p, requires_grad=True)
    pt.grad = torch.tensor(g)
    opt = torch.optim.SGD([pt], lr=0.05, momentum=momentum, dampening=dampening,
                          nesterov=nesterov)  # fmt: skip
    if momentum:
        opt.state[pt]["momentum_buffer"] = torch.tensor(buf)
    opt.step()
    ours_buf = buf.copy() if momentum else None
    TABLES[backend_name]["sgd_step"](p, g, ours_buf, 0.05, momentum, dampening, nesterov)
    _check(p, pt.detach(), dtype)
    if momentum:
        _check(ours_buf, opt.state[pt]["momentum_buffer"], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("beta1", [0.9, 0.3])  # torch's lerp: either endpoint as the base
@pytest.mark.parametrize("decoupled, weight_decay", [(False, 0), (True, 0), (True, 0.1)])
def test_adam_step(backend_name, dtype, beta1, decoupled, weight_decay):
    """One step of torch's Adam/AdamW; AdamW's decay ``p *= 1 - lr * wd`` in the kernel."""
    p, g, m, v = _opt_arrays(dtype)
    v = v * v
    beta2, lr, eps, step = 0.999, 1e-3, 1e-8, 3
    pt = torch.tensor(p, requires_grad=True)
    pt.grad = torch.tensor(g)
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    opt = cls([pt], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    opt.state[pt] = {"step": torch.tensor(float(step - 1)), "exp_avg": torch.tensor(m),
                     "exp_avg_sq": torch.tensor(v)}  # fmt: skip
    opt.step()
    step_size, bc2 = lr / (1 - beta1**step), (1 - beta2**step) ** 0.5
    TABLES[backend_name]["adam_step"](p, g, m, v, beta1, beta2, step_size, bc2, eps,
                                      1 - lr * weight_decay)  # fmt: skip
    _check(p, pt.detach(), dtype)
    _check(m, opt.state[pt]["exp_avg"], dtype)
    _check(v, opt.state[pt]["exp_avg_sq"], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_native_updates_are_the_references_bits(dtype):
    """The fused loops round exactly as the NumPy sequence (no contraction, scalars
    rounded to the dtype first)."""
    results = {}
    for name in ("numpy", "native"):
        p, g, buf, v = _opt_arrays(dtype)
        k = TABLES[name]
        k["sgd_step"](p, g, buf, 0.05, 0.9, 0.1, True)
        k["adam_step"](p, g, buf, v * v, 0.9, 0.999, 1e-3 / (1 - 0.9**2), 0.04, 1e-8)
        k["adam_step"](p, g, buf, v * v, 0.9, 0.999, 1e-3 / (1 - 0.9**3), 0.05, 1e-8, 0.999)
        results[name] = (p, buf)
    for a, b in zip(results["numpy"], results["native"]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_rows_underflow_as_reference(name, dtype):
    """A causal attention row: half -inf, and entries whose exp underflows to a denormal or
    to exactly 0. The native kernel skips exp where it is exactly +0 (-inf, far below the
    row's max) and must not cut any further: zeros, denormals and values as the reference
    and torch."""
    rng = np.random.default_rng(7)
    x = -rng.uniform(0.0, 5.0, (6, 64, 64)).astype(dtype)
    x[:, :, 0] = 0.0  # the max of each row: x itself is the shifted value
    x[:, :, 1:9] = np.array([-100, -103.9, -104, -104.1, -744, -745.1, -746, -1e30], dtype)
    x[:, np.triu_indices(64, 10)[0], np.triu_indices(64, 10)[1]] = -np.inf
    x[0, 0, :] = -np.inf  # a fully masked row: nan, as torch
    ref = TABLES["numpy"][name](x, 2)
    got = TABLES["native"][name](x, 2)
    want = getattr(torch, name)(T(x), 2).numpy()
    for a in (got, want):
        np.testing.assert_array_equal(np.isnan(a), np.isnan(ref))
        np.testing.assert_array_equal(a == 0, ref == 0)  # no denormal cut to zero
        np.testing.assert_allclose(a, ref, rtol=TOL[dtype]["rtol"], atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "geo, shape",
    [((2, 2, 0, 1, False), (2, 3, 6, 1100)), ((3, 1, 1, 1, False), (2, 3, 6, 1100)),
     ((3, 2, 1, 2, True), (2, 3, 6, 1100)),
     ((2, 2, 0, 1, False), (2, 3, 41, 50)), ((3, 2, 0, 2, False), (2, 3, 41, 50))],
)  # fmt: skip
def test_max_pool2d_chunks(backend_name, dtype, geo, shape):
    """More outputs than the native kernel's chunk (256): rows wider than it, or planes of
    short rows taken whole; with nan, inf, -0 and ties inside and at the chunks' borders:
    values and indices as torch's."""
    from chainrule.ops.conv.pooling import _pool_geometry

    x = _data(shape, dtype, seed=7)
    x[0, 0, :, 510:514] = np.nan
    x[1, 2, 1, 500:530] = 2.5  # ties across the chunk border
    x[0, 1, :2, 511:513] = -0.0
    x[0, 0, 20:24, :] = np.nan
    x[1, 1, 20:22, :] = 1.25
    x[1, 2, 21:23, :] = -0.0
    k, s, p, d, ceil = geo
    g, _, out_hw = _pool_geometry(x.shape, 2, k, s, p, d, ceil)
    ours = TABLES[backend_name]["max_pool2d"](x, g.k, g.stride, g.pad, g.dilation, out_hw)
    y, i = torch.nn.functional.max_pool2d(T(x), k, s, p, d, ceil_mode=ceil, return_indices=True)
    _check(ours, (y, i), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_native_gelu_tanh_has_no_cancellation(dtype):
    """The native tanh-form gelu is x * sigmoid(2u) (cr_gelu): the same function as torch's
    0.5 x (1 + tanh(u)), without that sum's cancellation where tanh(u) is near -1 (x below
    about -4), where torch's float32 kernel and the NumPy reference lose every digit. Against
    the logistic form in float64 on the same inputs, over [-12, 12]: a few float32 ulps,
    amplified only by exp's argument (|2u| up to ~100)."""
    x = np.linspace(-12, 12, 24001).astype(dtype)
    g = np.cos(np.arange(x.size)).astype(dtype)
    x64, g64 = x.astype(np.float64), g.astype(np.float64)
    u = 0.7978845608028654 * (x64 + 0.044715 * x64**3)
    s = 1 / (1 + np.exp(-2 * u))
    want = x64 * s
    want_grad = g64 * (s + 2 * x64 * s * (1 - s) * 0.7978845608028654 * (1 + 3 * 0.044715 * x64**2))
    tol = dict(rtol=2e-5, atol=1e-36) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-300)
    native = TABLES["native"]
    np.testing.assert_allclose(native["gelu"](x, "tanh"), want, **tol)
    np.testing.assert_allclose(native["gelu_backward"](g, x, "tanh"), want_grad, rtol=tol["rtol"],
                               atol=5e-7 if dtype == np.float32 else 1e-15)  # fmt: skip


def test_sum_rows_has_numpys_bits():
    """The native column sums add the rows in NumPy's order from +0: the same bits as
    ``np.sum`` over the leading dims (so a step's bias gradients do not move with the path)."""
    rng = np.random.default_rng(12)
    for trial in range(60):
        shape = tuple(int(n) for n in rng.integers(1, 30, int(rng.integers(2, 5))))
        shape = (*shape[:-1], int(rng.integers(2, 300)))
        dtype = DTYPES[trial % 2]
        x = (rng.standard_normal(shape) * 10 ** rng.uniform(-4, 4, shape)).astype(dtype)
        x[rng.random(shape) < 0.1] = -0.0
        ours = TABLES["native"]["sum_rows"](x)
        want = np.sum(x, axis=tuple(range(x.ndim - 1)))
        assert ours.dtype == want.dtype and ours.tobytes() == want.tobytes(), shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_scaled_masked_softmax_has_the_three_kernels_bits(dtype):
    """The fused kernels compute what softmax(masked_fill(x * scale)) and its gradient
    compute eagerly with the native kernels, bit for bit (cr.compile's rewrite)."""
    N = TABLES["native"]
    rng = np.random.default_rng(3)
    for trial in range(40):
        b, h, t = (*(int(n) for n in rng.integers(1, 5, 2)), int(rng.integers(1, 100)))
        x = (rng.standard_normal((b, h, t, t)) * 10 ** rng.uniform(-2, 2)).astype(dtype)
        x.reshape(-1)[:2] = [np.nan, -0.0]
        causal = (np.tril(np.ones((t, t), bool)) == 0)[None, None]
        mask = causal if trial % 2 else rng.random(x.shape) < 0.3
        scale = float(rng.uniform(-2, 2))
        fill = dtype(-np.inf) if trial % 3 else dtype(-1e4)
        g = rng.standard_normal(x.shape).astype(dtype)
        with np.errstate(all="ignore"):
            y = N["softmax"](N["masked_fill"](np.multiply(x, scale), mask, fill), 3)
            gx = np.multiply(
                N["masked_fill"](N["softmax_backward"](g, y, 3), mask, dtype(0)), scale
            )
            assert N["scaled_masked_softmax"](x, scale, mask, fill, 3).tobytes() == y.tobytes()
            assert (
                N["scaled_masked_softmax_backward"](g, y, mask, scale, 3).tobytes() == gx.tobytes()
            )

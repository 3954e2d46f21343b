"""The NumPy kernels: the readable reference of every kernel in the dispatch table, and
the fallback wherever the native ones do not apply (no compiler, another dtype, a strided
array, ``CHAINRULE_NATIVE=0``).

A kernel is a plain array function: arrays in, a new array out, nothing recorded. Its
native twin (native.py) must give the same values within rounding (tests/backend)."""

from __future__ import annotations

import math

import numpy as np

from chainrule._fp import quiet
from chainrule.backend import numpy_loss, numpy_norm
from chainrule.backend.numpy_norm import mean_keepdims
from chainrule.backend.select import select
from chainrule.backend.special import _erf, _sigmoid

_SQRT1_2 = 1 / math.sqrt(2)
_PHI = 1 / math.sqrt(2 * math.pi)
_BETA = math.sqrt(2 / math.pi)  # tanh approximation: tanh(beta * (x + kappa x^3))
_KAPPA = 0.044715

# --------------------------------------------------------------------------- pointwise


def _gelu_inner(x: np.ndarray, approximate: str) -> np.ndarray:
    """The cdf ``Phi(x)``, or for 'tanh' the ``tanh(beta (x + kappa x^3))``."""
    if approximate == "tanh":
        return np.tanh(_BETA * (x + _KAPPA * x * x * x))
    return 0.5 * (1 + _erf(x * _SQRT1_2))


def gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    """Exact: ``x * Phi(x)``; 'tanh': ``0.5 x (1 + tanh(beta (x + kappa x^3)))``."""
    inner = _gelu_inner(x, approximate)
    if approximate == "tanh":
        return (0.5 * x * (1 + inner)).astype(x.dtype, copy=False)
    return (x * inner).astype(x.dtype, copy=False)


def gelu_backward(g: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray:
    """``g * gelu'(x)``, recomputed from x (as torch's GeluBackward)."""
    inner = _gelu_inner(x, approximate)
    if approximate == "tanh":
        t = inner
        left = 0.5 * (1 + t)
        right = 0.5 * x * (1 - t * t) * _BETA * (1 + 3 * _KAPPA * x * x)
        return g * (left + right)
    return g * (inner + x * _PHI * np.exp(-0.5 * x * x))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function (exp of -|x| only: nothing overflows)."""
    return _sigmoid(x)


def sigmoid_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``g * y * (1 - y)``, y the sigmoid's output."""
    return g * y * (1 - y)


_ONES: dict[np.dtype, np.ndarray] = {}  # a 0-d one per float dtype: `one - a` is `1 - a`
# (the same dtype, the same values) without NumPy converting a Python 1 on every call


def tanh_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``g * (1 - y * y)``, y the tanh's output."""
    one = _ONES.get(y.dtype)
    if one is None:
        if y.dtype.kind not in "fc":
            return g * (1 - y * y)
        one = _ONES[y.dtype] = np.ones((), y.dtype)
    return g * (one - y * y)


def silu(x: np.ndarray) -> np.ndarray:
    """``x * sigmoid(x)``."""
    return (x * _sigmoid(x)).astype(x.dtype, copy=False)


def silu_backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g * s * (1 + x (1 - s))`` with s = sigmoid(x)."""
    s = _sigmoid(x)
    return g * s * (1 + x * (1 - s))


def softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """``x`` where ``beta x > threshold``, else ``log1p(exp(beta x)) / beta``."""
    bx = x * beta
    linear = bx > threshold
    bx = select(linear, 0, bx)
    return select(linear, x, np.log1p(np.exp(bx)) / beta).astype(x.dtype, copy=False)


def softplus_backward(g: np.ndarray, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """``g`` where ``beta x > threshold``, else ``g * sigmoid(beta x)``, with ``beta x`` taken
    as the threshold where it equals it (torch's softplus_backward; a nan gives nan)."""
    bx = x * beta
    linear, below = bx > threshold, ~(bx >= threshold)
    s = _sigmoid(select(below, bx, np.asarray(threshold, x.dtype)))
    return select(linear, g, g * s)


def relu(x: np.ndarray) -> np.ndarray:
    """``maximum(x, 0)``: a nan passes, -0 gives +0."""
    return np.maximum(x, 0)


def relu_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """torch's threshold_backward: ``g`` where relu's output ``y`` is not ``<= 0`` (a nan
    passes ``g``), else +0 (a masked inf or nan gradient is +0 too). ``y`` is >= 0 or nan as
    relu made it, but a write through ``.data`` may have put a negative value there."""
    return select(~(y <= 0), g, 0.0)


# --------------------------------------------------------------------------- dropout


def masked_fill(x: np.ndarray, mask: np.ndarray, value) -> np.ndarray:
    """``value`` where the (broadcasting) bool ``mask`` is set, ``x`` elsewhere, in x's
    dtype (a number is cast to it as NumPy casts)."""
    shape = np.broadcast_shapes(x.shape, mask.shape)
    out = np.empty(shape, x.dtype)  # x, then value where the mask is (np.where's values
    np.copyto(out, x)  # in two plain passes: ~1.5x faster on W6's attention scores)
    np.copyto(out, value, where=mask, casting="unsafe")
    return out


def dropout(x: np.ndarray, p: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(x * mask, keep)``: ``keep = rng.random(x.shape) >= p`` (one float64 draw per
    element, chainrule's stream), ``mask = keep * (1 / (1 - p))`` in x's dtype."""
    keep = rng.random(x.shape) >= p
    return x * np.multiply(keep, 1.0 / (1.0 - p), dtype=x.dtype), keep


def dropout_backward(g: np.ndarray, keep: np.ndarray, p: float) -> np.ndarray:
    """``g * mask``, the mask of the forward (``keep * (1 / (1 - p))``)."""
    return g * np.multiply(keep, 1.0 / (1.0 - p), dtype=g.dtype)


# --------------------------------------------------------------------------- softmax


@quiet
def logsumexp_parts(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """``x - max(x)`` along ``dim`` and ``log(sum(exp(that)))``: nothing overflows. A 0-d
    ``x`` is its own max (so inf and nan give nan, as in torch); an empty one stays empty."""
    if not x.ndim or not x.size:
        s = x - x
        return s, s
    s = x - np.maximum.reduce(x, axis=dim, keepdims=True)
    return s, np.log(np.add.reduce(np.exp(s), axis=dim, keepdims=True))


@quiet
def softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """``exp(x - max) / sum`` in three passes, in place on one fresh array."""
    if not x.ndim or not x.size:
        s, lse = logsumexp_parts(x, dim)
        return np.exp(s - lse)
    e = np.subtract(x, np.maximum.reduce(x, axis=dim, keepdims=True))
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=dim, keepdims=True)
    return e


@quiet
def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """``x - max - log(sum(exp(x - max)))``."""
    s, lse = logsumexp_parts(x, dim)
    if not x.ndim or not x.size:
        return s - lse
    s -= lse
    return s


def softmax_backward(g: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """``y * (g - sum(g * y))``, y the softmax."""
    out = g - np.add.reduce(g * y, axis=dim if y.ndim else None, keepdims=True)
    out *= y
    return out


def scaled_masked_softmax(x: np.ndarray, scale, mask: np.ndarray, value, dim: int) -> np.ndarray:
    """``softmax(masked_fill(x * scale, mask, value), dim)``: attention's scores, the three
    kernels cr.compile's rewrite runs as one (their composition here: the same bits)."""
    return softmax(masked_fill(np.multiply(x, scale), mask, value), dim)


def scaled_masked_softmax_backward(g: np.ndarray, y: np.ndarray, mask: np.ndarray, scale,
                                   dim: int) -> np.ndarray:  # fmt: skip
    """Its gradient: ``softmax_backward(g, y)`` with 0 where the mask is set, times scale."""
    return np.multiply(masked_fill(softmax_backward(g, y, dim), mask, y.dtype.type(0)), scale)


@quiet
def log_softmax_backward(g: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """``g - exp(y) * sum(g)``, y the log_softmax."""
    if not y.ndim:
        return g - np.exp(y) * g
    e = np.exp(y)
    e *= np.add.reduce(g, axis=dim, keepdims=True)
    return np.subtract(g, e, out=e)


# ------------------------------------------------------------------------ matrix products


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` with NumPy's rules: for a stack, one BLAS GEMM per matrix pair, in turn
    (the native kernel splits the pairs of a large stack over its threads)."""
    return np.matmul(a, b)


def addmm(bias: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``bias + a @ b`` (torch's addmm; Linear's forward with a bias): a (m, n), b (n, p),
    bias (p,) broadcast over the rows. The native kernel adds the bias inside the GEMM."""
    out = np.matmul(a, b)
    out += bias
    return out


# --------------------------------------------------------------- convolution and pooling
# Geometry as plain tuples: kernel (KH, KW), stride, dilation, out_hw (OH, OW), and padding
# ((top, bottom), (left, right)); x is (N, C, H, W).


def _padded(x: np.ndarray, padding: tuple, value: float = 0.0) -> np.ndarray:
    (pt, pb), (pl, pr) = padding
    if pt or pb or pl or pr:
        return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=value)
    return x


def window_slices(kernel: tuple, stride: tuple, dilation: tuple, out_hw: tuple) -> list:
    """The (rows, cols) slices of the padded input read by each kernel offset, in order."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_hw
    return [
        (
            slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (ow - 1) + 1, sw),
        )
        for i in range(kh)
        for j in range(kw)
    ]


def im2col(x, kernel, stride, padding, dilation, out_hw) -> np.ndarray:
    """im2col, channels first: (C*KH*KW, N*OH*OW), built with one strided copy per kernel
    offset (contiguous inner loops), ready for a single GEMM with the weight."""
    xp = _padded(x, padding)
    n, c = x.shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    cols = np.empty((c, kh, kw, n, oh, ow), dtype=x.dtype)
    slices = iter(window_slices(kernel, stride, dilation, out_hw))
    for i in range(kh):
        for j in range(kw):
            rows, cs = next(slices)
            cols[:, i, j] = xp[:, :, rows, cs].transpose(1, 0, 2, 3)
    return cols.reshape(c * kh * kw, n * oh * ow)


def col2im(gcols, x_shape, kernel, stride, padding, dilation, out_hw) -> np.ndarray:
    """The adjoint of im2col: (C*KH*KW, N*OH*OW) window gradients added back into an
    (N, C, H, W) gradient, one kernel offset after another."""
    n, c = x_shape[:2]
    (kh, kw), (oh, ow) = kernel, out_hw
    gcols = gcols.reshape(c, kh, kw, n, oh, ow)
    (pt, pb), (pl, pr) = padding
    h, wd = x_shape[2] + pt + pb, x_shape[3] + pl + pr
    gx = np.zeros((n, c, h, wd), dtype=gcols.dtype)
    slices = iter(window_slices(kernel, stride, dilation, out_hw))
    for i in range(kh):
        for j in range(kw):
            rows, cs = next(slices)
            gx[:, :, rows, cs] += gcols[:, i, j].transpose(1, 0, 2, 3)
    return gx[:, :, pt : h - pb, pl : wd - pr]


def _pool_positions(x_shape, kernel, stride, padding, dilation, out_hw):
    """For each kernel offset, in window order: the flat position it reads in its H*W
    plane and whether that is inside the plane (not padding), both (OH, OW)."""
    h, w = x_shape[2:]
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    oh, ow = out_hw
    rows = np.arange(oh).reshape(-1, 1) * sh - padding[0][0]
    cols = np.arange(ow) * sw - padding[1][0]
    out = []
    for i in range(kh):
        for j in range(kw):
            r, c = rows + i * dh, cols + j * dw
            out.append((r * w + c, ((r >= 0) & (r < h)) & ((c >= 0) & (c < w))))
    return out


def max_pool2d(x, kernel, stride, padding, dilation, out_hw) -> tuple[np.ndarray, np.ndarray]:
    """The maximum of every window and its position within its H*W plane, as torch picks
    it: positions inside x are scanned in order, a later value wins if greater or nan (a
    window of -inf keeps its first position)."""
    xp = _padded(x, padding, -np.inf)
    at = _pool_positions(x.shape, kernel, stride, padding, dilation, out_hw)
    views = [xp[:, :, r, c] for r, c in window_slices(kernel, stride, dilation, out_hw)]
    first = np.zeros(out_hw, dtype=np.int64)
    for pos, inside in reversed(at):
        np.copyto(first, pos, where=inside)
    index = np.empty((*x.shape[:2], *out_hw), dtype=np.int64)
    index[...] = first
    best = views[0].copy()
    for v in views[1:]:
        np.maximum(best, v, out=best)
    if not np.isnan(best).any():  # the earliest position inside x holding the maximum
        for (pos, inside), v in zip(reversed(at), reversed(views)):
            np.copyto(index, pos, where=(v == best) & inside)
        n, c = x.shape[:2]  # the values at those positions (the first of +0 and -0)
        flat = index.reshape(n, c, -1)
        return np.take_along_axis(x.reshape(n, c, -1), flat, 2).reshape(index.shape), index
    best = np.full(index.shape, -np.inf, dtype=x.dtype)
    for (pos, inside), v in zip(at, views):
        wins = ((v > best) | np.isnan(v)) & inside
        np.copyto(best, v, where=wins)
        np.copyto(index, pos, where=wins)
    return best, index


def max_pool2d_backward(g: np.ndarray, index: np.ndarray, x_shape: tuple) -> np.ndarray:
    """Each output gradient added at its window's maximum (duplicates add up)."""
    n, c, h, w = x_shape
    flat = np.arange(0, n * c * h * w, h * w).reshape(n, c, 1, 1) + index
    out = np.bincount(flat.ravel(), weights=g.ravel().astype(np.float64), minlength=n * c * h * w)
    return out.astype(g.dtype).reshape(x_shape)


def avg_windows(shape, kernel, stride, padding, out_hw, count_include_pad, divisor):
    """torch's divisor of each (OH, OW) window (its count with or without the padding, or
    ``divisor``) and the zero padding to add below and right so every window fits."""
    h, w = shape[2:]
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel, stride, padding, out_hw
    h0, w0 = np.arange(oh) * sh - ph, np.arange(ow) * sw - pw
    h1, w1 = np.minimum(h0 + kh, h + ph), np.minimum(w0 + kw, w + pw)
    if divisor:
        div = np.full((oh, ow), divisor, dtype=np.int64)
    elif count_include_pad:
        div = np.outer(h1 - h0, w1 - w0)
    else:
        rows = np.minimum(h1, h) - np.maximum(h0, 0)
        div = np.outer(rows, np.minimum(w1, w) - np.maximum(w0, 0))
    extra = (max(0, (oh - 1) * sh + kh - h - 2 * ph), max(0, (ow - 1) * sw + kw - w - 2 * pw))
    return div, ((ph, ph + extra[0]), (pw, pw + extra[1]))


def avg_pool2d(x, kernel, stride, padding, out_hw, count_include_pad, divisor) -> np.ndarray:
    """The mean of every window as torch's kernel takes it: the values inside x summed from
    0 in window order (one strided add per kernel offset), divided by the window's count
    with the padding (``count_include_pad``; only up to the padding, not the part a
    ceil_mode window hangs past it) or without it, or by ``divisor`` when nonzero."""
    div, pads = avg_windows(x.shape, kernel, stride, padding, out_hw, count_include_pad,
                             divisor)  # fmt: skip
    xp = _padded(x, pads)
    acc = np.zeros((*x.shape[:2], *out_hw), dtype=x.dtype)
    for rows, cols in window_slices(kernel, stride, (1, 1), out_hw):
        acc += xp[:, :, rows, cols]
    return acc / div.astype(x.dtype)


def avg_pool2d_backward(g, x_shape, kernel, stride, padding, out_hw, count_include_pad,
                        divisor) -> np.ndarray:  # fmt: skip
    """Its adjoint: each output gradient divided as in the forward and added over its
    window's positions inside x."""
    div, pads = avg_windows(x_shape, kernel, stride, padding, out_hw, count_include_pad,
                             divisor)  # fmt: skip
    gs = g / div.astype(g.dtype)
    n, c, h, w = x_shape
    (pt, pb), (pl, pr) = pads
    out = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=gs.dtype)
    for rows, cols in window_slices(kernel, stride, (1, 1), out_hw):
        out[:, :, rows, cols] += gs
    return out[:, :, pt : pt + h, pl : pl + w]


# --------------------------------------------------------------------------- layer norm


@quiet  # inf - inf in x - mean: nan, silently, as in torch
def layer_norm(x, w, b, eps: float, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the last ``k`` dims: ``y = (x - mean) * rstd [* w] [+ b]`` with the biased
    variance and ``rstd = 1 / sqrt(var + eps)``; returns y and the mean and rstd (kept
    dims). ``w``, ``b``: shaped as those dims, or None."""
    axes = tuple(range(x.ndim - k, x.ndim))
    n = 1
    for a in axes:
        n *= x.shape[a]
    mu = mean_keepdims(x, axes)
    d = x - mu
    v = np.sum(d * d, axis=axes, keepdims=True) / n
    rstd = 1 / np.sqrt(v + eps)
    d *= rstd
    if w is not None:
        d *= w
    if b is not None:
        d += b
    return d, mu, rstd


def layer_norm_backward(g, x, mu, rstd, w, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """With ``xhat = (x - mean) * rstd`` and ``u = g [* w]``: ``dx = (u - mean(u) - xhat *
    mean(u * xhat)) * rstd`` over the last ``k`` dims, ``dw = sum(g * xhat)`` and
    ``db = sum(g)`` over the others."""
    axes = tuple(range(x.ndim - k, x.ndim))
    lead = tuple(range(x.ndim - k))
    xhat = (x - mu) * rstd
    u = g * w if w is not None else g.copy()
    t = u * xhat
    c = mean_keepdims(t, axes)
    m = mean_keepdims(u, axes)
    u -= m
    u -= np.multiply(xhat, c, out=t)
    u *= rstd
    return u, np.add.reduce(g * xhat, axis=lead), np.add.reduce(g, axis=lead)


# ------------------------------------------------------------------ embedding backward


def embedding_backward(g: np.ndarray, index: np.ndarray, num: int, padding_idx) -> np.ndarray:
    """The weight's gradient (num, cols): each row of ``g`` (n, cols) added at its index
    (repeats add up), except at ``padding_idx`` (None: none). Indices are in range."""
    keep = index != padding_idx if padding_idx is not None else slice(None)
    out = np.zeros((num, g.shape[1]), dtype=g.dtype)
    np.add.at(out, index[keep], g[keep])
    return out


# --------------------------------------------------------------------- optimizer updates
# In place on the parameter and state arrays, in torch's order of operations.


def sgd_step(param, grad, buf, lr: float, momentum: float, dampening: float, nesterov: bool):
    """``buf = buf * momentum + (1 - dampening) * grad`` (buf None: no momentum), then
    ``param -= lr * d`` with ``d = grad + momentum * buf`` (nesterov) or ``buf``."""
    if buf is not None:
        buf *= momentum
        buf += (1 - dampening) * grad
        grad = grad + momentum * buf if nesterov else buf
    param -= lr * grad


def adam_step(param, grad, exp_avg, exp_avg_sq, beta1, beta2, step_size, bc2_sqrt, eps,
              decay=1.0):  # fmt: skip
    """Adam's moments and update (L2 weight decay and amsgrad are the caller's):
    ``param *= decay`` (AdamW's decoupled decay, ``1 - lr * weight_decay``; 1: none),
    ``exp_avg.lerp_(grad, 1 - beta1)``, ``exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) g²``,
    ``param -= step_size * exp_avg / (sqrt(exp_avg_sq) / bc2_sqrt + eps)``."""
    if decay != 1:
        param *= decay
    weight = 1 - beta1
    tmp = grad - exp_avg  # torch's lerp: the closer endpoint is the base
    if abs(weight) < 0.5:
        tmp *= weight
        exp_avg += tmp
    else:
        tmp *= 1 - weight
        np.subtract(grad, tmp, out=exp_avg)
    exp_avg_sq *= beta2
    tmp = np.multiply(grad, 1 - beta2)
    tmp *= grad
    exp_avg_sq += tmp
    denom = np.sqrt(exp_avg_sq)
    denom /= bc2_sqrt
    denom += eps
    tmp = np.multiply(exp_avg, -step_size)
    tmp /= denom
    param += tmp


def sum_rows(x: np.ndarray) -> np.ndarray:
    """The sum over every dim but the last (Linear's bias gradient): ``np.sum`` over them."""
    return np.sum(x, axis=tuple(range(x.ndim - 1)))


def arith(ufunc: np.ufunc, *arrays) -> np.ndarray:
    """``ufunc(*arrays)``: an op whose forward is a NumPy ufunc, on a large array while
    the kernels have several threads (Op.apply's ``parallel`` test). The reference is the
    ufunc itself; the native twin runs add, subtract, multiply and divide on the threads."""
    return ufunc(*arrays)


KERNELS = {
    name: globals()[name]
    for name in (
        "gelu", "gelu_backward", "sigmoid", "sigmoid_backward", "tanh_backward", "silu",
        "silu_backward", "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
        "im2col", "col2im", "max_pool2d", "max_pool2d_backward", "layer_norm",
        "avg_pool2d", "avg_pool2d_backward",
        "layer_norm_backward", "embedding_backward", "sgd_step", "adam_step",
        "softplus", "softplus_backward", "dropout", "dropout_backward", "relu",
        "relu_backward", "masked_fill", "matmul", "addmm", "sum_rows",
        "scaled_masked_softmax", "scaled_masked_softmax_backward", "arith",
    )
}  # fmt: skip

# the references of the other concepts, in sibling modules
KERNELS.update(
    cross_entropy=numpy_loss.cross_entropy,
    cross_entropy_backward=numpy_loss.cross_entropy_backward,
    batch_norm_stats=numpy_norm.batch_norm_stats,
    batch_norm_elemt=numpy_norm.batch_norm_elemt,
    batch_norm_backward=numpy_norm.batch_norm_backward,
    rms_norm=numpy_norm.rms_norm,
    rms_norm_backward=numpy_norm.rms_norm_backward,
)

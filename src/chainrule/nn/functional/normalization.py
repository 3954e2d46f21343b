"""layer_norm, group_norm, rms_norm, batch_norm, normalize: compositions of mean, var and
rsqrt (ARCHITECTURE principle 4), except the standardization ``(x - mean) / sqrt(var + eps)``,
one primitive for cost (one node and a three-term backward instead of seven nodes); batch_norm
updates the running statistics in place."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule._fp import quiet
from chainrule._registry import op
from chainrule._tensor import Size, Tensor, _make, check_multi_view, mutate
from chainrule._trace import state as trace
from chainrule.backend import K
from chainrule.backend.numpy_norm import mean_keepdims as _mean
from chainrule.dtypes import float32, kind_of, np_finfo, opmath_array, scalar_type_name
from chainrule.graph import grad_mode
from chainrule.ops.elementwise.select import clamp
from chainrule.ops.elementwise.unary import rsqrt
from chainrule.ops.op import Op, SumToSize, expand, forward_ad, opmath, save_index, tied
from chainrule.ops.reduce.stats import norm, var
from chainrule.ops.reduce.sums import mean

_F = (np.dtype(np.float32), np.dtype(np.float64))  # the dtypes the kernels take


def _shape(normalized_shape: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(s) for s in normalized_shape)


class NormAffine(Op):
    """``(x - mu) * rstd * w + b`` in one node, with ``rstd = 1 / sqrt(v + eps)`` over
    ``axes`` (``mu``, ``v``: the mean and biased variance, given or computed here; ``w``,
    ``b``: optional, reshaped to ``wshape``). The vjp, with ``xhat = (x - mu) * rstd`` and
    ``u = g * w``: ``dx = rstd * (u - mean(u) - xhat * mean(u * xhat))``,
    ``dw = sum(g * xhat)``, ``db = sum(g)`` summed to ``wshape``.

    Saved as torch's native_layer_norm / native_batch_norm: the input, weight and bias, and
    the statistics ``mu`` and ``rstd`` (its result1, result2), never the output: at backward,
    xhat is recomputed as ``(x - mu) * rstd`` from the input's values then (torch's kernel),
    so writing the output in place (``y.sigmoid_()``) changes nothing."""

    torch_name = "NativeLayerNormBackward0"

    def forward(self, x, w, b, axes, eps, wshape=None, mu=None, v=None):
        self.axes, self.eps, self.wshape = axes, eps, wshape
        self.w_shape = None if w is None else w.shape  # the bias need not be saved
        self.b_shape = None if b is None else b.shape
        if mu is None:  # mean and biased variance, as ``mean`` and ``var`` compute them
            mu, v, xhat = _moments(x, axes)
        else:
            xhat = x - mu
        self.mu = mu
        self.rstd = rstd = 1 / np.sqrt(v + eps)
        xhat *= rstd
        if w is None and b is None:
            return xhat
        y = xhat * w.reshape(wshape) if w is not None else xhat.copy()
        if b is not None:
            y += b.reshape(wshape)
        return y

    def backward(self, g):
        x, w, _ = self.inputs
        if grad_mode.enabled or forward_ad.level:  # a recorded gradient: tensor ops
            return self._graph_backward(g, x, w)
        wshape = self.wshape
        xhat = (x._data - self.mu) * self.rstd  # torch's kernel: from the saved stats
        dx = _input_grad(g._data, w, xhat, self.rstd, self.axes, wshape) if self.needs(0) else None
        dw = _sum_to(_make(g._data * xhat), wshape, self.w_shape) if self.needs(1) else None
        db = _sum_to(g, wshape, self.b_shape) if self.needs(2) else None
        return None if dx is None else _make(dx), dw, db

    def _graph_backward(self, g: Tensor, x: Tensor, w: Tensor | None) -> tuple:
        """The gradient as tensor ops, so it can be differentiated again, as torch's
        native_layer_norm_backward / batchnorm_double_backward: the statistics are the saved
        ones (``SavedMean``, ``SavedRstd``: their values, with the derivatives of the mean
        and rstd they stand for), the input is read as it is now."""
        axes, wshape = self.axes, self.wshape
        n = 1
        for a in axes:
            n *= x._data.shape[a]
        r = SavedRstd.apply(x, mu=self.mu, rstd=self.rstd, n=n)
        xhat = (x - SavedMean.apply(x, mu=self.mu, n=n)) * r
        dx = dw = db = None
        if self.needs(0):  # rstd * (u - mean(u) - xhat * mean(u * xhat)), u = g * w
            u = g if w is None else g * w.reshape(wshape)
            dx = r * (u - mean(u, axes, keepdim=True) - xhat * mean(u * xhat, axes, keepdim=True))
        b = self.inputs[2]  # saved by layer_norm, whose gradient node takes it (not by
        if self.needs(1):  # batch_norm): torch's node takes g, x, w (and b) for all results
            dw = tied(_sum_to(g * xhat, wshape, self.w_shape), w, b)
        if self.needs(2):
            db = tied(_sum_to(g, wshape, self.b_shape), x, w, b)
        return dx, dw, db


class SavedMean(Op):
    """A norm's saved mean as a function of its input ``x`` in a recorded gradient: the value
    saved at forward (whatever ``x`` holds now), the derivative of a mean of ``n`` values
    (``1/n`` each). With ``SavedRstd``: torch's double backward of the norms, the analytic
    derivative evaluated at the saved statistics and the input's current values."""

    save_inputs = False

    def forward(self, x, mu, n):
        self.shape, self.n = x.shape, n
        return mu.copy()

    def backward(self, g):
        return expand(g * (1 / self.n), self.shape)


class SavedRstd(Op):
    """A norm's saved ``rstd = 1/sqrt(var + eps)`` as a function of its input ``x``: the
    saved value, the derivative ``-rstd³ (x - mu) / n`` at the saved ``mu`` and ``rstd``."""

    def forward(self, x, mu, rstd, n):
        self.mu, self.rstd, self.n = mu, rstd, n
        return rstd.copy()

    def backward(self, g):
        (x,) = self.inputs
        return g * ((x - _make(self.mu)) * _make(self.rstd**3 * (-1 / self.n)))


class LayerNorm(NormAffine):
    """Over the trailing dims: the forward, and the plain backward (not building a graph of
    the gradient), are the kernels ``K.layer_norm`` / ``K.layer_norm_backward``."""

    torch_name = "NativeLayerNormBackward0"

    def forward(self, x, w, b, axes, eps, wshape=None):
        self.axes, self.eps, self.wshape = axes, eps, wshape
        self.w_shape = None if w is None else w.shape
        self.b_shape = None if b is None else b.shape
        y, self.mu, self.rstd = K.layer_norm(x, w, b, eps, len(axes))
        return y

    def backward(self, g):
        if grad_mode.enabled or forward_ad.level:  # a recorded gradient: the general rule
            return super().backward(g)
        x, w, _ = self.inputs
        if trace.tracer is None:
            dx, dw, db = K.layer_norm_backward(
                g._data, x._data, self.mu, self.rstd, None if w is None else w._data,
                len(self.axes),
            )  # fmt: skip
            dw = None if dw is None else dw.reshape(self.w_shape)
            db = None if db is None else db.reshape(self.b_shape)
            dx = _make(dx)
        else:  # cr.compile: the same kernel as an op, so the tracer sees it make each array
            box: dict = {}
            dx = LayerNormGrad.apply(
                g, x, w, mu=self.mu, rstd=self.rstd, k=len(self.axes),
                w_shape=self.w_shape, b_shape=self.b_shape, into=box,
            )  # fmt: skip
            dw, db = box["dw"], box["db"]
        return (
            dx if self.needs(0) else None,
            _make(dw) if self.needs(1) else None,
            _make(db) if self.needs(2) else None,
        )


class LayerNormGrad(Op):
    """LayerNorm's plain backward (``K.layer_norm_backward``) as one kernel, for
    ``cr.compile``'s tracer: the result is the input's gradient; the weight's and bias's
    (``dw``, ``db``, shaped as the weight and bias) are kept on the node, where the tracer
    finds them, and handed back through ``into``. Run only with grad mode off (a plain
    backward), so never recorded and never differentiated."""

    def forward(self, g, x, w, mu, rstd, k, w_shape, b_shape, into):
        dx, dw, db = K.layer_norm_backward(g, x, mu, rstd, w, k)
        self.dw = None if dw is None or w_shape is None else dw.reshape(w_shape)
        self.db = None if db is None or b_shape is None else db.reshape(b_shape)
        into.update(dw=self.dw, db=self.db)  # (a replay reads them from the node)
        return dx


class BatchNorm(NormAffine):
    """Training: native_batch_norm saves the input and weight (not the bias) and the
    running statistics (``save_index``: version-checked, not read). Given the batch
    statistics (mu, v per channel), the forward is the kernel ``K.batch_norm_elemt`` and the
    plain backward ``K.batch_norm_backward`` (float32/float64); building a graph of the
    gradient, NormAffine's rule."""

    torch_name = "NativeBatchNormBackward0"
    saved_for = ((0, 1), (0, 1), (0, 1))

    def forward(self, x, w, b, axes, eps, wshape=None, mu=None, v=None):
        if mu is None or x.ndim < 2:
            return super().forward(x, w, b, axes, eps, wshape, mu, v)
        self.axes, self.eps, self.wshape = axes, eps, wshape
        self.w_shape = None if w is None else w.shape
        self.b_shape = None if b is None else b.shape
        self.mu, self.rstd = mu, 1 / np.sqrt(v + eps)
        flat = lambda a: None if a is None else a.reshape(-1)  # noqa: E731
        return K.batch_norm_elemt(x, flat(mu), flat(self.rstd), flat(w), flat(b))

    def backward(self, g):
        x, w, _ = self.inputs
        if grad_mode.enabled or forward_ad.level or trace.tracer or x._data.dtype not in _F:
            return super().backward(g)
        dx, dw, db = K.batch_norm_backward(
            g._data, x._data, self.mu.reshape(-1), self.rstd.reshape(-1),
            None if w is None else w._data.reshape(-1), True,
        )  # fmt: skip
        return (
            _make(dx) if self.needs(0) else None,
            _make(dw.reshape(self.w_shape)) if self.needs(1) else None,
            _make(db.reshape(self.b_shape)) if self.needs(2) else None,
        )


class BatchNormEval(Op):
    """Evaluation: ``(x - running_mean) * rstd * w + b`` with ``rstd`` from the running
    variance, in one node as torch's native_batch_norm, which saves the input, the weight
    and the running statistics (not the bias, not the output) and reads their values at
    backward: ``dx = g * w * rstd``, ``dw = sum(g * (x - running_mean) * rstd)``,
    ``db = sum(g)``, written with tensor ops (every order differentiable)."""

    torch_name = "NativeBatchNormBackward0"
    saved_for = ((0, 1, 3, 4),) * 5

    def forward(self, x, w, b, rm, rv, eps, wshape):
        self.eps, self.wshape = eps, wshape
        self.b_shape = None if b is None else b.shape
        if x.ndim >= 2:  # the kernel (y as below, per channel)
            flat = lambda a: None if a is None else a.reshape(-1)  # noqa: E731
            self.rstd = 1 / np.sqrt(rv.reshape(-1) + eps)
            return K.batch_norm_elemt(x, rm.reshape(-1), self.rstd, flat(w), flat(b))
        y = (x - rm.reshape(wshape)) * (1 / np.sqrt(rv.reshape(wshape) + eps))
        if w is not None:
            y *= w.reshape(wshape)
        if b is not None:
            y += b.reshape(wshape)
        return y

    def backward(self, g):
        x, w, b, rm, rv = self.inputs
        wshape = self.wshape
        if not (grad_mode.enabled or forward_ad.level) and (
            x._data.ndim >= 2 and x._data.dtype in _F
        ):  # the plain backward: the kernel, reading the saved tensors' values now
            shapes = (x._data.shape, None if w is None else w._data.shape, self.b_shape)
            if trace.tracer:  # ops, for cr.compile to record (the same kernel, same bits)
                return (
                    *(BatchNormEvalGrad.apply(g, x, rm, rv, w, eps=self.eps, which=i)
                      .reshape(shapes[i]) if self.needs(i) else None for i in range(3)),
                    None,
                    None,
                )  # fmt: skip
            grads = BatchNormEvalGrad.compute(g._data, x._data, rm._data, rv._data,
                                              None if w is None else w._data, self.eps)  # fmt: skip
            return (
                *(_make(grads[i].reshape(shapes[i])) if self.needs(i) else None for i in range(3)),
                None,
                None,
            )
        r = rsqrt(rv.reshape(wshape) + self.eps)
        dx = dw = db = None
        if self.needs(0):
            dx = g * (r if w is None else w.reshape(wshape) * r)
            dx = tied(dx, g, x, w)  # torch's node takes them all (dx = g * w * rstd)
        if self.needs(1):
            dw = tied(_sum_to(g * ((x - rm.reshape(wshape)) * r), wshape, w._data.shape), w)
        if self.needs(2):
            db = tied(_sum_to(g, wshape, self.b_shape), x, w)
        return dx, dw, db, None, None


class BatchNormEvalGrad(Op):
    """One result (``which``: dx 0, dw 1, db 2) of BatchNormEval's plain backward as an op:
    rstd from the running variance then ``K.batch_norm_backward`` (what cr.compile records;
    never recorded in a graph)."""

    save_inputs = False

    @staticmethod
    def compute(g, x, rm, rv, w, eps):
        r = 1 / np.sqrt(rv.reshape(-1) + eps)
        flat_w = None if w is None else w.reshape(-1)
        return K.batch_norm_backward(g, x, rm.reshape(-1), r, flat_w, False)

    def forward(self, g, x, rm, rv, w, eps, which):
        return self.compute(g, x, rm, rv, w, eps)[which]


class Standardize(NormAffine):
    """Without affine (group_norm's statistics); named as the composition's last node."""

    torch_name = "MulBackward0"


def _sum_to(t: Tensor, wshape: tuple, shape: tuple) -> Tensor:
    """``t`` summed down to ``wshape``, then shaped as ``shape`` (the weight's or bias's)."""
    if t._data.shape != wshape:
        t = SumToSize.apply(t, shape=wshape)
    return t if wshape == shape else t.reshape(shape)


def _input_grad(g, w, xhat, rstd, axes, wshape) -> np.ndarray:
    """NumPy: the input gradient of ``NormAffine``, ``rstd * P(g * w)`` with the projection
    ``P(u) = u - mean(u) - xhat * mean(u * xhat)`` over ``axes``."""
    u = g * w._data.reshape(wshape) if w is not None else g.copy()  # fresh: updated in place
    t = u * xhat
    c = _mean(t, axes)
    u -= _mean(u, axes)
    u -= np.multiply(xhat, c, out=t)
    u *= rstd
    return u


@quiet  # inf - inf in x - mean: nan, silently, as in torch
def _moments(x: np.ndarray, axes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and biased variance over ``axes``, kept dims (as ``mean`` and ``var`` compute),
    and ``x - mean`` (fresh)."""
    mu = _mean(x, axes)
    d = x - mu
    n = 1
    for a in axes:
        n *= x.shape[a]
    return mu, np.sum(d * d, axis=axes, keepdims=True) / n, d


def _fusable(x: Tensor, *affine: Tensor | None) -> bool:
    """Float, non-empty, and the affine tensors of the same dtype (no promotion)."""
    d = x._data
    if not d.size or kind_of(d.dtype) != "f":
        return False
    return all(t is None or (isinstance(t, Tensor) and t._data.dtype == d.dtype) for t in affine)


def _standardize(x: Tensor, axes: tuple[int, ...], eps: float, moments: tuple = None) -> Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` (biased variance)."""
    if not x._data.size or kind_of(x._data.dtype) != "f":  # edge cases: the plain composition
        mu = mean(x, axes, keepdim=True)
        return (x - mu) * rsqrt(var(x, axes, unbiased=False, keepdim=True) + eps)
    mu, v = moments if moments is not None else (None, None)
    return Standardize.apply(x, None, None, axes=axes, eps=eps, mu=mu, v=v)


def _check_mixed_dtype(input: Tensor, weight: Tensor | None, bias: Tensor | None) -> bool:
    """torch's CPU rules for layer_norm and group_norm (after the shape checks): parameters
    of another dtype than the input (the first one given decides) must all be float32 and
    the input a reduced float (we have float16); else each one in the input's dtype. True
    for an allowed mix (float16 input, float32 parameters: the result is float16)."""
    dt = input._data.dtype
    first = weight if weight is not None else bias
    if first is None or (first._data.dtype == dt and (bias is None or bias._data.dtype == dt)):
        return False
    if first._data.dtype != dt:  # mixed
        for p in (weight, bias):
            if p is not None and p._data.dtype != np.float32:
                raise RuntimeError(
                    "mixed dtype (CPU): expect parameter to have scalar type of Float"
                )
        if dt != np.float16:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
        return True
    raise RuntimeError(
        f"expected scalar type {scalar_type_name(input)} but found {scalar_type_name(bias)}"
    )


def _check_affine(t: Tensor | None, what: str, shape: tuple) -> None:
    if t is not None and tuple(t._data.shape) != shape:
        raise RuntimeError(
            f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
            f"{list(t._data.shape)} and normalized_shape = {list(shape)}"
        )


@op(namespace="nn.functional", method=False)
def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardize over the last ``len(normalized_shape)`` dims, then ``* weight + bias``."""
    shape = _shape(normalized_shape)
    x = input._data
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k :] != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
        )
    _check_affine(weight, "weight", shape)
    _check_affine(bias, "bias", shape)
    if _check_mixed_dtype(input, weight, bias):
        return layer_norm(input.to(float32), shape, weight, bias, eps).to(input.dtype)
    if kind_of(x.dtype) != "f":
        raise NotImplementedError(
            f"\"LayerNormKernelImpl\" not implemented for '{scalar_type_name(input)}'"
        )
    axes = tuple(range(x.ndim - k, x.ndim))
    if _fusable(input, weight, bias):
        return LayerNorm.apply(input, weight, bias, axes=axes, eps=eps, wshape=shape)
    y = _standardize(input, axes, eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


@op(namespace="nn.functional", method=False)
def rms_norm(
    input: Tensor,
    normalized_shape: Sequence[int],
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """``x / sqrt(mean(x²) + eps) * weight`` over the last dims, in the input's dtype (float16
    computed in float32); eps defaults to the machine epsilon of the computing dtype."""
    shape = _rms_shape(normalized_shape)
    _check_affine(weight, "weight", shape)
    x = input._data
    k = len(shape)
    if x.ndim < k:
        raise ValueError(f"Input tensor must have at least {k} dimensions, but got {x.ndim}")
    if x.shape[x.ndim - k :] != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*{', '.join(map(str, shape))}], but got input of size{list(x.shape)}"
        )
    if kind_of(x.dtype) not in "fc":
        raise NotImplementedError(f"\"rms_norm\" not implemented for '{scalar_type_name(input)}'")
    up = input.to(float32) if x.dtype == np.float16 else input  # torch's opmath type
    if eps is None:
        eps = float(np_finfo(up._data.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    if x.dtype in _F and _fusable(input, weight) and not forward_ad.level:
        return RMSNorm.apply(input, weight, axes=axes, eps=eps)
    y = up * rsqrt(mean(up * up, axes, keepdim=True) + eps)
    if y._data.dtype != x.dtype:
        y = y.to(input.dtype)
    if weight is not None:
        y = y * weight
        if y._data.dtype != x.dtype:  # another weight dtype: still the input's
            y = y.to(input.dtype)
    return y


class RMSNorm(Op):
    """``x * rstd [* w]``, ``rstd = 1 / sqrt(mean(x²) + eps)`` over ``axes`` (the trailing
    dims), in one node: the forward and the plain backward are the kernels ``K.rms_norm`` /
    ``K.rms_norm_backward``; building a graph of the gradient, the rule below in tensor ops
    (``dx = (u - xhat * mean(u * xhat)) * rstd`` with ``u = g [* w]``, ``dw = sum(g * xhat)``).
    Saves the input, the weight and rstd, as torch's composition (whose last node is the
    product, MulBackward0), never the output."""

    torch_name = "MulBackward0"

    def forward(self, x, w, axes, eps):
        self.axes, self.eps = axes, eps
        y, self.rstd = K.rms_norm(x, w, eps, len(axes))
        return y

    def backward(self, g):
        x, w = self.inputs
        k = len(self.axes)
        if not (grad_mode.enabled or forward_ad.level):
            if trace.tracer:  # ops, for cr.compile to record (the same kernel, same bits)
                part = lambda i: RMSNormGrad.apply(g, x, self.rstd, w, k, which=i)  # noqa: E731
                return part(0) if self.needs(0) else None, part(1) if self.needs(1) else None
            dx, dw = K.rms_norm_backward(
                g._data, x._data, self.rstd, None if w is None else w._data, k
            )
            return _make(dx) if self.needs(0) else None, _make(dw) if self.needs(1) else None
        axes = self.axes
        r = rsqrt(mean(x * x, axes, keepdim=True) + self.eps)
        xhat = x * r
        u = g if w is None else g * w
        dx = (u - xhat * mean(u * xhat, axes, keepdim=True)) * r if self.needs(0) else None
        dw = None
        if self.needs(1):
            lead = tuple(range(x._data.ndim - k))
            dw = (g * xhat).sum(lead) if lead else g * xhat
        return dx, dw


class RMSNormGrad(Op):
    """One result (``which``: dx 0, dw 1) of ``K.rms_norm_backward``, as an op: what
    cr.compile records of RMSNorm's plain backward (never recorded in a graph)."""

    save_inputs = False

    def forward(self, g, x, rstd, w, k, which):
        return K.rms_norm_backward(g, x, rstd, w, k)[which]


def _rms_shape(normalized_shape: Sequence[int]) -> tuple[int, ...]:
    """rms_norm's normalized_shape: a non-empty sequence of ints (not an int, unlike
    layer_norm), as torch's argument parser and checks."""
    where = "rms_norm(): argument 'normalized_shape' (position 2) must be tuple of ints"
    if isinstance(normalized_shape, Tensor) or not isinstance(normalized_shape, Sequence):
        raise TypeError(f"{where}, not {type(normalized_shape).__name__}")
    for i, s in enumerate(normalized_shape):  # torch tells a bool from an int at pos 0 only
        if not isinstance(s, (int, np.integer)) or (i == 0 and isinstance(s, bool)):
            if i == 0:
                raise TypeError(f"{where}, but found element of type {type(s).__name__} at pos 0")
            raise TypeError(
                "rms_norm(): argument 'normalized_shape' failed to unpack the object at pos "
                f'{i + 1} with error "type must be tuple of ints,but got {type(s).__name__}"'
            )
    if not normalized_shape:
        raise RuntimeError(
            "Expected normalized_shape to be at least 1-dimensional, i.e., containing at least "
            "one element, but got normalized_shape = []"
        )
    return tuple(int(s) for s in normalized_shape)


@op(namespace="nn.functional", method=False)
@opmath
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Standardize each of ``num_groups`` channel groups per sample, then a per-channel
    affine."""
    x = input._data
    if x.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {x.ndim}")
    n, c = x.shape[:2]
    if c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(x.shape)} and num_groups={num_groups}"
        )
    if _check_mixed_dtype(input, weight, bias):
        return group_norm(input.to(float32), num_groups, weight, bias, eps).to(input.dtype)
    if kind_of(x.dtype) != "f":
        raise NotImplementedError(
            f"\"GroupNormKernelImpl\" not implemented for '{scalar_type_name(input)}'"
        )
    y = _standardize(input.reshape(n, num_groups, -1), (2,), eps).reshape(x.shape)
    per_channel = (c,) + (1,) * (x.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(per_channel)
    return y if bias is None else y + bias.reshape(per_channel)


def _check_batch_norm_args(input: Tensor, running_mean: Tensor | None,
                           running_var: Tensor | None, weight: Tensor | None,
                           bias: Tensor | None, training: bool) -> None:  # fmt: skip
    """torch's checks after the element counts, in its order: running statistics that
    require grad, both or neither in training, a 1-d input in training, a floating dtype,
    the CPU kernel's dtype rules (a parameter of another dtype than the input: all of them
    float32 and the input float16, else every one of the input's dtype), 1-d statistics
    (the statistics before the affine tensors in training, after them in evaluation)."""
    x = input._data
    stats = (("running_mean", running_mean), ("running_var", running_var))
    if grad_mode.enabled:
        for name, t in stats:
            if t is not None and t.requires_grad:
                raise RuntimeError(
                    f"The function 'native_batch_norm' is not differentiable with respect to "
                    f"argument '{name}'. This input cannot have requires_grad True."
                )
    if training and (running_mean is None) != (running_var is None):
        raise ValueError("running_mean and running_var must either both be None or neither be None")
    if training and x.ndim == 1:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if kind_of(x.dtype) != "f":
        raise NotImplementedError(f"\"batch_norm\" not implemented for '{scalar_type_name(input)}'")
    params = [t for t in (weight, bias, running_mean, running_var) if t is not None]
    if params and params[0]._data.dtype != x.dtype:  # "mixed type"
        if any(t._data.dtype != np.float32 for t in params):
            raise RuntimeError("mixed dtype (CPU): expect parameter to have scalar type of Float")
        if x.dtype != np.float16:
            raise RuntimeError("mixed dtype (CPU): all inputs must share same datatype.")
    affine = (("weight", weight), ("bias", bias))
    for name, t in (*stats, *affine) if training else (*affine, *stats):
        if t is None:
            continue
        if name.startswith("running") and t._data.ndim != 1:
            raise RuntimeError(f"TensorAccessor expected 1 dims but tensor has {t._data.ndim}")
        if t._data.dtype != x.dtype and not (x.dtype == np.float16 and t._data.dtype == np.float32):
            raise RuntimeError(
                f"expected scalar type {scalar_type_name(input)} but found {scalar_type_name(t)}"
            )


@op(namespace="nn.functional", method=False)
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each channel (dim 1) with the batch statistics while ``training`` (and fold
    them into the running ones: ``(1 - momentum) * running + momentum * batch``, the variance
    unbiased; in place without a version bump, as torch's kernel), with the running statistics
    otherwise."""
    x = input._data
    c = x.shape[1] if x.ndim > 1 else 0
    if training and not x.ndim:
        raise IndexError("tuple index out of range")
    if training:
        count = int(np.prod(x.shape[:1] + x.shape[2:]))  # torch's: N times the spatial size
        if count == 1:
            raise ValueError(
                "Expected more than 1 value per channel when training, got input size "
                f"{Size(x.shape)!r}"
            )
    if not x.size:  # torch's early return for an empty input (nothing else is checked)
        out = input.clone()
        if weight is not None:
            out = out * weight.select(0, 0)
        return out if bias is None else out + bias.select(0, 0)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(
            f"running_{'mean' if running_mean is None else 'var'} must be defined in "
            "evaluation mode"
        )
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t._data.size}")
    _check_batch_norm_args(input, running_mean, running_var, weight, bias, training)
    axes = (0, *range(2, x.ndim))
    per_channel = (c,) + (1,) * (x.ndim - 2)
    if training:
        if not x.size or kind_of(x.dtype) != "f":
            mu = mean(input, axes, keepdim=True)._data
            v = var(input, axes, unbiased=False, keepdim=True)._data
        elif x.dtype in _F and x.ndim >= 2:  # the kernel: per channel, shaped as _moments'
            mu, v = (a.reshape(per_channel) for a in K.batch_norm_stats(x))
            mu, v = mu[None], v[None]
        else:
            mu, v, _ = _moments(opmath_array(x), axes)  # in float32 for float16 (torch)
        if running_mean is not None or running_var is not None:
            if input._multi is not None and grad_mode.enabled:  # torch refuses a rebased
                check_multi_view(input)  # split output before its kernel updates the stats
            n = int(np.prod(x.shape[:1] + x.shape[2:]))  # values per channel
            m = momentum
            if running_mean is not None:
                rm = mutate(running_mean, times=0)  # torch's kernel does not count it
                rm *= 1 - m
                rm += m * mu.reshape(c).astype(rm.dtype, copy=False)
            if running_var is not None:
                rv = mutate(running_var, times=0)
                rv *= 1 - m
                rv += (m * n / max(n - 1, 1)) * v.reshape(c).astype(rv.dtype, copy=False)
        if _fusable(input, weight, bias):
            out = BatchNorm.apply(input, weight, bias, axes=axes, eps=eps, wshape=per_channel,
                                  mu=mu, v=v)  # fmt: skip
            return save_index(out, running_mean, running_var)
        y = _standardize(input, axes, eps, (mu, v))
    elif _fusable(input, weight, bias, running_mean, running_var):
        return BatchNormEval.apply(input, weight, bias, running_mean, running_var, eps=eps,
                                   wshape=per_channel)  # fmt: skip
    else:  # torch's kernel writes a contiguous result whatever the input's layout
        input = input.contiguous()
        y = (input - running_mean.reshape(per_channel)) * rsqrt(
            running_var.reshape(per_channel) + eps
        )
    if weight is not None:
        y = y * weight.reshape(per_channel)
    y = y if bias is None else y + bias.reshape(per_channel)
    return y if y._data.dtype == x.dtype else y.to(input.dtype)  # float16 with float32 ones


@op(namespace="nn.functional", method=False)
def normalize(
    input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Tensor | None = None
) -> Tensor:
    """``input / max(||input||_p, eps)`` along ``dim``."""
    if out is not None:
        raise NotImplementedError("chainrule: normalize(out=...) is not supported")
    return input / clamp(norm(input, p, dim, keepdim=True), min=eps)

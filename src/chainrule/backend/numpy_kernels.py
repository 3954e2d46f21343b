"""The NumPy kernels: the readable reference of every kernel in the dispatch table, and
the fallback wherever the native ones do not apply (no compiler, another dtype, a strided
array, ``CHAINRULE_NATIVE=0``).

A kernel is a plain array function: arrays in, a new array out, nothing recorded. Its
native twin (native.py) must give the same values within rounding (tests/backend)."""

from __future__ import annotations

import math

import numpy as np

from chainrule._fp import quiet
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


def tanh_backward(g: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``g * (1 - y * y)``, y the tanh's output."""
    return g * (1 - y * y)


def silu(x: np.ndarray) -> np.ndarray:
    """``x * sigmoid(x)``."""
    return (x * _sigmoid(x)).astype(x.dtype, copy=False)


def silu_backward(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``g * s * (1 + x (1 - s))`` with s = sigmoid(x)."""
    s = _sigmoid(x)
    return g * s * (1 + x * (1 - s))


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


@quiet
def log_softmax_backward(g: np.ndarray, y: np.ndarray, dim: int) -> np.ndarray:
    """``g - exp(y) * sum(g)``, y the log_softmax."""
    if not y.ndim:
        return g - np.exp(y) * g
    e = np.exp(y)
    e *= np.add.reduce(g, axis=dim, keepdims=True)
    return np.subtract(g, e, out=e)


KERNELS = {
    name: globals()[name]
    for name in (
        "gelu", "gelu_backward", "sigmoid", "sigmoid_backward", "tanh_backward", "silu",
        "silu_backward", "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
    )
}  # fmt: skip

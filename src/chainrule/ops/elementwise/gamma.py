"""The gamma family and friends: lgamma, digamma, polygamma, mvlgamma, erfinv, xlogy.

What probability distributions need (log-densities of Gamma, Beta, Dirichlet; Normal's
quantiles). The NumPy kernels (no SciPy) work in float64, vectorised, and return the
input's float dtype: lgamma by Lanczos' approximation with the reflection formula below
1/2; digamma by recurrence up to 6 and its asymptotic series (reflection for negative x);
polygamma(n, x) as (-1)^(n+1) n! zeta(n+1, x), the Hurwitz zeta summed up to 20 and then
its asymptotic series; erfinv by Giles' approximation polished by Newton steps on erf.
Each derivative is the next function of the family, so every order is differentiable.
"""

from __future__ import annotations

import math

import numpy as np

from chainrule import dtypes
from chainrule._fp import quiet
from chainrule._registry import op, tensor_method
from chainrule._tensor import Tensor
from chainrule.backend.select import select
from chainrule.backend.special import _erf
from chainrule.dtypes import kind_of
from chainrule.ops.broadcast import binary, has_complex
from chainrule.ops.elementwise.unary import exp, log
from chainrule.ops.op import Op

# ------------------------------------------------------------------ NumPy kernels (float64)

_LANCZOS_G = 7.0
_LANCZOS = (0.99999999999980993, 676.5203681218851, -1259.1392167224028,
            771.32342877765313, -176.61502916214059, 12.507343278686905,
            -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7)  # fmt: skip
# Bernoulli numbers B2, B4, ... B18 for the asymptotic series
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510, 43867 / 798)


def _lgamma_positive(x: np.ndarray) -> np.ndarray:
    """log Γ(x) for x >= 1/2 (Lanczos, g = 7, n = 9: ~1e-15 relative)."""
    z = x - 1
    a = np.full_like(z, _LANCZOS[0])
    for i, c in enumerate(_LANCZOS[1:], 1):
        a += c / (z + i)
    t = z + _LANCZOS_G + 0.5
    return 0.5 * math.log(2 * math.pi) + (z + 0.5) * np.log(t) - t + np.log(a)


@quiet
def _lgamma(x: np.ndarray) -> np.ndarray:
    """log |Γ(x)|: inf at the poles (0, -1, -2 ...) and at ±inf, as torch."""
    x = np.asarray(x, dtype=np.float64)
    small = x < 0.5
    out = _lgamma_positive(np.where(small, 1 - x, x))  # Γ(1 - x) for the reflection
    # Γ(x) Γ(1 - x) = π / sin(πx); |sin(πx)| from the distance to the nearest integer
    s = np.abs(np.sin(math.pi * (x - np.round(x))))
    out = np.where(small, math.log(math.pi) - np.log(s) - out, out)
    pole = small & (x == np.floor(x))
    return np.where(pole | np.isinf(x), np.inf, out)


@quiet
def _digamma(x: np.ndarray) -> np.ndarray:
    """ψ(x) = d log Γ(x) / dx: -inf at 0, nan at negative integers and -inf, as torch."""
    x = np.asarray(x, dtype=np.float64)
    neg = x < 0
    y = np.where(neg, 1 - x, x)  # ψ(x) = ψ(1 - x) - π / tan(πx)
    acc = np.zeros_like(y)
    for _ in range(6):  # ψ(y) = ψ(y + 1) - 1/y until y >= 6
        low = y < 6
        acc -= np.where(low, 1 / np.where(low, y, 1), 0)
        y = np.where(low, y + 1, y)
    inv2 = 1 / (y * y)
    series = np.zeros_like(y)
    for k in range(len(_B2K) - 1, -1, -1):  # Σ B2k / (2k y^2k)
        series = series * inv2 + _B2K[k] / (2 * (k + 1))
    out = acc + np.log(y) - 0.5 / y - series * inv2
    frac = x - np.round(x)  # tan has period π: the distance to the nearest integer suffices
    out = np.where(neg, out - math.pi / np.tan(math.pi * frac), out)
    out = np.where(neg & (frac == 0), np.nan, out)
    return np.where(x == 0, -np.inf, out)


@quiet
def _polygamma(n: int, x: np.ndarray) -> np.ndarray:
    """ψ⁽ⁿ⁾(x) for n >= 1: (-1)^(n+1) n! ζ(n+1, x), ζ(s, x) = Σ_k 1/(x+k)^s."""
    if n == 0:
        return _digamma(x)
    x = np.asarray(x, dtype=np.float64)
    s = n + 1
    zeta = np.zeros_like(x)
    y = x.copy()
    steps = int(min(max(20 - np.nanmin(x, initial=20.0), 0), 10000))
    for _ in range(int(math.ceil(steps))):  # the first terms of the sum, until y >= 20
        low = y < 20
        if not low.any():
            break
        zeta += np.where(low, np.where(low, y, 1) ** -s, 0)
        y = np.where(low, y + 1, y)
    # the tail from y: y^(1-s)/(s-1) + y^-s/2 + Σ B2k (s)_(2k-1) / (2k)! y^-(s+2k-1)
    tail = y ** (1 - s) / (s - 1) + 0.5 * y**-s
    rising, fact = 1.0, 1.0
    for k, b in enumerate(_B2K, 1):
        rising *= (s + 2 * k - 3) * (s + 2 * k - 2) if k > 1 else s
        fact *= (2 * k - 1) * (2 * k)
        tail = tail + b * rising / fact * y ** -(s + 2 * k - 1)
    out = (-1) ** (n + 1) * math.factorial(n) * (zeta + tail)
    # torch's values at the poles (the limit from the right) and at ±inf
    sign_inf = np.inf if n % 2 else -np.inf
    out = np.where((x <= 0) & (x == np.floor(x)), sign_inf, out)
    out = np.where(x == np.inf, 0.0 if n == 1 else np.nan, out)
    return np.where(x == -np.inf, np.nan if n == 1 else sign_inf, out)


@quiet
def _erfinv(y: np.ndarray) -> np.ndarray:
    """erf⁻¹(y): ±inf at ±1, nan outside [-1, 1]."""
    y = np.asarray(y, dtype=np.float64)
    w = -np.log((1 - y) * (1 + y))  # Giles (2010), single-precision start
    central = w < 5
    wc, wt = w - 2.5, np.sqrt(np.where(central, 5, w)) - 3
    pc = 2.81022636e-08
    for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941):  # fmt: skip
        pc = pc * wc + c
    pt = -0.000200214257
    for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682):  # fmt: skip
        pt = pt * wt + c
    x = np.where(central, pc, pt) * y
    for _ in range(2):  # Newton on erf(x) = y: quadratic convergence to float64
        x = x - (_erf(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    x = np.where(np.abs(y) == 1, np.copysign(np.inf, y), x)
    return np.where(np.abs(y) > 1, np.nan, x)


def _float(t: Tensor, kernel: str) -> Tensor:
    """A real float tensor (integers in the default dtype); complex has no ``kernel``."""
    if t._data.dtype.kind == "c":
        raise dtypes.kernel_missing(kernel, t)
    return t if kind_of(t._data.dtype) == "f" else t.to(dtypes.get_default_dtype())


def _out(x: np.ndarray, like: np.ndarray) -> np.ndarray:
    return x.astype(like.dtype, copy=False)


# ------------------------------------------------------------------ the ops


class Lgamma(Op):
    formula = "d lgamma(a) = g * digamma(a)"
    jvp_rule = "diagonal"

    def forward(self, x):
        return _out(_lgamma(x), x)

    def backward(self, g):
        return g * digamma(self.inputs[0])


class Digamma(Op):
    formula = "d digamma(a) = g * polygamma(1, a)"
    jvp_rule = "diagonal"

    def forward(self, x):
        return _out(_digamma(x), x)

    def backward(self, g):
        return g * polygamma(1, self.inputs[0])


class Polygamma(Op):
    formula = "d polygamma(n, a) = g * polygamma(n + 1, a)"
    jvp_rule = "diagonal"

    def forward(self, x, n):
        self.n = n
        return _out(_polygamma(n, x), x)

    def backward(self, g):
        return g * polygamma(self.n + 1, self.inputs[0])


class Erfinv(Op):
    formula = "d erfinv(a) = g * sqrt(π)/2 * exp(erfinv(a)²)"
    jvp_rule = "diagonal"  # saves the input and recomputes erfinv from it (torch's rule)

    def forward(self, x):
        return _out(_erfinv(x), x)

    def backward(self, g):
        y = erfinv(self.inputs[0])
        return g * (math.sqrt(math.pi) / 2) * exp(y * y)


class Mvlgamma(Op):
    formula = "d mvlgamma(a, p) = g * Σ_{j<p} digamma(a - j/2)"
    jvp_rule = "diagonal"

    def forward(self, x, p):
        self.p = p
        shifted = x[..., None] - np.arange(p) / 2
        out = _lgamma(shifted).sum(-1) + p * (p - 1) / 4 * math.log(math.pi)
        return _out(out, x)

    def backward(self, g):
        x = self.inputs[0]
        return g * digamma(x.unsqueeze(-1) - x.new_tensor([j / 2 for j in range(self.p)])).sum(-1)


class Xlogy(Op):
    formula = "d xlogy(a, b) = g * log(b) (0 where a = 0 and b <= 0), g * a / b"
    jvp_rule = "diagonal"
    elementwise = True

    @quiet
    def forward(self, a, b):
        dt = a.dtype if isinstance(a, np.ndarray) else b.dtype
        out = np.multiply(a, np.log(np.asarray(b, dtype=dt)), dtype=dt)
        return select((np.asarray(a) == 0) & ~np.isnan(b), np.zeros((), dt), out)

    def backward(self, g):
        a, b = self.inputs
        ga = gb = None
        if self.needs(0):
            log_b = log(b) if isinstance(b, Tensor) else math.log(b) if b > 0 else -math.inf
            ga = g * log_b
            if isinstance(b, Tensor):  # torch: no gradient where a = 0 and log(b) is not real
                ga = ga.masked_fill((a == 0) & (b <= 0), 0.0)
            elif b <= 0:
                ga = ga.masked_fill(a == 0, 0.0)
        if self.needs(1):
            gb = g * a / b
        return ga, gb


@op(inplace=True)
def lgamma(input: Tensor) -> Tensor:
    """log |Γ(input)| elementwise (inf at the poles 0, -1, -2, ...)."""
    return Lgamma.apply(_float(input, "lgamma_vml_cpu"))


@op(inplace=True)
def digamma(input: Tensor) -> Tensor:
    """ψ(input), the derivative of lgamma."""
    return Digamma.apply(_float(input, "digamma"))


@op(method=False)
def polygamma(n: int, input: Tensor) -> Tensor:
    """ψ⁽ⁿ⁾(input), the n-th derivative of digamma (``n >= 0``)."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    kernel = {0: "digamma", 1: "trigamma"}.get(n, "polygamma")
    return Polygamma.apply(_float(input, kernel), n=int(n))


@tensor_method(name="polygamma")
def polygamma_method(self: Tensor, n: int) -> Tensor:
    """``x.polygamma(n)``: the method takes ``n`` after the tensor."""
    return polygamma(n, self)


@tensor_method(name="polygamma_")
def polygamma_inplace(self: Tensor, n: int) -> Tensor:
    """``x.polygamma_(n)``: ψ⁽ⁿ⁾ written into ``x``."""
    from chainrule.ops.inplace import inplace_method

    out = inplace_method(polygamma_method)(self, n)
    if isinstance(out.grad_fn, Polygamma):
        out.grad_fn.overload = 1  # torch's node for the in-place overload
    return out


@op(inplace=True)
def mvlgamma(input: Tensor, p: int) -> Tensor:
    """The multivariate log-gamma of dimension ``p``:
    p(p-1)/4 log π + Σ_{j<p} lgamma(input - j/2)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return Mvlgamma.apply(_float(input, "arange_cpu"), p=int(p))  # torch's kernel name


@op(inplace=True)
def erfinv(input: Tensor) -> Tensor:
    """The inverse of erf on (-1, 1)."""
    return Erfinv.apply(_float(input, "erfinv_vml_cpu"))


@op(inplace=True, inplace_function=True)
def xlogy(input: Tensor, other: Tensor) -> Tensor:
    """``input * log(other)``, and 0 where ``input`` is 0 (unless ``other`` is nan)."""
    if has_complex(input, other):
        raise dtypes.kernel_missing("xlogy_cpu", dtypes.result_type(input, other))
    out = binary(Xlogy, input, other, float_result=True)
    if out.grad_fn is not None and not isinstance(input, Tensor):
        out.grad_fn.overload = 1  # torch's node for xlogy(number, tensor)
    elif out.grad_fn is not None and not isinstance(other, Tensor):
        out.grad_fn.overload = 2  # and for xlogy(tensor, number)
    return out

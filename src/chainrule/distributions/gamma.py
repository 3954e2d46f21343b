"""Gamma, Beta and Dirichlet: built on standard-gamma draws whose gradient with respect to
the concentration is the implicit reparameterization (Figurnov et al. 2018):
``dx/da = -(dF/da) / (dF/dx)`` with F(x; a) the gamma CDF, the regularized incomplete gamma
function P(a, x), as torch's ``_standard_gamma_grad``."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import creation
from chainrule._fp import quiet
from chainrule._tensor import Tensor, _make
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution, broadcast_all
from chainrule.dtypes import np_finfo
from chainrule.ops.elementwise.gamma import _lgamma, digamma, lgamma, xlogy
from chainrule.ops.op import Op
from chainrule.ops.shape.join import stack

__all__ = ["Beta", "Dirichlet", "Gamma"]


@quiet
def gammainc(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P(a, x), the regularized lower incomplete gamma function (float64, vectorised):
    its power series below x = a + 1, else 1 - Q(a, x) by Lentz's continued fraction."""
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    log_front = a * np.log(np.where(x > 0, x, 1)) - x - _lgamma(a)
    series = x < a + 1
    # the series: Σ x^n / (a+1)...(a+n), times x^a e^-x / Γ(a+1)
    term = np.ones_like(a) / a
    total = term.copy()
    ap = a.copy()
    for _ in range(500):
        ap = ap + 1
        term = term * x / ap
        total = total + term
        if np.all(np.abs(term) < np.abs(total) * 1e-16):
            break
    p_series = total * np.exp(log_front)
    # the continued fraction for Q (modified Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = np.full_like(a, 1 / tiny)
    d = 1 / np.where(np.abs(b) < tiny, tiny, b)
    h = d.copy()
    for i in range(1, 500):
        an = -i * (i - a)
        b = b + 2
        d = an * d + b
        d = 1 / np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / np.where(np.abs(c) < tiny, tiny, c)
        delta = c * d
        h = h * delta
        if np.all(np.abs(delta - 1) < 1e-16):
            break
    q_fraction = np.exp(log_front) * h
    out = np.where(series, p_series, 1 - q_fraction)
    return np.where(x <= 0, 0.0, out)


@quiet
def standard_gamma_grad(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """dx/da of a standard gamma draw x at concentration a, holding its CDF value fixed."""
    a = np.asarray(a, np.float64)
    x = np.asarray(x, np.float64)
    h = 1e-5 * np.maximum(a, 1e-3)
    dp_da = (gammainc(a + h, x) - gammainc(a - h, x)) / (2 * h)
    log_density = (a - 1) * np.log(x) - x - _lgamma(a)
    return -dp_da / np.exp(log_density)


class StandardGamma(Op):
    """A Gamma(a, 1) draw; backward: the implicit reparameterization gradient."""

    formula = "d x/d a = -(dP(a, x)/da) / p(x; a)  (P the gamma CDF, p its density)"
    torch_name = "StandardGammaBackward0"
    save_inputs, save_output = True, True

    def forward(self, a, generator):
        rng = (generator or creation.default_generator).rng
        x = rng.standard_gamma(a.astype(np.float64))
        tiny = np_finfo(a.dtype).tiny
        return np.maximum(x, tiny).astype(a.dtype)  # torch clamps draws to the smallest normal

    def backward(self, g):
        a, x = self.inputs[0], self.output
        grad = standard_gamma_grad(a._data, x._data).astype(a._data.dtype)
        return g * _make(grad)


def standard_gamma(concentration: Tensor, generator: Any = None) -> Tensor:
    return StandardGamma.apply(concentration, generator=generator)


class Gamma(Distribution):
    """Gamma(concentration, rate): density ∝ x^(a-1) e^(-rate x)."""

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration: Any, rate: Any, validate_args: bool | None = None) -> None:
        self.concentration, self.rate = broadcast_all(concentration, rate)
        super().__init__(self.concentration.shape, (), validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.rate

    @property
    def mode(self) -> Tensor:
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self) -> Tensor:
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        x = standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)
        tiny = float(np_finfo(x._data.dtype).tiny)
        return x.clamp(min=tiny)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a, b = self.concentration, self.rate
        return xlogy(a, b) + xlogy(a - 1, value) - b * value - lgamma(a)

    def cdf(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        p = gammainc(self.concentration.detach().numpy(), (self.rate * value).detach().numpy())
        return creation.tensor(p, dtype=self.rate.dtype)

    def entropy(self) -> Tensor:
        a = self.concentration
        return a - self.rate.log() + lgamma(a) + (1.0 - a) * digamma(a)


class Dirichlet(Distribution):
    """Dirichlet(concentration) on the simplex: normalized independent gamma draws."""

    arg_constraints = {"concentration": constraints.independent(constraints.positive, 1)}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, concentration: Tensor, validate_args: bool | None = None) -> None:
        if concentration.dim() < 1:
            raise ValueError("`concentration` parameter must be at least one-dimensional.")
        self.concentration = concentration
        shape = concentration.shape
        super().__init__(shape[:-1], shape[-1:], validate_args)

    @property
    def mean(self) -> Tensor:
        return self.concentration / self.concentration.sum(-1, keepdim=True)

    @property
    def mode(self) -> Tensor:
        a = (self.concentration - 1).clamp(min=0.0)
        mode = a / a.sum(-1, keepdim=True)
        lone = (self.concentration < 1).sum(-1) == self.concentration.shape[-1] - 1
        hot = (self.concentration > 1).to(mode.dtype)
        return mode.where(~lone.unsqueeze(-1), hot)

    @property
    def variance(self) -> Tensor:
        a0 = self.concentration.sum(-1, keepdim=True)
        return self.concentration * (a0 - self.concentration) / (a0.pow(2) * (a0 + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        g = standard_gamma(self.concentration.expand(shape))
        return g / g.sum(-1, keepdim=True)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        a = self.concentration
        return xlogy(a - 1.0, value).sum(-1) + lgamma(a.sum(-1)) - lgamma(a).sum(-1)

    def entropy(self) -> Tensor:
        a = self.concentration
        k = a.shape[-1]
        a0 = a.sum(-1)
        return (
            lgamma(a).sum(-1)
            - lgamma(a0)
            - (k - a0) * digamma(a0)
            - ((a - 1.0) * digamma(a)).sum(-1)
        )


class Beta(Distribution):
    """Beta(concentration1, concentration0) on [0, 1]: a two-category Dirichlet's first
    coordinate."""

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    has_rsample = True

    def __init__(
        self, concentration1: Any, concentration0: Any, validate_args: bool | None = None
    ) -> None:
        c1, c0 = broadcast_all(concentration1, concentration0)
        pair = stack([c1, c0], -1)
        self._dirichlet = Dirichlet(pair, validate_args=validate_args)
        super().__init__(self._dirichlet._batch_shape, (), validate_args)

    @property
    def concentration1(self) -> Tensor:
        """The first concentration, alpha (the weight of 1)."""
        c = self._dirichlet.concentration[..., 0]
        return c.reshape(()) if c.numel() == 1 and not self._batch_shape else c

    @property
    def concentration0(self) -> Tensor:
        """The second concentration, beta (the weight of 0)."""
        c = self._dirichlet.concentration[..., 1]
        return c.reshape(()) if c.numel() == 1 and not self._batch_shape else c

    @property
    def mean(self) -> Tensor:
        return self.concentration1 / (self.concentration1 + self.concentration0)

    @property
    def mode(self) -> Tensor:
        return self._dirichlet.mode[..., 0]

    @property
    def variance(self) -> Tensor:
        total = self.concentration1 + self.concentration0
        return self.concentration1 * self.concentration0 / (total.pow(2) * (total + 1))

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        return self._dirichlet.rsample(sample_shape).select(-1, 0)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        heads_tails = stack([value, 1.0 - value], -1)
        return self._dirichlet.log_prob(heads_tails)

    def entropy(self) -> Tensor:
        return self._dirichlet.entropy()

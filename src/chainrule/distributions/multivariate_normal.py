"""MultivariateNormal: parameterized by one of covariance_matrix, precision_matrix or
scale_tril (L, with covariance L Lᵀ); everything is computed from L."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule._tensor import Tensor
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution, lazy_property, standard_normal
from chainrule.ops.linalg.decomp import cholesky, solve_triangular

__all__ = ["MultivariateNormal"]


def _batch_mahalanobis(L: Tensor, x: Tensor) -> Tensor:
    """xᵀ (L Lᵀ)⁻¹ x for each batch element: the squared norm of L⁻¹ x."""
    shape = np.broadcast_shapes(tuple(L.shape[:-2]), tuple(x.shape[:-1]))
    L = L.expand(*shape, *L.shape[-2:])
    z = solve_triangular(L, x.expand(*shape, x.shape[-1]).unsqueeze(-1), upper=False)
    return z.squeeze(-1).pow(2).sum(-1)


def _precision_to_scale_tril(P: Tensor) -> Tensor:
    """torch's route from a precision matrix to L, through the Cholesky factor of the
    flipped precision (no explicit inverse of P)."""
    Lf = cholesky(P.flip((-2, -1)))
    L_inv = Lf.flip((-2, -1)).mT
    return solve_triangular(L_inv, _eye(P), upper=False)


def _eye(P: Tensor) -> Tensor:
    from chainrule.creation import eye

    return eye(P.shape[-1], dtype=P.dtype)


class MultivariateNormal(Distribution):
    """N(loc, Σ) on vectors of ``loc.shape[-1]``; ``rsample`` is ``loc + L eps``."""

    arg_constraints = {
        "loc": constraints.real_vector,
        "covariance_matrix": constraints.positive_definite,
        "precision_matrix": constraints.positive_definite,
        "scale_tril": constraints.lower_cholesky,
    }
    support = constraints.real_vector
    has_rsample = True

    def __init__(
        self,
        loc: Tensor,
        covariance_matrix: Tensor | None = None,
        precision_matrix: Tensor | None = None,
        scale_tril: Tensor | None = None,
        validate_args: bool | None = None,
    ) -> None:
        if loc.dim() < 1:
            raise ValueError("loc must be at least one-dimensional.")
        given = [m for m in (covariance_matrix, precision_matrix, scale_tril) if m is not None]
        if len(given) != 1:
            raise ValueError(
                "Exactly one of covariance_matrix or precision_matrix or scale_tril may be "
                "specified."
            )
        matrix = given[0]
        if matrix.dim() < 2:
            which = (
                "scale_tril" if scale_tril is not None
                else "covariance_matrix" if covariance_matrix is not None
                else "precision_matrix"
            )  # fmt: skip
            raise ValueError(
                f"{which} matrix must be at least two-dimensional, with optional leading batch "
                "dimensions"
            )
        batch = np.broadcast_shapes(tuple(matrix.shape[:-2]), tuple(loc.shape[:-1]))
        k = loc.shape[-1]
        if scale_tril is not None:
            self.scale_tril = scale_tril.expand(*batch, k, k)
        elif covariance_matrix is not None:
            self.covariance_matrix = covariance_matrix.expand(*batch, k, k)
        else:
            self.precision_matrix = precision_matrix.expand(*batch, k, k)  # type: ignore[union-attr]
        self.loc = loc.expand(*batch, k)
        super().__init__(batch, (k,), validate_args)
        if scale_tril is not None:
            self._unbroadcasted_scale_tril = scale_tril
        elif covariance_matrix is not None:
            self._unbroadcasted_scale_tril = cholesky(covariance_matrix)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(precision_matrix)  # type: ignore[arg-type]

    @lazy_property
    def scale_tril(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return L.expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def covariance_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return (L @ L.mT).expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @lazy_property
    def precision_matrix(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        L_inv = solve_triangular(L, _eye(L), upper=False)
        return (L_inv.mT @ L_inv).expand(*self._batch_shape, *self._event_shape, *self._event_shape)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def variance(self) -> Tensor:
        L = self._unbroadcasted_scale_tril
        return L.pow(2).sum(-1).expand(*self._batch_shape, *self._event_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        eps = standard_normal(self._extended_shape(sample_shape), self.loc)
        return self.loc + (self._unbroadcasted_scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def _half_log_det(self) -> Tensor:
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value: Tensor) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        k = self._event_shape[0]
        m = _batch_mahalanobis(self._unbroadcasted_scale_tril, value - self.loc)
        return -0.5 * (k * math.log(2 * math.pi) + m) - self._half_log_det()

    def entropy(self) -> Tensor:
        k = self._event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(*self._batch_shape) if self._batch_shape else h

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        return f"MultivariateNormal({', '.join(f'{k}: {self.__dict__[k].size()}' for k in names)})"


def kl_mvn_mvn(p: MultivariateNormal, q: MultivariateNormal) -> Tensor:
    if p.event_shape != q.event_shape:
        raise ValueError(
            "KL-divergence between two Multivariate Normals with different event shapes "
            "cannot be computed"
        )
    k = p.event_shape[0]
    half_term1 = q._half_log_det() - p._half_log_det()
    shape = np.broadcast_shapes(tuple(p._batch_shape), tuple(q._batch_shape))
    qL = q._unbroadcasted_scale_tril.expand(*shape, k, k)
    pL = p._unbroadcasted_scale_tril.expand(*shape, k, k)
    term2 = solve_triangular(qL, pL, upper=False).pow(2).flatten(-2).sum(-1)
    term3 = _batch_mahalanobis(q._unbroadcasted_scale_tril, q.loc - p.loc)
    return half_term1 + 0.5 * (term2 + term3 - k)

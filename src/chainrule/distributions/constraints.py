"""Constraints: where a distribution's parameters and values live (torch.distributions'
names and printed forms). ``check(value)`` is a bool tensor, True where ``value`` is valid."""

from __future__ import annotations

from typing import Any

from chainrule._tensor import Tensor

__all__ = [
    "Constraint", "boolean", "dependent", "greater_than", "greater_than_eq", "half_open_interval",
    "independent", "integer_interval", "is_dependent", "interval", "less_than", "lower_cholesky",
    "nonnegative", "nonnegative_integer", "one_hot", "positive", "positive_definite",
    "positive_integer",
    "real", "real_vector", "simplex", "unit_interval",
]  # fmt: skip


class Constraint:
    """A set of values; ``event_dim`` is how many rightmost dims form one event."""

    is_discrete = False
    event_dim = 0

    def check(self, value: Tensor) -> Tensor:
        """A bool tensor, True where ``value`` satisfies the constraint (one entry per event)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__.lstrip("_") + "()"


class _Dependent(Constraint):
    """The support depends on other parameters: not checked."""

    def check(self, value: Tensor) -> Tensor:
        raise ValueError("Cannot determine validity of dependent constraint")


class _Boolean(Constraint):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value == 0) | (value == 1)


class _Real(Constraint):
    def check(self, value: Tensor) -> Tensor:
        return value == value  # not nan


class _Bounded(Constraint):
    """A bound or two, printed with torch's argument names."""

    def __init__(self, lower_bound: Any = None, upper_bound: Any = None) -> None:
        self.lower_bound, self.upper_bound = lower_bound, upper_bound

    def __repr__(self) -> str:
        parts = [f"lower_bound={self.lower_bound}"] if self.lower_bound is not None else []
        if self.upper_bound is not None:
            parts.append(f"upper_bound={self.upper_bound}")
        return f"{type(self).__name__.lstrip('_')}({', '.join(parts)})"


class _GreaterThan(_Bounded):
    """``greater_than(lower_bound)``: values above ``lower_bound``."""

    def check(self, value: Tensor) -> Tensor:
        return value > self.lower_bound


class _GreaterThanEq(_Bounded):
    """``greater_than_eq(lower_bound)``: values at or above ``lower_bound``."""

    def check(self, value: Tensor) -> Tensor:
        return value >= self.lower_bound


class _LessThan(_Bounded):
    """``less_than(upper_bound)``: values below ``upper_bound``."""

    def __init__(self, upper_bound: Any) -> None:
        super().__init__(None, upper_bound)

    def check(self, value: Tensor) -> Tensor:
        return value < self.upper_bound


class _Interval(_Bounded):
    """``interval(lower_bound, upper_bound)``: the closed interval between the bounds."""

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value <= self.upper_bound)


class _HalfOpenInterval(_Bounded):
    """``half_open_interval(lower_bound, upper_bound)``: ``lower_bound <= x < upper_bound``."""

    def check(self, value: Tensor) -> Tensor:
        return (value >= self.lower_bound) & (value < self.upper_bound)


class _IntegerInterval(_Bounded):
    """``integer_interval(lower_bound, upper_bound)``: whole numbers between the bounds."""

    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & (value >= self.lower_bound) & (value <= self.upper_bound)


class _IntegerGreaterThan(_Bounded):
    is_discrete = True

    def check(self, value: Tensor) -> Tensor:
        return (value % 1 == 0) & (value >= self.lower_bound)


class _Simplex(Constraint):
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return (value >= 0).all(-1) & ((value.sum(-1) - 1).abs() < 1e-6)


class _OneHot(Constraint):
    is_discrete = True
    event_dim = 1

    def check(self, value: Tensor) -> Tensor:
        return ((value == 0) | (value == 1)).all(-1) & (value.sum(-1) == 1)


class _LowerCholesky(Constraint):
    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        lower = (value.tril() == value).flatten(-2).all(-1)
        return lower & (value.diagonal(dim1=-2, dim2=-1) > 0).all(-1)


class _PositiveDefinite(Constraint):
    event_dim = 2

    def check(self, value: Tensor) -> Tensor:
        import numpy as np

        from chainrule.creation import tensor

        a = value.detach().numpy()
        sym = np.allclose(a, np.swapaxes(a, -1, -2), atol=1e-6)
        ok = np.linalg.eigvalsh(a).min(-1) > 0 if sym else np.zeros(a.shape[:-2], bool)
        return tensor(ok)


class IndependentConstraint(Constraint):
    """``base`` on the last ``reinterpreted_batch_ndims`` dims taken as one event."""

    def __init__(self, base: Constraint, reinterpreted_batch_ndims: int) -> None:
        self.base, self.reinterpreted_batch_ndims = base, reinterpreted_batch_ndims
        self.event_dim = base.event_dim + reinterpreted_batch_ndims
        self.is_discrete = base.is_discrete

    def check(self, value: Tensor) -> Tensor:
        ok = self.base.check(value)
        for _ in range(self.reinterpreted_batch_ndims):
            ok = ok.all(-1)
        return ok

    def __repr__(self) -> str:
        return f"IndependentConstraint({self.base!r}, {self.reinterpreted_batch_ndims})"


def is_dependent(constraint: Any) -> bool:
    """Whether ``constraint`` is ``dependent`` (a support set by other parameters)."""
    return isinstance(constraint, _Dependent)


dependent = _Dependent()
boolean = _Boolean()
real = _Real()
real_vector = IndependentConstraint(real, 1)
positive = _GreaterThan(0.0)
nonnegative = _GreaterThanEq(0.0)
unit_interval = _Interval(0.0, 1.0)
nonnegative_integer = _IntegerGreaterThan(0)
positive_integer = _IntegerGreaterThan(1)
simplex = _Simplex()
one_hot = _OneHot()
lower_cholesky = _LowerCholesky()
positive_definite = _PositiveDefinite()
greater_than = _GreaterThan
greater_than_eq = _GreaterThanEq
less_than = _LessThan
interval = _Interval
half_open_interval = _HalfOpenInterval
integer_interval = _IntegerInterval
independent = IndependentConstraint

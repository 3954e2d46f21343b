"""The Distribution base: shapes, argument validation with torch's messages, sampling
shapes, and the helpers every family uses (broadcasting parameters, probs <-> logits)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import creation
from chainrule._tensor import Size, Tensor
from chainrule.distributions import constraints
from chainrule.dtypes import np_finfo
from chainrule.graph import no_grad

__all__ = ["Distribution"]


class lazy_property:  # noqa: N801  (torch's name)
    """Computed on first read, then stored on the instance (probs of a logits-made one)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.__doc__ = fn.__doc__

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.fn.__name__] = value
        return value


class Distribution:
    """A family of probability distributions over tensors of ``event_shape``, batched over
    ``batch_shape``. Subclasses give ``arg_constraints``, ``support`` and the math."""

    has_rsample = False
    has_enumerate_support = False
    arg_constraints: dict[str, constraints.Constraint] = {}
    support: Any = None
    _validate_args_default = True  # torch: __debug__

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument and sample validation on or off for distributions made from now on."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args_default = value

    def __init__(
        self, batch_shape: Any = (), event_shape: Any = (), validate_args: bool | None = None
    ) -> None:
        self._batch_shape = Size(batch_shape)
        self._event_shape = Size(event_shape)
        self._validate_args = (
            Distribution._validate_args_default if validate_args is None else validate_args
        )
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                lazy = isinstance(getattr(type(self), param, None), lazy_property)
                if constraints.is_dependent(constraint) or (lazy and param not in self.__dict__):
                    continue  # a lazily computed twin (probs of logits): not checked
                value = getattr(self, param)
                if not bool(constraint.check(value).all()):
                    raise ValueError(
                        f"Expected parameter {param} (Tensor of shape {tuple(value.shape)}) "
                        f"of distribution {self!r} to satisfy the constraint {constraint!r}, "
                        f"but found invalid values:\n{value}"
                    )

    @property
    def batch_shape(self) -> Size:
        """The shape over which parameters are batched (independent distributions)."""
        return self._batch_shape

    @property
    def event_shape(self) -> Size:
        """The shape of a single sample (``()`` for a scalar distribution)."""
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> Size:
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Draws, out of the graph (``rsample`` under ``no_grad`` when there is one)."""
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """Reparameterized samples of shape ``sample_shape + batch_shape + event_shape``:
        differentiable with respect to the parameters.
        """
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized samples")

    def sample_n(self, n: int) -> Tensor:
        """``n`` samples (``sample((n,))``)."""
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        """The log of the probability density (or mass) at ``value``."""
        raise NotImplementedError

    def cdf(self, value: Tensor) -> Tensor:
        """The cumulative distribution function at ``value``."""
        raise NotImplementedError

    def icdf(self, value: Tensor) -> Tensor:
        """The inverse cumulative distribution function at ``value`` (a probability)."""
        raise NotImplementedError

    def entropy(self) -> Tensor:
        """The entropy, one value per batch element."""
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        """``exp(entropy)``."""
        return self.entropy().exp()

    @property
    def mean(self) -> Tensor:
        """The mean of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mean")

    @property
    def mode(self) -> Tensor:
        """The mode (most likely value) of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    @property
    def variance(self) -> Tensor:
        """The variance of the distribution."""
        raise NotImplementedError(f"{type(self).__name__} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        """The standard deviation (the square root of the variance)."""
        return self.variance.sqrt()

    def _validate_sample(self, value: Tensor) -> None:
        """torch's check of a ``log_prob`` argument: a tensor, broadcastable, in the support."""
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        event_dim = len(self._event_shape)
        if tuple(value.shape[value.dim() - event_dim :]) != tuple(self._event_shape):
            raise ValueError(
                f"The right-most size of value must match event_shape: {tuple(value.shape)} "
                f"vs {tuple(self._event_shape)}."
            )
        shape = tuple(value.shape)
        actual = shape[: len(shape) - event_dim] if event_dim else shape
        expected = tuple(self._batch_shape)
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(
                    f"Value is not broadcastable with batch_shape+event_shape: {value.size()} vs "
                    f"{self._extended_shape()}."
                )
        support = self.support
        if not bool(support.check(value).all()):
            raise ValueError(
                f"Expected value argument (Tensor of shape {shape}) to be within the support "
                f"({support!r}) of the distribution {self!r}, but found invalid values:\n{value}"
            )

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for k in names:
            v = self.__dict__[k]
            parts.append(f"{k}: {v if v.numel() == 1 else v.size()}")  # 0-d: as a number
        return f"{type(self).__name__}({', '.join(parts)})"


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Tensors and numbers broadcast to one shape; numbers take the tensors' float dtype."""
    tensors = [v for v in values if isinstance(v, Tensor)]
    if not all(isinstance(v, Tensor | int | float) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, torch.Tensor")
    dtype = tensors[0].dtype if tensors else None
    as_t = [v if isinstance(v, Tensor) else creation.tensor(float(v), dtype=dtype) for v in values]
    shape = np.broadcast_shapes(*(tuple(t.shape) for t in as_t))
    return tuple(t.expand(shape) if tuple(t.shape) != shape else t for t in as_t)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def clamp_probs(probs: Tensor) -> Tensor:
    eps = float(np_finfo(probs._data.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


def standard_normal(shape: Any, like: Tensor) -> Tensor:
    return creation.randn(*shape, dtype=like.dtype)


def uniform01(shape: Any, like: Tensor) -> Tensor:
    """Uniform on [tiny, 1): never 0, so logs of it are finite (torch's _finfo(...).tiny)."""
    u = creation.rand(*shape, dtype=like.dtype)
    return u.clamp(min=float(np_finfo(u._data.dtype).tiny))


HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)

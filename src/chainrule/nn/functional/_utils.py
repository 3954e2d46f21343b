"""Helpers shared by the functional files: torch's reduction arguments and dtype names."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule._tensor import Size, Tensor
from chainrule.dtypes import kind_of, scalar_type_name

__all__ = ["get_reduction", "reduce", "check_float", "type_name", "size_repr"]


def type_name(x: Tensor) -> str:
    """torch's scalar type name: Float, Double, Long ..."""
    return scalar_type_name(x._data)


def size_repr(x: Tensor) -> str:
    return repr(Size(x._data.shape))


def _legacy(size_average: Any, reduce: Any) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if size_average and reduce else "sum" if reduce else "none"
    warnings.warn(
        f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
        UserWarning,
        stacklevel=4,
    )
    return ret


def get_reduction(reduction: str, size_average: Any = None, reduce: Any = None) -> str:
    """The reduction a loss will apply, from torch's arguments (legacy ones included)."""
    if size_average is not None or reduce is not None:
        return _legacy(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            UserWarning,
            stacklevel=3,
        )
        return "mean"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def check_float(x: Tensor, kernel: str, complex: bool = True) -> None:
    if kind_of(x._data.dtype) not in ("fc" if complex else "f"):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{type_name(x)}'")


def np_dtype(x: Tensor) -> np.dtype:
    return x._data.dtype

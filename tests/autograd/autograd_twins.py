"""Shared helpers for the autograd tests: run one thing in chainrule and in torch, compare
nested results (tuple structure, shapes, dtypes, values, requires_grad) and error texts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr


def pair(a: np.ndarray, requires_grad: bool = False) -> tuple[cr.Tensor, torch.Tensor]:
    """The same float64 array as a chainrule and a torch tensor."""
    a = np.asarray(a, dtype=np.float64)
    return (
        cr.tensor(a.copy(), requires_grad=requires_grad),
        torch.tensor(a.copy(), requires_grad=requires_grad),
    )


def arrays(*shapes: tuple, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, s) for s in shapes]


def compare(ours: Any, theirs: Any, rtol: float = 1e-7, atol: float = 1e-9, grad: bool = True):
    """Same nesting, shapes, dtypes, values (and requires_grad when ``grad``)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, cr.Tensor), f"expected a Tensor, got {type(ours)}"
        assert tuple(ours.shape) == tuple(theirs.shape), (ours.shape, theirs.shape)
        assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
        np.testing.assert_allclose(
            ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol, atol=atol
        )
        if grad:
            assert ours.requires_grad == theirs.requires_grad, "requires_grad differs"
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for k in theirs:
            compare(ours[k], theirs[k], rtol, atol, grad)
    elif isinstance(theirs, tuple | list):
        assert type(ours) is type(theirs), f"expected {type(theirs)}, got {type(ours)}"
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            compare(a, b, rtol, atol, grad)
    else:
        assert ours == theirs, (ours, theirs)


def torch_error(fn: Callable[[], Any]) -> BaseException:
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def same_error(ours: Callable[[], Any], theirs: Callable[[], Any]) -> None:
    """chainrule raises torch's exception type with torch's message (torch. -> chainrule.)."""
    expected = torch_error(theirs)
    text = str(expected).replace("torch.Size", "chainrule.Size")
    with pytest.raises(type(expected), match=re.escape(text)):
        ours()

"""Short programs run under torch and chainrule (``program(m)``, ``m`` the library), their
outcomes compared: the returned values (tensors by values, dtype and requires_grad; None,
numbers, strings and flags as they are, nested in tuples and lists), or the exception
(type and full text; chainrule's messages say "chainrule" where torch's say "torch")."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

import chainrule as cr


def outcome(program: Callable[[Any], Any], m: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the non-leaf .grad warning: read on purpose
        try:
            return _plain(program(m))
        except Exception as e:  # noqa: BLE001 - the exception is the outcome
            return ("raised", type(e).__name__, str(e).replace("chainrule", "torch"))


def _plain(x: Any) -> Any:
    if isinstance(x, torch.Tensor | cr.Tensor):
        a = np.asarray(x.detach().numpy())
        return ("tensor", a.dtype.name, a.shape, a.tolist(), x.requires_grad)
    if isinstance(x, tuple | list):
        return tuple(_plain(v) for v in x)
    return x


def check(program: Callable[[Any], Any]) -> Any:
    """Run ``program`` under both libraries and assert the outcomes agree; returns torch's."""
    theirs, ours = outcome(program, torch), outcome(program, cr)
    same(ours, theirs)
    return theirs


def same(ours: Any, theirs: Any) -> None:
    if isinstance(theirs, tuple) and theirs[:1] == ("tensor",):
        assert isinstance(ours, tuple) and ours[:1] == ("tensor",), (ours, theirs)
        assert ours[1:3] == theirs[1:3], (ours, theirs)  # dtype, shape
        np.testing.assert_allclose(ours[3], theirs[3], rtol=1e-6, atol=1e-12)
        assert ours[4] == theirs[4], f"requires_grad: {ours[4]} (torch {theirs[4]})"
    elif isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
    else:
        assert ours == theirs, (ours, theirs)

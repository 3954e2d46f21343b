"""The Jacobians ``gradcheck`` compares: numerical (float64 central differences),
analytical by reverse mode (one backward per row) and by forward mode (one pass per column)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make, mutate
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd._grad import grad as _grad
from chainrule.dtypes import kind_of

__all__ = ["GradcheckError"]


class GradcheckError(RuntimeError):
    """Error raised by :func:`gradcheck` and :func:`gradgradcheck`."""


def _as_tuple(x: Any) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _differentiable_outputs(x: Any) -> tuple:
    return tuple(o for o in _as_tuple(x) if o.requires_grad)


def _is_float(x: Any) -> bool:
    return isinstance(x, Tensor) and kind_of(x._data.dtype) in "fc"


def _check_inputs(tupled_inputs: tuple) -> None:
    any_grad = False
    for idx, inp in enumerate(tupled_inputs):
        if isinstance(inp, Tensor) and inp.requires_grad:
            if inp._data.dtype not in (np.float64, np.complex128):
                warnings.warn(
                    f"Input #{idx} requires gradient and is not a double precision floating "
                    "point or complex. This check will likely fail if all the inputs are not "
                    "of double precision floating point or complex. ",
                    stacklevel=3,
                )
            a = inp._data
            if not all(st > 0 or sz <= 1 for st, sz in zip(a.strides, a.shape)):
                raise RuntimeError(
                    f"The {idx}th input has a dimension with stride 0. gradcheck only supports "
                    "inputs that are non-overlapping to be able to compute the numerical "
                    "gradients correctly. You should call .contiguous on the input before "
                    "passing it to gradcheck."
                )
            any_grad = True
    if not any_grad:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of them "
            "have requires_grad=True."
        )


def _notallclose_msg(a: Any, n: Any, output_idx: int, input_idx: int, fw: bool = False) -> str:
    mode = "computed with forward mode " if fw else ""
    if isinstance(a, float):  # fast mode compares numbers, printed as such (torch)
        return (
            f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input "
            f"{input_idx:d},\nnumerical:{n}\nanalytical:{a}\n"
        )
    return (
        f"Jacobian {mode}mismatch for output {output_idx:d} with respect to input "
        f"{input_idx:d},\nnumerical:{_make(np.asarray(n))}\nanalytical:{_make(np.asarray(a))}\n"
    )


def _worst_element(a: np.ndarray, n: np.ndarray) -> str:
    """Where the two Jacobians (input element x output element) differ most."""
    if a.ndim != 2 or not a.size:
        return ""
    k, m = np.unravel_index(int(np.argmax(np.abs(a - n))), a.shape)
    return (
        f"The largest difference is for input element {k} and output element {m}: "
        f"numerical {float(n[k, m])!r}, analytical {float(a[k, m])!r}.\n"
    )


# --------------------------------------------------------------------------- numerical


def _numerical_jvp(func: Callable, inputs: tuple, idx: int, direction: np.ndarray, eps: float):
    """Central difference of every float output along ``direction`` for input ``idx``:
    flat arrays ``(f(x + eps·d) - f(x - eps·d)) / (2 eps)``."""
    target = inputs[idx].data  # as torch, perturbed through `.data`: its own version counter
    orig = target._data.copy()
    args = tuple(x.detach() if i == idx else x for i, x in enumerate(inputs))

    def run() -> list[np.ndarray]:
        outs = _as_tuple(func(*args))
        return [np.array(o._data, copy=True) for o in outs if _is_float(o)]

    try:
        mutate(target, orig - eps * direction)
        outa = run()
        mutate(target, orig + eps * direction)
        outb = run()
    finally:
        mutate(target, orig)
    return [((b - a) / (2 * eps)).reshape(-1) for a, b in zip(outa, outb)]


def _numerical_jacobian(func: Callable, inputs: tuple, eps: float) -> list[list[np.ndarray]]:
    """``[input i][float output j]``: Jacobians of shape (in numel, out numel)."""
    result = []
    for idx, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        cols = []
        for k in range(x._data.size):
            d = np.zeros(x._data.shape, x._data.dtype)
            d.flat[k] = 1
            cols.append(_numerical_jvp(func, inputs, idx, d, eps))
        n_out = len(cols[0]) if cols else len(_float_outputs(func, inputs))
        result.append(
            [np.stack([c[j] for c in cols]) if cols else np.zeros((0, 0)) for j in range(n_out)]
        )
    return result


def _float_outputs(func: Callable, inputs: tuple) -> list:
    return [o for o in _as_tuple(func(*inputs)) if _is_float(o)]


# --------------------------------------------------------------------------- analytical


def _vjps(output: Tensor, diff_inputs: list, v: np.ndarray, check_grad_dtypes: bool):
    (gs) = _grad(
        output, diff_inputs, _make(v.reshape(output._data.shape)), retain_graph=True,
        allow_unused=True,
    )  # fmt: skip
    res = []
    for g, x in zip(gs, diff_inputs):
        if g is None:
            res.append(np.zeros(x._data.size, x._data.dtype))
            continue
        if g._data.shape != x._data.shape:
            raise GradcheckError("Analytical gradient has incorrect size")
        if check_grad_dtypes and g._data.dtype != x._data.dtype:
            raise GradcheckError("Gradient has dtype mismatch")
        res.append(np.array(g._data, copy=True).reshape(-1))
    return res


def _analytical_rows(output: Tensor, diff_inputs: list, vs: list, nondet_tol: float, cdt: bool):
    """vᵀJ for each v in ``vs``, twice (the backward must be reentrant):
    ``[input i]`` -> array (input numel, len(vs))."""
    runs = []
    for _ in range(2):
        rows = [_vjps(output, diff_inputs, v, cdt) for v in vs]
        runs.append([np.stack([r[i] for r in rows], axis=1) for i in range(len(diff_inputs))])
    for a, b in zip(*runs):
        if a.size and np.abs(a - b).max() > nondet_tol:
            raise GradcheckError(
                "Backward is not reentrant, i.e., running backward with same input and "
                "grad_output multiple times gives different values, although analytical "
                "gradient matches numerical gradient."
                f"The tolerance for nondeterminism was {nondet_tol}."
            )
    return runs[0]


def _forward_jacobian(func: Callable, inputs: tuple, directions: list | None) -> list:
    """Forward-mode ``[input i][float output j]``: (numel, out numel), or ``J u`` flat
    when ``directions`` holds one u per differentiable input."""
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    result = []
    for n, idx in enumerate(diff):
        x = inputs[idx]
        dirs = [directions[n]] if directions is not None else None
        if dirs is None:
            dirs = []
            for k in range(x._data.size):
                d = np.zeros(x._data.shape, x._data.dtype)
                d.flat[k] = 1
                dirs.append(d)
        cols = []
        for d in dirs:
            with fwAD.dual_level():
                args = tuple(
                    fwAD.make_dual(a.detach(), _make(d if i == idx else np.zeros_like(a._data)))
                    if i in diff
                    else a
                    for i, a in enumerate(inputs)
                )
                outs = [o for o in _as_tuple(func(*args)) if _is_float(o)]
                col = []
                for o in outs:
                    t = fwAD.unpack_dual(o).tangent
                    col.append(
                        np.zeros(o._data.size, o._data.dtype)
                        if t is None
                        else np.array(t._data, copy=True).reshape(-1)
                    )
            cols.append(col)
        n_out = len(cols[0]) if cols else 0
        if directions is not None:
            result.append([cols[0][j] for j in range(n_out)])
        else:
            result.append([np.stack([c[j] for c in cols]) for j in range(n_out)])
    return result

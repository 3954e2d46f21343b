"""``gradcheck`` and ``gradgradcheck``: analytical gradients against float64 central
differences (torch.autograd.gradcheck: same signatures, checks and error texts).

Slow mode builds both Jacobians in full: the numerical one column by column (each input
element perturbed by ±eps), the analytical one row by row (one backward per output
element), each of shape ``(input.numel(), output.numel())``. Fast mode compares the scalars
``vᵀ J u`` for random unit vectors ``u`` (per input) and ``v`` (per output) instead.
``check_batched_grad`` is accepted; chainrule computes batched gradients by looping
(``chainrule.func.vmap``), which agrees with the unbatched ones by construction.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd import grad as _grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


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
    return isinstance(x, Tensor) and x._data.dtype.kind in "fc"


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
    data = inputs[idx]._data
    orig = data.copy()
    args = tuple(x.detach() if i == idx else x for i, x in enumerate(inputs))

    def run() -> list[np.ndarray]:
        outs = _as_tuple(func(*args))
        return [np.array(o._data, copy=True) for o in outs if _is_float(o)]

    try:
        data[...] = orig - eps * direction
        outa = run()
        data[...] = orig + eps * direction
        outb = run()
    finally:
        data[...] = orig
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
            [
                np.stack([c[j] for c in cols]) if cols else np.zeros((0, 0))
                for j in range(n_out)
            ]
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


# --------------------------------------------------------------------------- the checks


def _slow(func, func_out, inputs, outputs, eps, rtol, atol, cdt, nondet_tol, fw) -> None:
    func_out = _as_tuple(func_out)
    numerical = _numerical_jacobian(func, inputs, eps)  # [input][float output]
    if not outputs:
        for per_input in numerical:
            for jac in per_input:
                if np.count_nonzero(jac):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    floats = [o for o in func_out if _is_float(o)]
    keep = [k for k, o in enumerate(floats) if o.requires_grad]
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    if fw:
        analytical = _forward_jacobian(func, inputs, None)
    for i, o in enumerate(outputs):
        if not fw:
            eye = np.eye(o._data.size, dtype=o._data.dtype)
            rows = _analytical_rows(o, diff_inputs, list(eye), nondet_tol, cdt)
        for j in range(len(diff_inputs)):
            n = numerical[j][keep[i]]
            a = analytical[j][keep[i]] if fw else rows[j]
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                raise GradcheckError(_notallclose_msg(a, n, i, j, fw) + _worst_element(a, n))


def _fast(func, func_out, inputs, outputs, eps, rtol, atol, cdt, nondet_tol, fw) -> None:
    rng = np.random.default_rng(0)
    idxs = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    us = []
    for i in idxs:
        u = rng.random(inputs[i]._data.size)
        us.append((u / (np.linalg.norm(u) or 1)).astype(inputs[i]._data.dtype))
    vs = []
    for o in outputs:
        v = rng.random(o._data.size)
        vs.append((v / (np.linalg.norm(v) or 1)).astype(o._data.dtype))
    floats = [o for o in _as_tuple(func_out) if _is_float(o)]
    keep = [k for k, o in enumerate(floats) if o.requires_grad]
    Ju = [
        _numerical_jvp(func, inputs, i, u.reshape(inputs[i]._data.shape), eps)
        for i, u in zip(idxs, us)
    ]
    if not outputs:
        for per_input in Ju:
            for jvp in per_input:
                if jvp.size and np.abs(jvp).max() > nondet_tol:
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return
    diff_inputs = [inputs[i] for i in idxs]
    if fw:
        shaped = [u.reshape(inputs[i]._data.shape) for i, u in zip(idxs, us)]
        fJu = _forward_jacobian(func, inputs, shaped)
    for j, o in enumerate(outputs):
        if not fw:
            vJ = _analytical_rows(o, diff_inputs, [vs[j]], nondet_tol, cdt)
        for i, u in enumerate(us):
            if fw:
                a, n = fJu[i][keep[j]], Ju[i][keep[j]]
                tol = atol * float(u.sum())
            else:
                a, n = float(vJ[i][:, 0] @ u), float(vs[j] @ Ju[i][keep[j]])
                tol = atol * float(u.sum()) * float(vs[j].sum())
            if not np.allclose(a, n, rtol=rtol, atol=tol):
                raise GradcheckError(_notallclose_msg(a, n, j, i, fw) + _slow_note(
                    func, func_out, inputs, outputs, eps, rtol, atol, i, j
                ))  # fmt: skip


def _slow_note(func, func_out, inputs, outputs, eps, rtol, atol, i, j) -> str:
    """torch's fast-mode addendum: the same entries recomputed in slow mode."""
    numerical = _numerical_jacobian(func, inputs, eps)
    floats = [o for o in _as_tuple(func_out) if _is_float(o)]
    keep = [k for k, o in enumerate(floats) if o.requires_grad]
    n = numerical[i][keep[j]]
    diff_inputs = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    o = outputs[j]
    a = _analytical_rows(o, diff_inputs, list(np.eye(o._data.size)), float("inf"), False)[i]
    return (
        "\nThe above quantities relating the numerical and analytical jacobians are computed \n"
        "in fast mode. See: https://github.com/pytorch/pytorch/issues/53876 for more "
        "background \nabout fast mode. Below, we recompute numerical and analytical jacobians "
        f"in slow mode:\n\nNumerical:\n {_make(n)}\nAnalytical:\n{_make(a)}\n\n"
        f"The max per-element difference (slow mode) is: {np.abs(n - a).max()}.\n"
        + _worst_element(a, n)
    )


def _test_backward_mul_by_grad_output(outputs: tuple, inputs: tuple) -> None:
    diff = [x for x in inputs if isinstance(x, Tensor) and x.requires_grad]
    zeros = [_make(np.zeros(o._data.shape, o._data.dtype)) for o in outputs]
    for gi, di in zip(_grad(list(outputs), diff, zeros, allow_unused=True), diff):
        if gi is None:
            continue
        if np.count_nonzero(gi._data):
            raise GradcheckError("backward not multiplied by grad_output")
        if gi._data.dtype != di._data.dtype:
            raise GradcheckError("grad is incorrect type")
        if gi._data.shape != di._data.shape:
            raise GradcheckError("grad is incorrect size")


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """Check the gradients of ``func`` at ``inputs`` against finite differences."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True"
        )
    if check_batched_grad and not check_backward_ad:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_backward_ad to be True"
        )
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError(
            "Setting check_batched_forward_grad=True requires check_forward_ad to be True"
        )
    try:
        tupled_inputs = _as_tuple(inputs)
        _check_inputs(tupled_inputs)
        func_out = func(*tupled_inputs)
        outputs = _differentiable_outputs(func_out)
        check = _fast if fast_mode else _slow
        args = (func, func_out, tupled_inputs, outputs, eps, rtol, atol, check_grad_dtypes)
        if check_backward_ad:
            check(*args, nondet_tol, False)
        if check_forward_ad:
            check(*args, nondet_tol, True)
        if check_backward_ad and outputs:
            _test_backward_mul_by_grad_output(outputs, tupled_inputs)
        return True
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """Check second derivatives: ``gradcheck`` of the map (inputs, v) -> vᵀJ."""
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError(
            "Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True"
        )
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_undefined_grad=True requires check_rev_over_rev to be True"
        )
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_rev_over_rev to be True"
        )
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        outs = _differentiable_outputs(func(*tupled_inputs))
        tupled_grad_outputs = tuple(
            _make(rng.uniform(-1, 1, o._data.shape).astype(o._data.dtype)).requires_grad_()
            for o in outs
        )
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(tupled_grad_outputs)
    diff_in = {i for i, x in enumerate(tupled_inputs) if isinstance(x, Tensor) and x.requires_grad}
    diff_go = {i for i, x in enumerate(tupled_grad_outputs) if x.requires_grad}

    def new_func(*args: Any) -> tuple:
        input_args = tuple(
            x.requires_grad_() if i in diff_in else x for i, x in enumerate(args[:-num_outputs])
        )
        outputs = _differentiable_outputs(func(*input_args))
        gos = tuple(
            x.requires_grad_() if i in diff_go else x for i, x in enumerate(args[-num_outputs:])
        )
        diff_args = tuple(x for i, x in enumerate(input_args) if i in diff_in)
        grads = _grad(outputs, diff_args, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(
        new_func,
        tupled_inputs + tupled_grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        nondet_tol=nondet_tol,
        check_undefined_grad=check_undefined_grad,
        check_grad_dtypes=check_grad_dtypes,
        check_batched_grad=check_batched_grad,
        fast_mode=fast_mode,
        check_forward_ad=check_fwd_over_rev,
        check_backward_ad=check_rev_over_rev,
        masked=masked,
    )

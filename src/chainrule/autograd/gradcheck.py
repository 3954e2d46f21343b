"""``gradcheck`` and ``gradgradcheck``: analytical gradients against float64 central
differences (torch.autograd.gradcheck: same signatures, checks and error texts).

Slow mode builds both Jacobians in full: the numerical one column by column (each input
element perturbed by ±eps), the analytical one row by row (one backward per output
element), each of shape ``(input.numel(), output.numel())``. Fast mode compares the scalars
``vᵀ J u`` for random unit vectors ``u`` (per input) and ``v`` (per output) instead.
``check_batched_grad`` is accepted; chainrule computes batched gradients by looping
(``chainrule.func.vmap``), which agrees with the unbatched ones by construction. chainrule
has no undefined gradients: ``check_undefined_grad`` is covered by the check that an all-zero
``grad_output`` gives all-zero input gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make
from chainrule.autograd._grad import grad as _grad
from chainrule.autograd._gradcheck_jacobians import (
    GradcheckError,
    _analytical_rows,
    _as_tuple,
    _check_inputs,
    _differentiable_outputs,
    _forward_jacobian,
    _is_float,
    _notallclose_msg,
    _numerical_jacobian,
    _numerical_jvp,
    _worst_element,
)

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


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

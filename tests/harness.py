"""The op test harness: one ``Case`` per line of a family's table, checked against two oracles.

Each case runs, in float32 and float64:
  1. torch parity: output values, shape and dtype; gradients of every floating input under a
     random upstream gradient (not ones);
  2. float64 finite differences: the full Jacobian for small inputs, a random projection
     vᵀJu for large ones;
  3. second order against torch: the gradient of <grads, w> for a random w, built with
     ``create_graph=True`` (only where torch itself supports double backward).

A case's ``fn(lib, *inputs)`` is written once for both libraries: ``lib`` is ``chainrule`` or
``torch``, so ``lambda m, x: m.exp(x)`` or ``lambda m, x: x.sum(1, keepdim=True)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr

__all__ = ["Case", "check_case", "case_id", "to_cr", "to_torch", "assert_close"]

torch.set_num_threads(1)

TOL = {  # forward and gradient tolerances per dtype (rtol, atol)
    "float32": (2e-4, 2e-5),
    "float64": (1e-7, 1e-10),
}


@dataclass
class Case:
    """One line of an op table.

    op: the public name it covers (the catalog test checks every public op has a case);
    fn: ``fn(lib, *inputs)``; shapes: input shapes (random inputs uniform on ``domain``);
    make: instead of shapes, ``make(rng) -> list of np arrays`` (int/bool arrays are
    constants; float arrays are differentiable inputs);
    grad: differentiate at all; fd: run finite differences; order2: check second order.
    """

    op: str
    fn: Callable[..., Any]
    shapes: Sequence[tuple] = ()
    domain: tuple[float, float] = (-2.0, 2.0)
    make: Callable[[np.random.Generator], list] | None = None
    grad: bool = True
    fd: bool = True
    order2: bool = True
    dtypes: tuple[str, ...] = ("float32", "float64")
    rtol: float | None = None
    atol: float | None = None
    note: str = ""
    kwargs: dict = field(default_factory=dict)


def case_id(case: Case) -> str:
    shapes = "x".join("".join(map(str, s)) or "s" for s in case.shapes) if case.shapes else "make"
    return f"{case.op}-{case.note or shapes}"


def inputs_for(case: Case, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if case.make is not None:
        return [np.asarray(a) for a in case.make(rng)]
    lo, hi = case.domain
    return [np.asarray(rng.uniform(lo, hi, size=s)) for s in case.shapes]


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def to_cr(a: np.ndarray, dtype: str, grad: bool) -> cr.Tensor:
    if _is_float(a):
        return cr.tensor(a.astype(dtype), requires_grad=grad)
    return cr.tensor(a)


def to_torch(a: np.ndarray, dtype: str, grad: bool) -> torch.Tensor:
    if _is_float(a):
        return torch.tensor(a.astype(dtype), requires_grad=grad)
    return torch.tensor(a)


def _outputs(out: Any) -> list:
    if isinstance(out, tuple | list):
        return list(out)
    return [out]


def assert_close(ours: Any, theirs: Any, rtol: float, atol: float, what: str) -> None:
    if theirs is None:
        assert ours is None or not np.any(np.asarray(ours._data)), f"{what}: torch has no grad"
        return
    assert ours is not None, f"{what}: chainrule gave no gradient, torch did"
    t = theirs.detach().numpy(force=True)
    o = ours._data if isinstance(ours, cr.Tensor) else np.asarray(ours)
    assert o.shape == t.shape, f"{what}: shape {o.shape} != torch {t.shape}"
    assert str(o.dtype) == str(t.dtype).replace("torch.", "").replace("bool", "bool"), (
        f"{what}: dtype {o.dtype} != torch {t.dtype}"
    )
    if o.dtype.kind in "fc":
        np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, err_msg=what, equal_nan=True)
    else:
        np.testing.assert_array_equal(o, t, err_msg=what)


def check_case(case: Case, dtype: str) -> None:
    """Torch parity of values and gradients (and second order) in ``dtype``."""
    arrays = inputs_for(case)
    rtol, atol = TOL[dtype]
    rtol, atol = case.rtol or rtol, case.atol or atol
    if dtype == "float64":
        rtol, atol = (min(rtol, 1e-6), min(atol, 1e-8)) if case.rtol is None else (rtol, atol)
    ours_in = [to_cr(a, dtype, case.grad) for a in arrays]
    theirs_in = [to_torch(a, dtype, case.grad) for a in arrays]
    ours = _outputs(case.fn(cr, *ours_in))
    theirs = _outputs(case.fn(torch, *theirs_in))
    assert len(ours) == len(theirs), f"{len(ours)} outputs, torch gives {len(theirs)}"
    for i, (o, t) in enumerate(zip(ours, theirs)):
        assert_close(o, t, rtol, atol, f"{case_id(case)} {dtype} output {i}")
    if not case.grad:
        return
    rng = np.random.default_rng(1)
    diff = [(o, t) for o, t in zip(ours, theirs) if t.requires_grad and t.dtype.is_floating_point]
    if not diff:
        return
    ups = [rng.standard_normal(t.shape) for _, t in diff]
    leaves_c = [x for x in ours_in if x.requires_grad]
    leaves_t = [x for x in theirs_in if x.requires_grad]
    gc = cr.autograd.grad(
        [o for o, _ in diff],
        leaves_c,
        [cr.tensor(u.astype(dtype)) for u in ups],
        allow_unused=True,
        create_graph=case.order2,
    )
    gt = torch.autograd.grad(
        [t for _, t in diff],
        leaves_t,
        [torch.tensor(u.astype(dtype)) for u in ups],
        allow_unused=True,
        create_graph=case.order2,
    )
    grtol, gatol = rtol * 5, atol * 5
    for i, (a, b) in enumerate(zip(gc, gt)):
        assert_close(a, b, grtol, gatol, f"{case_id(case)} {dtype} grad of input {i}")
    if dtype == "float64":
        check_jvp(case, arrays, ups, gc)
    if not case.order2:
        return
    # second order: d<grads, w>/d(inputs), against torch
    pairs = [(a, b) for a, b in zip(gc, gt) if b is not None and b.requires_grad]
    if not pairs:
        return
    ws = [rng.standard_normal(tuple(b.shape)) for _, b in pairs]
    st = sum(((b * torch.tensor(w.astype(dtype))).sum() for (_, b), w in zip(pairs, ws)))
    g2t = torch.autograd.grad([st], leaves_t, allow_unused=True)
    live = [(a, w) for (a, _), w in zip(pairs, ws) if a is not None and a.requires_grad]
    if live:  # our first-order grads depend on the inputs: differentiate them again
        sc = sum((a * cr.tensor(w.astype(dtype))).sum() for a, w in live)
        g2c = cr.autograd.grad([sc], leaves_c, allow_unused=True)
    else:  # they are constant: the second derivative is zero, torch must agree
        g2c = [None] * len(leaves_c)
    for i, (a, b) in enumerate(zip(g2c, g2t)):
        if b is None:
            continue
        if a is None:
            a = cr.zeros(tuple(b.shape), dtype=getattr(cr, dtype))
        assert_close(a, b, grtol * 10, gatol * 10, f"{case_id(case)} {dtype} 2nd-order input {i}")


def check_grad_fn_names(case: Case) -> None:
    """The case's outputs have torch's grad_fn names (and a node exactly where torch's do),
    with every input requiring grad, in float64."""
    arrays = inputs_for(case)
    ours = case.fn(cr, *[to_cr(a, "float64", True) for a in arrays])
    theirs = case.fn(torch, *[to_torch(a, "float64", True) for a in arrays])
    ours, theirs = (o if isinstance(o, tuple) else (o,) for o in (ours, theirs))
    for o, t in zip(ours, theirs, strict=True):
        assert (o.grad_fn is None) == (t.grad_fn is None)
        if t.grad_fn is not None:
            assert o.grad_fn.name() == t.grad_fn.name()


def check_jvp(case: Case, arrays: list, ups: list, vjps: Sequence) -> None:
    """Forward mode against reverse mode: <u, J t> must equal <Jᵀu, t> for random t."""
    from chainrule.autograd import forward_ad as fw

    rng = np.random.default_rng(3)
    tangents = [rng.standard_normal(a.shape) if _is_float(a) else None for a in arrays]
    with fw.dual_level():
        ins = [
            fw.make_dual(to_cr(a, "float64", False), cr.tensor(t))
            if t is not None
            else to_cr(a, "float64", False)
            for a, t in zip(arrays, tangents)
        ]
        outs = _outputs(case.fn(cr, *ins))
        outs = [o for o in outs if o._data.dtype.kind == "f"]
        jvps = [fw.unpack_dual(o).tangent for o in outs]
    lhs = sum(float(np.sum(u * (j._data if j is not None else 0.0))) for u, j in zip(ups, jvps))
    floats = [t for t in tangents if t is not None]
    rhs = sum(float(np.sum(g._data * t)) for g, t in zip(vjps, floats) if g is not None)
    if np.isnan(lhs) and np.isnan(rhs):  # a nan gradient (torch's too) must give a nan jvp
        return
    assert abs(lhs - rhs) <= 1e-7 + 1e-6 * max(abs(lhs), abs(rhs)), (
        f"{case_id(case)}: forward mode <u, Jt> = {lhs:.10g} but reverse mode <J^T u, t> = "
        f"{rhs:.10g}"
    )


def check_finite_differences(
    case: Case, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3
) -> None:
    """Float64 gradients against central differences of chainrule's own forward."""
    arrays = inputs_for(case)
    idx = [i for i, a in enumerate(arrays) if _is_float(a)]

    def f(*floats: np.ndarray) -> list[np.ndarray]:
        args = list(arrays)
        for i, a in zip(idx, floats):
            args[i] = a
        with cr.no_grad():
            outs = _outputs(case.fn(cr, *[to_cr(a, "float64", False) for a in args]))
        return [o._data.astype(np.float64) for o in outs if o._data.dtype.kind == "f"]

    base = [arrays[i].astype(np.float64) for i in idx]
    ins = [cr.tensor(a, requires_grad=True) for a in base]
    args = list(arrays)
    for i, t in zip(idx, ins):
        args[i] = t
    outs = [
        o
        for o in _outputs(
            case.fn(
                cr, *[a if isinstance(a, cr.Tensor) else to_cr(a, "float64", False) for a in args]
            )
        )
        if o._data.dtype.kind == "f" and o.requires_grad
    ]
    if not outs:
        return
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(o._data.shape) for o in outs]
    grads = cr.autograd.grad(outs, ins, [cr.tensor(v) for v in vs], allow_unused=True)
    n = sum(a.size for a in base)
    directions = (
        [np.eye(n)[k] for k in range(n)] if n <= 40 else [rng.standard_normal(n) for _ in range(6)]
    )
    for u in directions:
        parts, start = [], 0
        for a in base:
            parts.append(u[start : start + a.size].reshape(a.shape))
            start += a.size
        plus = f(*[a + eps * p for a, p in zip(base, parts)])
        minus = f(*[a - eps * p for a, p in zip(base, parts)])
        numeric = sum(float(np.sum((p - m) / (2 * eps) * v)) for p, m, v in zip(plus, minus, vs))
        analytic = sum(float(np.sum(g._data * p)) for g, p in zip(grads, parts) if g is not None)
        assert abs(numeric - analytic) <= atol + rtol * abs(numeric), (
            f"{case_id(case)}: finite difference {numeric:.8g} != analytic {analytic:.8g} "
            f"along direction {u if n <= 40 else 'random'}"
        )


def table_tests(cases: Sequence[Case], grad: bool = True, names: bool = True) -> tuple:
    """The tests an op table runs on its cases, for the table's module to bind:
    ``test_torch_parity, test_finite_differences, test_grad_fn_names = table_tests(CASES)``.
    Values (and gradients, second order) against torch in float32 and float64; with
    ``grad``, finite differences (forward mode too) for the cases with a gradient; with
    ``names``, torch's grad_fn names."""

    @pytest.mark.parametrize("dtype", ["float32", "float64"])
    @pytest.mark.parametrize("case", cases, ids=case_id)
    def test_torch_parity(case: Case, dtype: str) -> None:
        check_case(case, dtype)

    tests: tuple = (test_torch_parity,)
    if grad:

        @pytest.mark.parametrize("case", [c for c in cases if c.grad and c.fd], ids=case_id)
        def test_finite_differences(case: Case) -> None:
            check_finite_differences(case)

        tests += (test_finite_differences,)
    if names:

        @pytest.mark.parametrize("case", [c for c in cases if c.grad], ids=case_id)
        def test_grad_fn_names(case: Case) -> None:
            check_grad_fn_names(case)

        tests += (test_grad_fn_names,)
    return tests

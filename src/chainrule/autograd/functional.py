"""``chainrule.autograd.functional``: vjp, jvp, jacobian, hessian, vhp and hvp of a function
(torch.autograd.functional: same signatures, tuple conventions, strict-mode errors).

A function takes a Tensor or a tuple of Tensors and returns a Tensor or a tuple of Tensors;
results follow the same convention (a Jacobian of output i with respect to input j has
shape ``out_i.shape + in_j.shape``, nested as ``[i][j]`` when both are tuples). ``jvp`` and
``hvp`` use the double-backward trick, as torch does; ``jacobian(strategy="forward-mode")``
uses forward-mode AD (``chainrule.autograd.forward_ad``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule._tensor import Tensor, _make
from chainrule.autograd import forward_ad as fwAD
from chainrule.autograd._functional_utils import (
    _T,
    _as_tuple,
    _autograd_grad,
    _check_requires_grad,
    _fill_in_zeros,
    _grad_postprocess,
    _grad_preprocess,
    _prepare_v,
    _tuple_postprocess,
    _zeros_leaf,
)
from chainrule.graph import enable_grad, is_grad_enabled, set_grad_enabled
from chainrule.ops.shape.join import cat, stack

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def vjp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
):
    """``(func(inputs), vᵀ·J)``: the vector-Jacobian product at ``inputs``."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, _T, "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        what = "user-provided function returns"
        v = _prepare_v(v, "vjp", create_graph, outputs, is_outputs_tuple, what)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return (
        _tuple_postprocess(outputs, is_outputs_tuple),
        _tuple_postprocess(res, is_inputs_tuple),
    )


def jvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
):
    """``(func(inputs), J·v)``: the Jacobian-vector product, by the double-backward trick."""
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        what = "input to the user-provided function is"
        v = _prepare_v(v, "jvp", create_graph, inputs, is_inputs_tuple, what)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, _T, "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        grad_outputs = tuple(_zeros_leaf(out) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return (
        _tuple_postprocess(outputs, is_outputs_tuple),
        _tuple_postprocess(res, is_outputs_tuple),
    )


def _jacfwd(func: Callable, inputs: Any, strict: bool, vectorize: bool):
    """The Jacobian column by column with forward-mode AD (one dual level per column)."""
    if strict:
        raise RuntimeError(
            'torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
            "are not supported together (yet). Please either set `strict=False` or "
            '`strategy="reverse-mode"`.'
        )
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    if not vectorize:
        raise NotImplementedError(
            "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
            "only implemented for `vectorize=True`."
        )
    columns: list[list[list[Tensor]]] = [[] for _ in inputs]  # [input j][column][output i]
    outputs: tuple = ()
    is_outputs_tuple = False
    for j, inp in enumerate(inputs):
        for k in range(inp.numel()):
            basis = np.zeros(inp._data.size, inp._data.dtype)
            basis[k] = 1
            with fwAD.dual_level():
                duals = tuple(
                    fwAD.make_dual(x, _make(basis.reshape(x._data.shape)))
                    if i == j
                    else x.view_as(x)
                    for i, x in enumerate(inputs)
                )
                is_outputs_tuple, outs = _as_tuple(func(*duals), _T, "jacobian")
                primals, tangents = zip(*[fwAD.unpack_dual(o) for o in outs])
                columns[j].append(
                    [
                        t if t is not None else _make(np.zeros(p._data.shape, p._data.dtype))
                        for p, t in zip(primals, tangents)
                    ]
                )
            outputs = primals
    jac = []
    for i, out in enumerate(outputs):
        row = []
        for j, inp in enumerate(inputs):
            if inp.numel() == 0:
                z = np.zeros(out._data.shape + inp._data.shape, out._data.dtype)
                row.append(_make(z))
                continue
            cols = stack([c[i] for c in columns[j]], dim=-1)  # out.shape + (numel,)
            row.append(cols.reshape(out.shape + inp.shape))
        jac.append(row)
    # torch's forward-mode jacobian nests lists, not tuples
    return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def jacobian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    """The Jacobian of ``func`` at ``inputs``: one backward per output element (reverse
    mode) or one forward pass per input element (``strategy="forward-mode"``)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".'
        )
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.'
            )
        return _jacfwd(func, inputs, strict, vectorize)

    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(outputs, _T, "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are "
                "not supported together. Please either set `strict=False` or `vectorize=False`."
            )
        grads = []  # grads[i][j]: d out_i[k] / d input_j for each k (None: unused)
        for i, out in enumerate(outputs):
            rows: tuple[list, ...] = tuple([] for _ in inputs)
            flat = out.reshape(-1)
            for k in range(out.nelement()):
                vj = _autograd_grad(
                    (flat[k],), inputs, retain_graph=True, create_graph=create_graph
                )
                for j, (acc, g) in enumerate(zip(rows, vj)):
                    if g is None and strict:
                        raise RuntimeError(
                            f"Output {i} of the user-provided function is independent of "
                            f"input {j}. This is not allowed in strict mode."
                        )
                    if g is not None and strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            "The jacobian of the user-provided function is independent of "
                            f"input {i}. This is not allowed in strict mode when "
                            "create_graph=True."
                        )
                    acc.append(g)
            grads.append(rows)
        jac = _assemble(grads, outputs, inputs, vectorize)
        jac = _grad_postprocess(tuple(jac), create_graph)
        return _tuple_postprocess(jac, (is_outputs_tuple, is_inputs_tuple))


def _assemble(grads: list, outputs: tuple, inputs: tuple, vectorize: bool) -> tuple:
    """Stack the rows into Jacobians of shape out_i.shape + in_j.shape. Vectorized, torch
    computes all rows of an input at once, so the blocks of one input share requires_grad."""

    def block(rows: list, inp: Tensor) -> Tensor:
        z = np.zeros(inp._data.shape, inp._data.dtype)
        return stack([g if g is not None else _make(z) for g in rows], dim=0)

    jac: list[list] = [[None] * len(inputs) for _ in outputs]
    for j, inp in enumerate(inputs):
        blocks = [grads[i][j] for i in range(len(outputs))]
        live = [any(g is not None for g in rows) for rows in blocks]
        if vectorize and any(live) and sum(o.numel() for o in outputs):
            whole = cat([block(rows, inp) for rows in blocks if rows], dim=0)
            pieces = iter(whole.split([o.numel() for o in outputs if o.numel()], dim=0))
            parts = [next(pieces) if o.numel() else None for o in outputs]
        else:
            parts = [block(rows, inp) if rows else None for rows in blocks]
        for i, out in enumerate(outputs):
            if parts[i] is None:
                z = np.zeros(out._data.shape + inp._data.shape, inp._data.dtype)
                jac[i][j] = _make(z)
            else:
                jac[i][j] = parts[i].view(out.size() + inp.size())
    return tuple(tuple(row) for row in jac)


def hessian(
    func: Callable,
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of a scalar function: the Jacobian of its gradient."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, _T, "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        if is_out_tuple or not isinstance(out, Tensor):
            raise RuntimeError("The function given to hessian should return a single Tensor")
        if out.nelement() != 1:
            raise RuntimeError(
                "The Tensor returned by the function given to hessian should contain a single "
                "element"
            )
        return out.squeeze()

    def jac_func(*inp: Tensor) -> Any:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(
        jac_func,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def _scalar_grad(func: Callable, inputs: Any, v: Any, create_graph: bool, strict: bool, fn: str):
    """Shared start of vhp/hvp: inputs, v, the scalar output and its gradient (with graph)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    what = "input to the user-provided function is"
    v = _prepare_v(v, fn, create_graph, inputs, is_inputs_tuple, what)
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, _T, fn)
    _check_requires_grad(outputs, "outputs", strict=strict)
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn} should return a single Tensor")
    if outputs[0].nelement() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn} should contain a single element"
        )
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return is_inputs_tuple, inputs, v, outputs, is_outputs_tuple, jac


def vhp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
):
    """``(func(inputs), vᵀ·H)`` for a scalar function (one double backward)."""
    with enable_grad():
        is_in_tuple, inputs, v, outputs, is_out_tuple, jac = _scalar_grad(
            func, inputs, v, create_graph, strict, "vhp"
        )
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_out_tuple), _tuple_postprocess(res, is_in_tuple)


def hvp(
    func: Callable, inputs: Any, v: Any = None, create_graph: bool = False, strict: bool = False
):
    """``(func(inputs), H·v)`` for a scalar function, by the double-backward trick."""
    with enable_grad():
        is_in_tuple, inputs, v, outputs, is_out_tuple, jac = _scalar_grad(
            func, inputs, v, create_graph, strict, "hvp"
        )
        grad_jac = tuple(_zeros_leaf(inp) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        res = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    res = _grad_postprocess(res, create_graph)
    return _tuple_postprocess(outputs, is_out_tuple), _tuple_postprocess(res, is_in_tuple)

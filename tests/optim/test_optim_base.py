"""The Optimizer base against torch: parameter groups and their defaults, zero_grad, repr,
state_dict layout, and every error (type and message) of the base and the constructors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.optim.optimizer import Optimizer, required

OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]
OPTIMIZERS += ["ASGD", "Rprop", "SparseAdam", "Adafactor"]


def same_error(build):
    """``build(lib)`` raises the same exception type and message in chainrule as in torch
    (torch's type names such as ``torch.FloatTensor`` read ``chainrule.FloatTensor``)."""
    with pytest.raises(Exception) as ref:
        build(torch)
    expected = str(ref.value).replace("torch.", "chainrule.")
    with pytest.raises(type(ref.value)) as got:
        build(cr)
    assert str(got.value) == expected


def leaf(lib, *shape):
    return lib.zeros(shape, requires_grad=True)


def groups_without_params(opt):
    return [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]


# --------------------------------------------------------------------------- errors

ERRORS = {
    "params is a tensor": lambda m: m.optim.SGD(m.zeros(2)),
    "params is a double tensor": lambda m: m.optim.Adam(m.zeros(2, dtype=m.float64)),
    "empty params": lambda m: m.optim.SGD([]),
    "empty group list": lambda m: m.optim.Adam(iter([])),
    "a param is not a tensor": lambda m: m.optim.SGD([leaf(m, 2), 3]),
    "a param is a string": lambda m: m.optim.SGD([leaf(m, 2), "w"]),
    "non-leaf param": lambda m: m.optim.SGD([leaf(m, 2) * 2]),
    "params as a set": lambda m: m.optim.SGD([{"params": {leaf(m, 2)}}]),
    "names for some params only": lambda m: m.optim.SGD([("a", leaf(m, 2)), leaf(m, 1)]),
    "group with names after one without": lambda m: m.optim.SGD(
        [{"params": [leaf(m, 1)]}, {"params": [("a", leaf(m, 2))]}]
    ),
    "group without names after one with": lambda m: m.optim.SGD(
        [{"params": [("a", leaf(m, 1))]}, {"params": [leaf(m, 2)]}]
    ),
    "sgd lr": lambda m: m.optim.SGD([leaf(m, 2)], lr=-1),
    "sgd momentum": lambda m: m.optim.SGD([leaf(m, 2)], momentum=-0.5),
    "sgd weight_decay": lambda m: m.optim.SGD([leaf(m, 2)], weight_decay=-1e-3),
    "sgd nesterov without momentum": lambda m: m.optim.SGD([leaf(m, 2)], nesterov=True),
    "sgd nesterov with dampening": lambda m: m.optim.SGD(
        [leaf(m, 2)], momentum=0.9, dampening=0.1, nesterov=True
    ),
    "adam lr": lambda m: m.optim.Adam([leaf(m, 2)], lr=-0.5),
    "adam eps": lambda m: m.optim.Adam([leaf(m, 2)], eps=-1e-8),
    "adam beta0": lambda m: m.optim.Adam([leaf(m, 2)], betas=(1.0, 0.9)),
    "adam beta1": lambda m: m.optim.Adam([leaf(m, 2)], betas=(0.9, 1)),
    "adam negative beta": lambda m: m.optim.Adam([leaf(m, 2)], betas=(-0.1, 0.9)),
    "adam integer beta": lambda m: m.optim.Adam([leaf(m, 2)], betas=(0, 0.9)),
    "adam weight_decay": lambda m: m.optim.Adam([leaf(m, 2)], weight_decay=-1),
    "adamw lr": lambda m: m.optim.AdamW([leaf(m, 2)], lr=-1e-3),
    "adamw weight_decay": lambda m: m.optim.AdamW([leaf(m, 2)], weight_decay=-0.01),
    "rmsprop lr": lambda m: m.optim.RMSprop([leaf(m, 2)], lr=-1),
    "rmsprop eps": lambda m: m.optim.RMSprop([leaf(m, 2)], eps=-1),
    "rmsprop momentum": lambda m: m.optim.RMSprop([leaf(m, 2)], momentum=-1),
    "rmsprop weight_decay": lambda m: m.optim.RMSprop([leaf(m, 2)], weight_decay=-1),
    "rmsprop alpha": lambda m: m.optim.RMSprop([leaf(m, 2)], alpha=-0.9),
    "adagrad lr": lambda m: m.optim.Adagrad([leaf(m, 2)], lr=-1),
    "adagrad lr_decay": lambda m: m.optim.Adagrad([leaf(m, 2)], lr_decay=-1),
    "adagrad weight_decay": lambda m: m.optim.Adagrad([leaf(m, 2)], weight_decay=-1),
    "adagrad initial_accumulator_value": lambda m: m.optim.Adagrad(
        [leaf(m, 2)], initial_accumulator_value=-1
    ),
    "adagrad eps": lambda m: m.optim.Adagrad([leaf(m, 2)], eps=-1),
    "adadelta lr": lambda m: m.optim.Adadelta([leaf(m, 2)], lr=-1),
    "adadelta tensor lr": lambda m: m.optim.Adadelta([leaf(m, 2)], lr=m.ones(2)),
    "adadelta rho": lambda m: m.optim.Adadelta([leaf(m, 2)], rho=1.5),
    "adadelta eps": lambda m: m.optim.Adadelta([leaf(m, 2)], eps=-1),
    "adadelta weight_decay": lambda m: m.optim.Adadelta([leaf(m, 2)], weight_decay=-1),
    "adamax lr": lambda m: m.optim.Adamax([leaf(m, 2)], lr=-1),
    "adamax eps": lambda m: m.optim.Adamax([leaf(m, 2)], eps=-1),
    "adamax beta0": lambda m: m.optim.Adamax([leaf(m, 2)], betas=(1.0, 0.9)),
    "adamax beta1": lambda m: m.optim.Adamax([leaf(m, 2)], betas=(0.9, -0.1)),
    "adamax weight_decay": lambda m: m.optim.Adamax([leaf(m, 2)], weight_decay=-1),
    "nadam lr": lambda m: m.optim.NAdam([leaf(m, 2)], lr=-1),
    "nadam eps": lambda m: m.optim.NAdam([leaf(m, 2)], eps=-1),
    "nadam beta0": lambda m: m.optim.NAdam([leaf(m, 2)], betas=(1.5, 0.9)),
    "nadam beta1": lambda m: m.optim.NAdam([leaf(m, 2)], betas=(0.9, 1.0)),
    "nadam weight_decay": lambda m: m.optim.NAdam([leaf(m, 2)], weight_decay=-1),
    "nadam momentum_decay": lambda m: m.optim.NAdam([leaf(m, 2)], momentum_decay=-1),
    "radam lr": lambda m: m.optim.RAdam([leaf(m, 2)], lr=-1),
    "radam eps": lambda m: m.optim.RAdam([leaf(m, 2)], eps=-1),
    "radam beta0": lambda m: m.optim.RAdam([leaf(m, 2)], betas=(-0.5, 0.9)),
    "radam beta1": lambda m: m.optim.RAdam([leaf(m, 2)], betas=(0.9, 2)),
    "radam weight_decay": lambda m: m.optim.RAdam([leaf(m, 2)], weight_decay=-1),
    "asgd lr": lambda m: m.optim.ASGD([leaf(m, 2)], lr=-1),
    "asgd weight_decay": lambda m: m.optim.ASGD([leaf(m, 2)], weight_decay=-1),
    "rprop lr": lambda m: m.optim.Rprop([leaf(m, 2)], lr=-1),
    "rprop etas": lambda m: m.optim.Rprop([leaf(m, 2)], etas=(0.5, 0.9)),
    "rprop etas below zero": lambda m: m.optim.Rprop([leaf(m, 2)], etas=(-0.5, 1.2)),
    "adafactor lr": lambda m: m.optim.Adafactor([leaf(m, 2)], lr=-1),
    "adafactor beta2_decay": lambda m: m.optim.Adafactor([leaf(m, 2)], beta2_decay=0.5),
    "adafactor eps1": lambda m: m.optim.Adafactor([leaf(m, 2)], eps=(-1.0, 1e-3)),
    "adafactor eps2": lambda m: m.optim.Adafactor([leaf(m, 2)], eps=(None, -1e-3)),
    "adafactor d": lambda m: m.optim.Adafactor([leaf(m, 2)], d=0.5),
    "adafactor weight_decay": lambda m: m.optim.Adafactor([leaf(m, 2)], weight_decay=-1),
    "sparse_adam lr": lambda m: m.optim.SparseAdam([leaf(m, 2)], lr=0.0),
    "sparse_adam eps": lambda m: m.optim.SparseAdam([leaf(m, 2)], eps=0.0),
    "sparse_adam beta0": lambda m: m.optim.SparseAdam([leaf(m, 2)], betas=(1.0, 0.9)),
    "sparse_adam beta1": lambda m: m.optim.SparseAdam([leaf(m, 2)], betas=(0.9, -1.0)),
    "sparse_adam complex": lambda m: m.optim.SparseAdam(
        [{"params": [leaf(m, 2)]}, {"params": [leaf(m, 1), m.zeros(2, dtype=m.complex64)]}]
    ),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_constructor_errors_match_torch(name):
    same_error(ERRORS[name])


def test_add_param_group_errors_match_torch():
    def setup(m):
        p = leaf(m, 2)
        return p, m.optim.SGD([p], lr=0.1)

    same_error(lambda m: setup(m)[1].add_param_group([leaf(m, 1)]))
    same_error(lambda m: setup(m)[1].add_param_group({"params": {leaf(m, 1)}}))

    def twice(m):
        p, opt = setup(m)
        opt.add_param_group({"params": [leaf(m, 3), p]})

    same_error(twice)


def test_required_hyper_parameter():
    class Custom(Optimizer):
        def __init__(self, params, lr=required):
            super().__init__(params, {"lr": lr})

    with pytest.raises(
        ValueError,
        match="parameter group didn't specify a value of required optimization parameter lr",
    ):
        Custom([leaf(cr, 2)])
    assert Custom([leaf(cr, 2)], lr=0.5).param_groups[0]["lr"] == 0.5
    assert repr(required) == "<required parameter>"
    with pytest.raises(NotImplementedError):
        Custom([leaf(cr, 2)], lr=0.5).step()


def test_load_state_dict_errors_match_torch():
    def fewer_groups(m):
        a = m.optim.SGD([{"params": [leaf(m, 1)]}, {"params": [leaf(m, 2)]}])
        m.optim.SGD([leaf(m, 1)]).load_state_dict(a.state_dict())

    def different_size(m):
        a = m.optim.Adam([leaf(m, 1), leaf(m, 2)])
        m.optim.Adam([leaf(m, 1)]).load_state_dict(a.state_dict())

    same_error(fewer_groups)
    same_error(different_size)


@pytest.mark.parametrize(
    "name, flag",
    [("SGD", "differentiable"), ("SGD", "fused"), ("Adam", "capturable"),
     ("AdamW", "fused"), ("RMSprop", "differentiable"), ("Adagrad", "fused")],
)  # fmt: skip
def test_device_and_differentiable_options_are_refused(name, flag):
    with pytest.raises(
        NotImplementedError, match=f"chainrule optimizers do not support {flag}=True"
    ):
        getattr(cr.optim, name)([leaf(cr, 2)], **{flag: True})


@pytest.mark.parametrize("foreach", [None, True])
@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_capturable_is_accepted_and_refused_at_step_for_cpu_parameters_as_torch(name, foreach):
    """torch accepts capturable=True (and foreach); a step with a gradient then raises its
    AssertionError (parameters on the CPU; worded per path); a step with no gradient does not."""

    def step(m, grad: bool):
        p = leaf(m, 2)
        opt = getattr(m.optim, name)([p], capturable=True, foreach=foreach)
        assert opt.defaults["capturable"] is True and opt.defaults["foreach"] is foreach
        if grad:
            p.grad = m.ones(2)
        opt.step()

    step(cr, False)
    step(torch, False)
    same_error(lambda m: step(m, True))


def test_sparse_adam_refuses_dense_gradients_as_torch():
    """Made and stepped without gradients as torch; a step with a dense gradient raises
    torch's error and leaves no state."""
    for m in (cr, torch):
        p = leaf(m, 2)
        opt = m.optim.SparseAdam([p], lr=0.01, maximize=True)
        assert opt.step(lambda: 3.0) == 3.0
    ours, ref = cr.optim.SparseAdam([leaf(cr, 2)]), torch.optim.SparseAdam([leaf(torch, 2)])
    assert ours.defaults == ref.defaults and repr(ours) == repr(ref)

    def dense_step(m):
        p = leaf(m, 2)
        opt = m.optim.SparseAdam([leaf(m, 1), p])
        p.grad = m.ones(2)
        try:
            opt.step()
        finally:
            assert len(opt.state) == 0

    same_error(dense_step)


def test_adafactor_refuses_complex_parameters_at_step_as_torch():
    def step(m):
        p, z = leaf(m, 2), m.zeros(2, dtype=m.complex64, requires_grad=True)
        opt = m.optim.Adafactor([p, z])
        opt.step()  # no gradients: nothing to refuse
        p.grad, z.grad = m.ones(2), m.ones(2, dtype=m.complex64)
        opt.step()

    same_error(step)


def test_duplicate_parameters_warn_like_torch():
    for m in (torch, cr):
        p = leaf(m, 2)
        with pytest.warns(UserWarning, match="duplicate parameters"):
            m.optim.SGD([p, p])


# --------------------------------------------------------------------------- groups


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_param_groups_are_filled_from_defaults_like_torch(name):
    def build(m):
        opt = getattr(m.optim, name)([{"params": [leaf(m, 2)], "lr": 0.5}, {"params": leaf(m)}])
        opt.add_param_group({"params": (leaf(m, 3), leaf(m, 1)), "weight_decay": 0.25})
        return opt

    ours, ref = build(cr), build(torch)
    assert groups_without_params(ours) == groups_without_params(ref)
    assert [len(g["params"]) for g in ours.param_groups] == [1, 1, 2]
    assert all(isinstance(g["params"], list) for g in ours.param_groups)
    assert ours.defaults == ref.defaults
    assert repr(ours) == repr(ref)


def test_named_parameters_are_kept_in_the_state_dict():
    def build(m):
        opt = m.optim.SGD([("w", leaf(m, 2)), ("b", leaf(m))], lr=0.1, momentum=0.9)
        opt.add_param_group({"params": [("c", leaf(m, 3))], "lr": 0.2})
        return opt

    ours, ref = build(cr), build(torch)
    assert ours.state_dict()["param_groups"] == ref.state_dict()["param_groups"]
    assert ours.param_groups[0]["param_names"] == ["w", "b"]


def test_state_is_keyed_by_the_parameter_and_state_dict_by_index():
    a, b, c = leaf(cr, 2), leaf(cr, 3), leaf(cr)
    opt = cr.optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):
        p.grad = cr.ones_like(p)
    opt.step()
    assert set(opt.state) == {a, c}
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert set(sd["state"]) == {0, 2}
    assert sd["state"][2]["momentum_buffer"] is opt.state[c]["momentum_buffer"]  # as torch


def test_load_state_dict_restores_groups_but_keeps_the_parameters():
    a = leaf(cr, 2)
    a.grad = cr.ones(2)
    src = cr.optim.SGD([a], lr=0.3, momentum=0.5)
    src.step()
    b = leaf(cr, 2)
    dst = cr.optim.SGD([b], lr=0.1)
    dst.load_state_dict(src.state_dict())
    assert dst.param_groups[0]["params"][0] is b
    assert dst.param_groups[0]["lr"] == 0.3 and dst.param_groups[0]["momentum"] == 0.5
    assert dst.state[b]["momentum_buffer"].tolist() == [1.0, 1.0]
    # the loaded groups are copies: changing the source does not reach the destination
    src.param_groups[0]["lr"] = 9.0
    assert dst.param_groups[0]["lr"] == 0.3


# --------------------------------------------------------------------------- zero_grad


def test_zero_grad_sets_to_none_by_default():
    p = leaf(cr, 2)
    p.grad = cr.ones(2)
    cr.optim.SGD([p]).zero_grad()
    assert p.grad is None


def test_zero_grad_set_to_none_false_zeroes_in_place():
    p, q = leaf(cr, 2), leaf(cr, 3)
    p.grad = cr.ones(2)
    g = p.grad
    cr.optim.SGD([p, q]).zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.tolist() == [0.0, 0.0] and q.grad is None


def test_zero_grad_detaches_a_gradient_with_history():
    p = leaf(cr, 2)
    x = leaf(cr, 2)
    p.grad = x * 2  # a gradient built with create_graph
    cr.optim.SGD([p]).zero_grad(set_to_none=False)
    assert p.grad.grad_fn is None and not p.grad.requires_grad
    assert p.grad.tolist() == [0.0, 0.0]


def test_zero_grad_on_a_read_only_gradient():
    p = leaf(cr, 2, 3)
    p.grad = cr.ones(3).expand(2, 3)
    cr.optim.SGD([p]).zero_grad(set_to_none=False)
    assert np.array_equal(p.grad.numpy(), np.zeros((2, 3), np.float32))


def test_step_with_grad_mode_off_or_on_gives_the_same_result():
    results = []
    for mode in (cr.no_grad, cr.enable_grad):
        p = cr.tensor([1.0, -2.0], requires_grad=True)
        p.grad = cr.tensor([0.5, 0.25])
        with mode():
            cr.optim.Adam([p], lr=0.1).step()
        assert p.grad_fn is None
        results.append(p.tolist())
    assert results[0] == results[1]


def test_no_warnings_in_a_plain_step():
    p = leaf(cr, 2)
    p.grad = cr.ones(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in OPTIMIZERS:
            if name != "SparseAdam":  # which refuses dense gradients
                getattr(cr.optim, name)([p]).step()


def test_optim_imports_neither_torch_nor_the_op_catalog_eagerly():
    import pathlib
    import subprocess
    import sys

    src = pathlib.Path(__file__).parents[2] / "src"

    code = (
        "import sys; sys.modules['torch'] = None; import chainrule.optim as o; "
        "import chainrule._tensor as t, numpy as np; "
        "p = t._make(np.ones(2)); p.requires_grad_(); p.grad = t._make(np.ones(2)); "
        "o.SGD([p], lr=0.5).step(); "
        "print(sorted(m for m in sys.modules if m.startswith('chainrule.ops')), p.tolist())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(src)}
    )
    assert out.stdout.strip() == "[] [0.5, 0.5]", out.stderr

"""Optimizer steps are in-place writes, as in torch: every optimizer (each option combination
of test_optimizers.CASES) moves the versions of parameters and state as torch's does, so a
step between two backwards of a retained graph raises torch's error where torch raises."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_optimizers import CASES, COMPLEX_CASES, build, case_id, feed, grouped

import chainrule as cr

MODIFIED = "modified by an inplace operation"


def two_layer_net(lib, seed: int = 0):
    """The issue's program: Linear(3, 4), Tanh, Linear(4, 1), with the same weights in both."""
    rng = np.random.default_rng(seed)
    net = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 1))
    with lib.no_grad():
        for p in net.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    return net


def outcome(fn) -> str:
    """'ok', or 'modified' when fn raises torch's in-place error (any other error propagates)."""
    try:
        fn()
    except RuntimeError as e:
        assert MODIFIED in str(e), e
        return "modified"
    return "ok"


def step_between_backwards(lib, case, *, skip_step: bool = False):
    name, kwargs, groups = case
    net = two_layer_net(lib)
    loss = (net(lib.ones(2, 3)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt = getattr(lib.optim, name)(grouped(list(net.parameters()), groups), **kwargs)
    if skip_step:  # no gradients: the step skips every parameter and writes nothing
        opt.zero_grad()
    opt.step()
    return outcome(loss.backward), [p.detach().numpy().copy() for p in net.parameters()]


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_a_step_between_two_backwards_of_a_retained_graph_raises_as_torch(case):
    ours, ours_params = step_between_backwards(cr, case)
    theirs, their_params = step_between_backwards(torch, case)
    assert ours == theirs == "modified"
    for p, q in zip(ours_params, their_params):  # and the step itself is torch's
        np.testing.assert_allclose(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", CASES[::4], ids=case_id)
def test_a_step_that_skips_every_parameter_writes_nothing(case):
    assert step_between_backwards(cr, case, skip_step=True)[0] == "ok"
    assert step_between_backwards(torch, case, skip_step=True)[0] == "ok"


def versions(params, opt, lib):
    """Each parameter's version and its state tensors' versions (torch's `_version`)."""
    out = []
    for p in params:
        state = opt.state.get(p, {})
        out.append(
            (p._version, {k: v._version for k, v in state.items() if isinstance(v, lib.Tensor)})
        )
    return out


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_versions_move_as_torchs(case):
    ours, theirs, opt, ref = build(case, "float64")
    for step in range(4):  # the last parameter gets no gradient at step 3: it is skipped
        feed(ours, theirs, step, "float64")
        opt.step()
        ref.step()
        assert versions(ours, opt, cr) == versions(theirs, ref, torch), step


@pytest.mark.parametrize("case", COMPLEX_CASES, ids=case_id)
def test_versions_of_complex_parameters_move_as_torchs(case):
    name, kwargs, _ = case
    rng = np.random.default_rng(0)
    a = (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype("complex128")
    p, q = cr.tensor(a.copy(), requires_grad=True), torch.tensor(a.copy(), requires_grad=True)
    opt, ref = getattr(cr.optim, name)([p], **kwargs), getattr(torch.optim, name)([q], **kwargs)
    for _ in range(2):
        p.grad, q.grad = cr.tensor(a * 0.5), torch.tensor(a * 0.5)
        opt.step()
        ref.step()
    assert versions([p], opt, cr) == versions([q], ref, torch)


@pytest.mark.parametrize("lib", [cr, torch], ids=["chainrule", "torch"])
def test_zero_grad_to_zeros_writes_the_gradient_in_place(lib):
    """zero_grad(set_to_none=False), on the optimizer and on the module, is grad.zero_()."""
    net = two_layer_net(lib)
    opt = lib.optim.SGD(net.parameters(), lr=0.1)
    (net(lib.ones(2, 3)) ** 2).sum().backward()
    grads = [p.grad for p in net.parameters()]
    opt.zero_grad(set_to_none=False)
    assert [g._version for g in grads] == [1] * 4
    net.zero_grad(set_to_none=False)
    assert [g._version for g in grads] == [2] * 4
    assert all(p.grad is g and not g.abs().sum().item() for p, g in zip(net.parameters(), grads))


def test_zero_grad_of_a_read_only_gradient_gives_it_its_own_zeros():
    p = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    p.grad = cr.tensor(1.0).expand(3)  # a broadcast view: read-only memory
    cr.optim.SGD([p], lr=0.1).zero_grad(set_to_none=False)
    assert p.grad.tolist() == [0.0, 0.0, 0.0] and p.grad._version == 1
    p.grad._data[0] = 5.0  # its own, writable memory now
    assert p.grad.tolist() == [5.0, 0.0, 0.0]

"""Muon against torch: 2-D parameters (wide, tall, square) fed the same gradients, for each
option (nesterov, adjust_lr_fn, Newton-Schulz steps and coefficients, weight decay, groups).
torch orthogonalises in bfloat16, summing in float32 in its own order; chainrule rounds each
result to bfloat16 the same way from exact (float64) sums, so an update is mostly torch's to
the bit; where a sum rounds the other way, the iteration carries that bfloat16 unit on (up to
~1e-2 of an entry of size ~0.3): parameters are compared to that."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim._muon import _zeropower_via_newtonschulz

import chainrule as cr
from chainrule.optim.muon import _zeropower_via_newtonschulz as newton_schulz

torch.set_num_threads(1)

SHAPES = [(3, 5), (6, 4), (4, 4)]
TOL = {"float64": dict(rtol=1e-12, atol=1e-14), "float32": dict(rtol=1e-6, atol=1e-7)}
BF16_UNIT = 2.0**-8  # the relative spacing of bfloat16 numbers
CASES = [
    (dict(), None),
    (dict(lr=0.02, nesterov=False), None),
    (dict(lr=0.02, momentum=0.5, adjust_lr_fn="match_rms_adamw"), None),
    (dict(lr=0.02, weight_decay=0.0, adjust_lr_fn="original", ns_steps=3), None),
    (dict(lr=0.01, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-3), None),
    (dict(lr=0.01), [dict(nesterov=False, weight_decay=0.3), dict(lr=0.05, momentum=0.9)]),
]


def case_id(case) -> str:
    kwargs, groups = case
    return ",".join(f"{k}={v}" for k, v in kwargs.items()) + ("+groups" if groups else "")


def grouped(params, groups):
    if groups is None:
        return params
    return [dict(params=params[:1], **groups[0]), dict(params=params[1:], **groups[1])]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_trajectory_equals_torch(case, dtype):
    kwargs, groups = case
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt = cr.optim.Muon(grouped(ours, groups), **kwargs)
    ref = torch.optim.Muon(grouped(theirs, groups), **kwargs)
    assert opt.defaults == ref.defaults and repr(opt) == repr(ref)
    # bfloat16 differences of an update entry (~1e-2 at most) times the step size
    lrs = [g["lr"] * max(1.0, 0.2 * 6**0.5, 1.5**0.5) for g in opt.param_groups]
    atol = 0.05 * max(lrs)
    for step in range(20):
        for i, (p, q) in enumerate(zip(ours, theirs)):
            if i == 2 and step % 7 == 3:  # no gradient: skipped
                p.grad = q.grad = None
                continue
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad, q.grad = cr.tensor(g.copy()), torch.tensor(g.copy())
        opt.step()
        ref.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=0, atol=atol)
        assert [p._version for p in ours] == [q._version for q in theirs]
    sd, ref_sd = opt.state_dict(), ref.state_dict()
    assert sd["param_groups"] == ref_sd["param_groups"]
    for idx, state in ref_sd["state"].items():
        assert list(sd["state"][idx]) == list(state) == ["momentum_buffer"]
        buf = sd["state"][idx]["momentum_buffer"]
        assert buf.dtype == getattr(cr, dtype) and buf._version == state["momentum_buffer"]._version
        np.testing.assert_allclose(buf.numpy(), state["momentum_buffer"].numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 7), (7, 1), (5, 9), (6, 4), (16, 16)])
def test_newton_schulz_rounds_as_torchs_bfloat16(shape, dtype):
    """Over 50 matrices: mostly the same bits as torch's, else within bfloat16 noise."""
    rng = np.random.default_rng(1)
    coefficients = (3.4445, -4.7750, 2.0315)
    exact = 0
    for _ in range(50):
        g = rng.standard_normal(shape).astype(dtype)
        ref = _zeropower_via_newtonschulz(torch.tensor(g), coefficients, 5, 1e-7).double().numpy()
        ours = newton_schulz(g, coefficients, 5, 1e-7)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=0.02)
        exact += np.array_equal(ours, ref)
    assert exact >= 40


def test_state_dict_round_trip_continues_the_trajectory():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in SHAPES]
    ours = [cr.tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in arrays]
    opt, ref = cr.optim.Muon(ours, lr=0.02), torch.optim.Muon(theirs, lr=0.02)

    def feed(params, qarams):
        for p, q in zip(params, qarams):
            g = rng.standard_normal(p.shape)
            p.grad, q.grad = cr.tensor(g.copy()), torch.tensor(g.copy())

    for _ in range(5):
        feed(ours, theirs)
        opt.step()
        ref.step()
    sd = ref.state_dict()  # torch's state, loaded into a fresh chainrule Muon
    taken = [cr.tensor(q.detach().numpy().copy(), requires_grad=True) for q in theirs]
    opt2 = cr.optim.Muon(taken, lr=0.02)
    opt2.load_state_dict(
        {
            "state": {
                i: {k: cr.tensor(v.numpy()) for k, v in s.items()} for i, s in sd["state"].items()
            },
            "param_groups": [dict(g) for g in sd["param_groups"]],
        }
    )
    for _ in range(5):
        feed(taken, theirs)
        opt2.step()
        ref.step()
    for p, q in zip(taken, theirs):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-4)


def same_error(build):
    with pytest.raises(Exception) as ref:
        build(torch)
    expected = str(ref.value).replace("torch.", "chainrule.")
    with pytest.raises(type(ref.value)) as got:
        build(cr)
    assert str(got.value) == expected


ERRORS = {
    "lr": lambda m: m.optim.Muon([m.zeros(2, 2, requires_grad=True)], lr=-1),
    "momentum": lambda m: m.optim.Muon([m.zeros(2, 2, requires_grad=True)], momentum=-1),
    "weight_decay": lambda m: m.optim.Muon([m.zeros(2, 2, requires_grad=True)], weight_decay=-1),
    "adjust_lr_fn": lambda m: m.optim.Muon([m.zeros(2, 2, requires_grad=True)], adjust_lr_fn="x"),
    "1-d parameter": lambda m: m.optim.Muon([m.zeros(2, 2, requires_grad=True), m.zeros(3)]),
    "3-d parameter": lambda m: m.optim.Muon([m.zeros(2, 2, 2, requires_grad=True)]),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    same_error(ERRORS[name])


@pytest.mark.parametrize("kwargs", [dict(ns_steps=100), dict(ns_coefficients=(1.0, 2.0))])
def test_step_errors_match_torch(kwargs):
    def step(m):
        p = m.zeros(2, 3, requires_grad=True)
        opt = m.optim.Muon([p], **kwargs)
        p.grad = m.ones(2, 3)
        opt.step()

    same_error(step)


def test_complex_parameters_are_refused_at_step_as_torch():
    def step(m):
        p = m.zeros(2, 3, dtype=m.complex64, requires_grad=True)
        opt = m.optim.Muon([p])
        opt.step()  # no gradient: nothing to refuse
        p.grad = m.ones(2, 3, dtype=m.complex64)
        opt.step()

    same_error(step)

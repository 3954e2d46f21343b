"""func.functional_call against torch.func.functional_call: outputs and gradients with
swapped parameters and buffers, several dicts, tied weights, strict mode, and restoration."""

import numpy as np
import pytest
import torch
from torch.func import functional_call as t_call

import chainrule as cr
from chainrule.func import functional_call as c_call


def pair(build):
    torch.manual_seed(0)
    tm = build(torch)
    cm = build(cr)
    cm.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, cm


def mlp(m):
    return m.nn.Sequential(m.nn.Linear(3, 4), m.nn.BatchNorm1d(4), m.nn.Tanh(), m.nn.Linear(4, 2))


def new(m, shape, seed, grad=True):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return m.tensor(x, requires_grad=grad)


def run(call, m, module, which, strict=False, tie=True):
    ps = {
        "0.weight": new(m, (4, 3), 1),
        "3.bias": new(m, (2,), 2),
        "1.running_mean": new(m, (4,), 3, grad=False),
    }
    dicts = (
        ps
        if which == "one"
        else ({k: ps[k] for k in list(ps)[:2]}, {"1.running_mean": ps["1.running_mean"]})
    )
    x = new(m, (5, 3), 4)
    y = call(module, dicts, (x,), strict=strict, tie_weights=tie)
    y.square().sum().backward()
    return y, ps, x


@pytest.mark.parametrize("which", ["one", "split"])
@pytest.mark.parametrize("train", [True, False])
def test_outputs_gradients_and_buffer_updates_match_torch(which, train):
    tm, cm = pair(mlp)
    tm.train(train), cm.train(train)
    ty, tps, tx = run(t_call, torch, tm, which)
    cy, cps, cx = run(c_call, cr, cm, which)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)
    for k in tps:
        if tps[k].grad is not None:
            np.testing.assert_allclose(
                cps[k].grad.numpy(), tps[k].grad.numpy(), rtol=1e-4, atol=1e-6
            )
        # in training the swapped-in running_mean is the one BatchNorm updates, as torch
        np.testing.assert_allclose(
            cps[k].detach().numpy(), tps[k].detach().numpy(), rtol=1e-5, atol=1e-7
        )
    # the module's own parameters are back, untouched by the call's backward
    for (k, tv), (_, cv) in zip(tm.state_dict().items(), cm.state_dict().items()):
        np.testing.assert_allclose(cv.numpy(), tv.numpy(), rtol=1e-5, atol=1e-7, err_msg=k)
    assert cm[0].weight.grad is None and isinstance(cm[0].weight, cr.nn.Parameter)


def tied(m):
    net = m.nn.Sequential(m.nn.Linear(2, 2, bias=False), m.nn.Linear(2, 2, bias=False))
    net[1].weight = net[0].weight
    return net


@pytest.mark.parametrize("tie", [True, False])
def test_tied_weights_as_torch(tie):
    tm, cm = pair(tied)
    outs = []
    for m, module, call in [(torch, tm, t_call), (cr, cm, c_call)]:
        w = m.tensor([[1.0, 2.0], [0.5, -1.0]])
        outs.append(call(module, {"0.weight": w}, m.ones(1, 2), tie_weights=tie).detach().numpy())
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-6)


def outcome(fn, m, call):
    try:
        fn(m, call)
    except Exception as e:
        return type(e).__name__, str(e)
    return "ok"


ERRORS = [
    lambda m, c: c(m.nn.Linear(2, 1), {"nope": m.ones(1)}, (m.ones(1, 2),), strict=True),
    lambda m, c: c(m.nn.Linear(2, 1), {"weight": m.ones(1, 2)}, (m.ones(1, 2),), strict=True),
    lambda m, c: c(m.nn.Linear(2, 1), ({"bias": m.ones(1)}, {"bias": m.ones(1)}), m.ones(1, 2)),
    lambda m, c: c(tied(m), {"0.weight": m.ones(2, 2), "1.weight": m.zeros(2, 2)}, m.ones(1, 2)),
    lambda m, c: c(m.nn.Linear(2, 1), {"nope": m.ones(1)}, (m.ones(1, 2),)),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_errors_as_torch(k):
    assert outcome(ERRORS[k], cr, c_call) == outcome(ERRORS[k], torch, t_call)

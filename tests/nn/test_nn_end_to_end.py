"""End-to-end parity: the mission's networks trained with chainrule.nn + chainrule.optim
give torch's losses step by step (torch's initial weights copied in)."""

import numpy as np
import pytest
import torch
from nn_twins import copy_weights

import chainrule as cr
from chainrule import nn, optim

X = [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6], [0.7, 0.8]]
Y = [[0.5], [0.7], [0.9], [1.1]]
XS = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
YS = [1.0, -1.0, -1.0, 1.0]
TOL = {"float32": dict(rtol=2e-5, atol=1e-7), "float64": dict(rtol=1e-12, atol=1e-14)}


def train(lib, model, opt, loss_fn, x, y, steps):
    x, y = lib.tensor(x), lib.tensor(y)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_single_layer_linear_regression_matches_torch(dtype):
    torch.manual_seed(0)
    tm = torch.nn.Linear(2, 1).to(getattr(torch, dtype))
    cm = nn.Linear(2, 1).to(getattr(cr, dtype))
    copy_weights(cm, tm)
    x, y = np.array(X, dtype), np.array(Y, dtype)
    tl = train(torch, tm, torch.optim.SGD(tm.parameters(), lr=0.1), torch.nn.MSELoss(), x, y, 100)
    cl = train(cr, cm, optim.SGD(cm.parameters(), lr=0.1), nn.MSELoss(), x, y, 100)
    np.testing.assert_allclose(cl, tl, **TOL[dtype])
    assert cl[-1] < cl[0] / 10
    for k, v in tm.state_dict().items():
        np.testing.assert_allclose(cm.state_dict()[k]._data, v.numpy(), **TOL[dtype])
        assert cm.state_dict()[k].dtype == getattr(cr, dtype)


def mlp(lib, last_tanh):
    m = torch.nn if lib is torch else nn
    layers = [m.Linear(3, 4), m.Tanh(), m.Linear(4, 4), m.Tanh(), m.Linear(4, 1)]
    return m.Sequential(*layers, *([m.Tanh()] if last_tanh else []))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("last_tanh", [True, False], ids=["lecture", "micrograd"])
def test_mlp_with_tanh_matches_torch(dtype, last_tanh):
    torch.manual_seed(1)
    tm = mlp(torch, last_tanh).to(getattr(torch, dtype))
    cm = mlp(cr, last_tanh).to(getattr(cr, dtype))
    copy_weights(cm, tm)
    x, y = np.array(XS, dtype), np.array(YS, dtype)[:, None]
    tl = train(torch, tm, torch.optim.SGD(tm.parameters(), lr=0.05),
               torch.nn.MSELoss(reduction="sum"), x, y, 60)  # fmt: skip
    cl = train(cr, cm, optim.SGD(cm.parameters(), lr=0.05), nn.MSELoss(reduction="sum"), x, y, 60)
    tol = dict(rtol=1e-4, atol=1e-6) if dtype == "float32" else TOL[dtype]
    np.testing.assert_allclose(cl, tl, **tol)
    assert cl[-1] < 0.1 * cl[0]
    out = cm(cr.tensor(x))._data.ravel()
    assert np.all((out > 0) == (np.array(YS) > 0))


def test_mlp_trains_with_adam_and_cross_entropy_like_torch():
    torch.manual_seed(2)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.GELU(), torch.nn.Linear(8, 2)).double()
    cm = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, 2)).double()
    copy_weights(cm, tm)
    x, y = np.array(XS), (np.array(YS) > 0).astype(np.int64)
    tl = train(torch, tm, torch.optim.Adam(tm.parameters(), lr=0.01),
               torch.nn.CrossEntropyLoss(label_smoothing=0.1), x, y, 40)  # fmt: skip
    cl = train(cr, cm, optim.Adam(cm.parameters(), lr=0.01),
               nn.CrossEntropyLoss(label_smoothing=0.1), x, y, 40)  # fmt: skip
    np.testing.assert_allclose(cl, tl, rtol=1e-10, atol=1e-12)

"""Tests for chainrule.scalar.nn: micrograd's Module/Neuron/Layer/MLP, checked against torch."""

from __future__ import annotations

import random

import pytest
import torch

from chainrule.scalar import MLP, Layer, Module, Neuron, Value
from chainrule.scalar import nn as snn


def torch_mlp(model: MLP, activation: str = "relu"):
    """The same network as torch float64 tensors: a list of (W, b) per layer."""
    params = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        params.append((W.requires_grad_(), b.requires_grad_()))
    act = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation]

    def forward(x):
        for i, (W, b) in enumerate(params):
            x = W @ x + b
            if i < len(params) - 1:
                x = act(x)
        return x

    return params, forward


def test_mlp_shape_and_parameters():
    m = MLP(2, [16, 16, 1], seed=0)
    assert len(m.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1) == 337
    assert [layer.neurons[0].nonlin for layer in m.layers] == [True, True, False]
    assert all(isinstance(p, Value) for p in m.parameters())
    assert repr(m).startswith("MLP of [Layer of [ReLUNeuron(2)")
    assert repr(m.layers[-1]) == "Layer of [LinearNeuron(16)]"
    assert isinstance(m([0.1, 0.2]), Value)  # one output: a Value, as in micrograd
    assert len(MLP(3, [4, 2], seed=0)([1.0, 2.0, 3.0])) == 2


def test_micrograd_signatures():
    n = Neuron(3, nonlin=False)
    assert len(n.w) == 3 and n.b.data == 0.0 and not n.nonlin
    layer = Layer(3, 4, nonlin=False)
    assert len(layer.neurons) == 4 and not layer.neurons[0].nonlin
    assert isinstance(MLP(3, [4, 4, 1]), Module)
    assert Module().parameters() == []


def test_seeded_initialisation():
    a = [p.data for p in MLP(2, [8, 1], seed=42).parameters()]
    b = [p.data for p in MLP(2, [8, 1], seed=42).parameters()]
    c = [p.data for p in MLP(2, [8, 1], seed=43).parameters()]
    assert a == b and a != c
    d = [p.data for p in MLP(2, [8, 1], rng=random.Random(42)).parameters()]
    assert d == a
    snn.manual_seed(7)
    e = [p.data for p in MLP(2, [8, 1]).parameters()]
    snn.manual_seed(7)
    assert [p.data for p in MLP(2, [8, 1]).parameters()] == e
    weights = [w.data for n in MLP(4, [50], seed=1).layers[0].neurons for w in n.w]
    assert all(-1 <= w <= 1 for w in weights) and min(weights) < -0.8 and max(weights) > 0.8


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_forward_and_gradients_match_torch(activation):
    model = MLP(3, [5, 4, 2], activation=activation, seed=3)
    x = [0.5, -1.2, 2.0]
    g = [0.7, -1.3]  # random-ish upstream gradient
    outs = model(x)
    loss = outs[0] * g[0] + outs[1] * g[1]
    loss.backward()
    params, forward = torch_mlp(model, activation)
    tout = forward(torch.tensor(x, dtype=torch.float64))
    (tout * torch.tensor(g, dtype=torch.float64)).sum().backward()
    assert [o.data for o in outs] == pytest.approx(tout.tolist(), rel=1e-13)
    for layer, (W, b) in zip(model.layers, params):
        for i, n in enumerate(layer.neurons):
            assert [w.grad for w in n.w] == pytest.approx(W.grad[i].tolist(), rel=1e-12, abs=1e-15)
            assert n.b.grad == pytest.approx(b.grad[i].item(), rel=1e-12, abs=1e-15)


def test_zero_grad():
    m = MLP(2, [3, 1], seed=0)
    m([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())


def test_lecture_mlp_with_tanh_trains_on_the_four_examples():
    """MLP(3, [4, 4, 1]) with tanh, squared error, the lecture's xs/ys; torch agrees on step 1."""
    xs = [[2.0, 3.0, -1.0], [3.0, -1.0, 0.5], [0.5, 1.0, 1.0], [1.0, 1.0, -1.0]]
    ys = [1.0, -1.0, -1.0, 1.0]
    model = MLP(3, [4, 4, 1], activation="tanh", seed=0)
    params, forward = torch_mlp(model, "tanh")
    tloss = sum((forward(torch.tensor(x, dtype=torch.float64))[0] - y) ** 2 for x, y in zip(xs, ys))
    tloss.backward()
    losses = []
    for step in range(60):
        loss = sum((model(x) - y) ** 2 for x, y in zip(xs, ys))
        loss.backward()
        if step == 0:
            assert loss.data == pytest.approx(tloss.item(), rel=1e-13)
            W, _ = params[0]
            got = [w.grad for w in model.layers[0].neurons[0].w]
            assert got == pytest.approx(W.grad[0].tolist(), rel=1e-12)
        for p in model.parameters():
            p.data -= 0.05 * p.grad
        losses.append(loss.data)
    assert losses[-1] < 0.05 * losses[0]
    assert all((model(x).data > 0) == (y > 0) for x, y in zip(xs, ys))


def test_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="expects 3 inputs, got 2"):
        Neuron(3, seed=0)([1.0, 2.0])
    with pytest.raises(ValueError, match="activation must be one of .* got 'gelu'"):
        MLP(2, [3, 1], activation="gelu")
    with pytest.raises(ValueError, match="either rng or seed"):
        MLP(2, [3, 1], rng=random.Random(0), seed=0)

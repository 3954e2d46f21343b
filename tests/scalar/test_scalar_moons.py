"""Tests for chainrule.scalar.moons: the data, the demo loss against torch, training, the CLI."""

from __future__ import annotations

import math

import pytest
import torch

from chainrule.cli import main
from chainrule.scalar import MLP
from chainrule.scalar.moons import ascii_plot, loss_and_accuracy, make_moons, train


def test_make_moons_shape_labels_and_seed():
    X, y = make_moons(100, 0.1, seed=1)
    assert len(X) == len(y) == 100 and all(len(p) == 2 for p in X)
    assert y.count(-1.0) == 50 and y.count(1.0) == 50
    assert make_moons(100, 0.1, seed=1) == (X, y)
    assert make_moons(100, 0.1, seed=2) != (X, y)
    assert len(make_moons(7)[0]) == 7


def test_make_moons_without_noise_lies_on_the_arcs():
    X, y = make_moons(20, 0.0)
    for (a, b), label in zip(X, y):
        if label < 0:  # upper moon: the unit half circle
            assert math.hypot(a, b) == pytest.approx(1.0) and b >= -1e-12
        else:  # lower moon: centred at (1, 0.5)
            assert math.hypot(a - 1.0, b - 0.5) == pytest.approx(1.0) and b <= 0.5 + 1e-12


def test_demo_loss_and_gradients_match_torch():
    X, y = make_moons(30, 0.1, seed=4)
    model = MLP(2, [16, 16, 1], seed=4)
    total, acc = loss_and_accuracy(model, X, y)
    total.backward()

    params = []
    for layer in model.layers:
        W = torch.tensor([[w.data for w in n.w] for n in layer.neurons], dtype=torch.float64)
        b = torch.tensor([n.b.data for n in layer.neurons], dtype=torch.float64)
        params.append((W.requires_grad_(), b.requires_grad_()))
    h = torch.tensor(X, dtype=torch.float64)
    for i, (W, b) in enumerate(params):
        h = h @ W.T + b
        if i < len(params) - 1:
            h = torch.relu(h)
    scores = h[:, 0]
    yt = torch.tensor(y, dtype=torch.float64)
    reg = sum((W**2).sum() + (b**2).sum() for W, b in params)
    tloss = torch.relu(1 - yt * scores).mean() + 1e-4 * reg
    tloss.backward()

    assert total.data == pytest.approx(tloss.item(), rel=1e-13)
    assert acc == ((scores > 0) == (yt > 0)).double().mean().item()
    W, b = params[1]
    got = [[w.grad for w in n.w] for n in model.layers[1].neurons]
    assert got == [pytest.approx(row, rel=1e-11, abs=1e-15) for row in W.grad.tolist()]


def test_short_training_improves_the_fit():
    X, y = make_moons()
    model = MLP(2, [16, 16, 1], seed=1337)
    history = train(model, X, y, steps=12)
    assert history[-1][0] < 0.3 * history[0][0]
    assert history[-1][1] >= 0.9


def test_ascii_plot_marks_every_point():
    X, y = make_moons(10, 0.0)
    picture = ascii_plot(MLP(2, [4, 1], seed=0), X, y, w=30, h=10)
    lines = picture.splitlines()
    assert len(lines) == 10 and all(len(line) == 30 for line in lines)
    assert sum(picture.count(c) for c in "oOxX") >= 8  # points may share a cell


def test_cli_moons(capsys):
    assert main(["moons", "--steps", "3", "--print-every", "1", "--n", "40", "--plot"]) == 0
    out = capsys.readouterr().out
    assert "337 parameters; 40 points" in out and "ReLUNeuron" not in out
    assert out.count("step ") == 3
    assert "training accuracy" in out

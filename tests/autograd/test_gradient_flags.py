"""Under ``create_graph``, which first-order gradients require grad: torch's gradient node
of a layer takes the gradient, the input and the weight (layer_norm's also the bias), and
every result of it requires grad when one of those does, even where the rule for that
result does not read it (a convolution's weight gradient reads x and g, not w). So a
gradient penalty on a frozen-input layer's parameters runs, in both libraries, and the
second derivative is torch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr

LAYERS = {
    "conv1d": (lambda m: m.nn.Conv1d(2, 3, 2), (1, 2, 4)),
    "conv2d": (lambda m: m.nn.Conv2d(2, 3, 2), (1, 2, 3, 3)),
    "layer_norm": (lambda m: m.nn.LayerNorm(3), (2, 3)),
    "batch_norm": (lambda m: m.nn.BatchNorm1d(3), (2, 3)),
    "batch_norm-eval": (lambda m: m.nn.BatchNorm1d(3).eval(), (2, 3)),
    "linear": (lambda m: m.nn.Linear(3, 2), (2, 3)),
}


def _program(m, name, x_requires_grad, frozen, state):
    make, shape = LAYERS[name]
    mod = make(m)
    mod.load_state_dict({k: m.tensor(v) for k, v in state.items()})
    for n, p in mod.named_parameters():
        p.requires_grad_(n != frozen)
    x = m.tensor((np.linspace(-1.0, 1.5, int(np.prod(shape))).reshape(shape) ** 2).astype("f4"),
                 requires_grad=x_requires_grad)  # fmt: skip
    n = mod(x).shape
    up = m.tensor(np.linspace(0.5, 2.0, int(np.prod(n)), dtype="f4").reshape(n))
    ins = [p for p in mod.parameters() if p.requires_grad] + ([x] if x_requires_grad else [])
    grads = m.autograd.grad((mod(x) * up).sum(), ins, create_graph=True, allow_unused=True)
    flags = [None if g is None else g.requires_grad for g in grads]
    live = [g for g in grads if g is not None and g.requires_grad]
    second = []
    if live:
        sum((g * g).sum() for g in live).backward()
        second = [None if t.grad is None else t.grad.detach().numpy() for t in ins]
    return flags, [None if g is None else g.detach().numpy() for g in grads], second


@pytest.mark.parametrize("frozen", [None, "weight", "bias"])
@pytest.mark.parametrize("x_requires_grad", [False, True], ids=["x", "x-requires-grad"])
@pytest.mark.parametrize("name", LAYERS)
def test_create_graph_gradient_flags_and_second_derivative_as_torch(name, x_requires_grad,
                                                                    frozen):  # fmt: skip
    torch.manual_seed(0)
    t_mod = LAYERS[name][0](torch)
    with torch.no_grad():  # weights away from the defaults (ones, zeros)
        for p in t_mod.parameters():
            p.add_(torch.linspace(-0.3, 0.4, p.numel()).reshape(p.shape))
    state = {k: v.detach().numpy().copy() for k, v in t_mod.state_dict().items()}
    want = _program(torch, name, x_requires_grad, frozen, state)
    got = _program(cr, name, x_requires_grad, frozen, state)
    assert got[0] == want[0]
    for a, b in zip(got[1] + got[2], want[1] + want[2]):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

"""``inplace=True`` in the activations and their modules works as in torch: the result is
written into the input (same object, version + 1, torch's grad_fn), the gradient is right,
and a leaf that requires grad is refused with torch's error."""

import numpy as np
import pytest
import torch

import chainrule as cr

X = [-2.0, -0.5, 0.0, 0.7, 3.0, 7.0]

FUNCTIONAL = {
    "relu": lambda F, x: F.relu(x, inplace=True),
    "leaky_relu": lambda F, x: F.leaky_relu(x, 0.1, inplace=True),
    "elu": lambda F, x: F.elu(x, 1.5, inplace=True),
    "hardtanh": lambda F, x: F.hardtanh(x, -1.0, 2.0, inplace=True),
    "relu6": lambda F, x: F.relu6(x, inplace=True),
    "silu": lambda F, x: F.silu(x, inplace=True),
    "mish": lambda F, x: F.mish(x, inplace=True),
    "selu": lambda F, x: F.selu(x, inplace=True),
    "celu": lambda F, x: F.celu(x, 0.5, inplace=True),
    "hardswish": lambda F, x: F.hardswish(x, inplace=True),
    "hardsigmoid": lambda F, x: F.hardsigmoid(x, inplace=True),
    "threshold": lambda F, x: F.threshold(x, 0.5, -1.0, inplace=True),
    "rrelu_eval": lambda F, x: F.rrelu(x, 0.1, 0.2, inplace=True),
    "selu_": lambda F, x: F.selu_(x),
    "celu_": lambda F, x: F.celu_(x, 2.0),
    "threshold_": lambda F, x: F.threshold_(x, 0.0, 5.0),
    "rrelu_": lambda F, x: F.rrelu_(x),
    "dropout_p1": lambda F, x: F.dropout(x, 1.0, True, inplace=True),
    "dropout_eval": lambda F, x: F.dropout(x, 0.5, False, inplace=True),
}
MODULES = {
    "ReLU": lambda nn: nn.ReLU(inplace=True),
    "LeakyReLU": lambda nn: nn.LeakyReLU(0.2, inplace=True),
    "ELU": lambda nn: nn.ELU(inplace=True),
    "Hardtanh": lambda nn: nn.Hardtanh(inplace=True),
    "ReLU6": lambda nn: nn.ReLU6(inplace=True),
    "SiLU": lambda nn: nn.SiLU(inplace=True),
    "Mish": lambda nn: nn.Mish(inplace=True),
    "SELU": lambda nn: nn.SELU(inplace=True),
    "CELU": lambda nn: nn.CELU(0.7, inplace=True),
    "Hardswish": lambda nn: nn.Hardswish(inplace=True),
    "Hardsigmoid": lambda nn: nn.Hardsigmoid(inplace=True),
    "Threshold": lambda nn: nn.Threshold(0.5, 2.0, inplace=True),
    "RReLU_eval": lambda nn: nn.RReLU(inplace=True).eval(),
    "Dropout_eval": lambda nn: nn.Dropout(inplace=True).eval(),
}


def run(m, fn):
    x = m.tensor(X, requires_grad=True)
    y = x * 2
    before = y._version
    out = fn(y)
    facts = (out is y, y._version - before, out.grad_fn.name())
    (out * m.arange(6.0)).sum().backward()
    return facts, out.detach().numpy().copy(), x.grad.numpy().copy()


def leaf_error(m, fn):
    with pytest.raises(RuntimeError) as info:
        fn(m.tensor(X, requires_grad=True))
    return str(info.value)


@pytest.mark.parametrize("name", FUNCTIONAL)
def test_functional_inplace_matches_torch(name):
    ours = run(cr, lambda y: FUNCTIONAL[name](cr.nn.functional, y))
    theirs = run(torch, lambda y: FUNCTIONAL[name](torch.nn.functional, y))
    assert ours[0] == theirs[0]
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6)
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-5, atol=1e-6)
    if name != "dropout_eval":  # the identity in eval mode writes nothing
        ours = leaf_error(cr, lambda x: FUNCTIONAL[name](cr.nn.functional, x))
        assert ours == leaf_error(torch, lambda x: FUNCTIONAL[name](torch.nn.functional, x))


@pytest.mark.parametrize("name", MODULES)
def test_module_inplace_matches_torch(name):
    ours, theirs = MODULES[name](cr.nn), MODULES[name](torch.nn)
    assert repr(ours) == repr(theirs)
    a, b = run(cr, ours), run(torch, theirs)
    assert a[0] == b[0]
    np.testing.assert_allclose(a[2], b[2], rtol=1e-5, atol=1e-6)


def test_inplace_under_no_grad_writes_a_leaf():
    for m in (cr, torch):
        w = m.tensor(X, requires_grad=True)
        with m.no_grad():
            assert m.nn.functional.relu(w, inplace=True) is w
        assert w.detach().numpy().min() == 0.0 and w.is_leaf

"""autograd.grad / backward(inputs=...) run only the nodes on paths to the inputs, as torch:
history beyond them is not computed, not freed and not seen by hooks."""

import numpy as np
import pytest
import torch

import chainrule as cr


def run(lib):
    x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
    y = x.exp()
    z = y * 2
    calls = []
    x.register_hook(lambda g: calls.append("x"))
    (g,) = lib.autograd.grad(z.sum(), y)  # retain_graph=False: only MulBackward runs
    y.sum().backward()  # ExpBackward was not freed
    w = x.sin()
    u = (w * y.detach()).sum()
    u.backward(inputs=[w])  # stops at w: SinBackward does not run
    return g.tolist(), x.grad.tolist(), calls, w.grad.tolist()


@pytest.mark.filterwarnings("ignore:The .grad attribute")
def test_grad_stops_at_its_inputs():
    assert run(cr) == run(torch)


def test_inner_grad_does_not_free_outer_history_through_forward_ad():
    """A jvp computed by the double-vjp identity inside a Hessian must leave the forward
    graph intact (it used to free it by walking on past its input)."""
    import chainrule.autograd.functional as F

    x = cr.tensor([0.3, -0.7], dtype=cr.float64)
    h = F.hessian(lambda x: (x.exp() * x).sum(), x, vectorize=True,
                  outer_jacobian_strategy="forward-mode")  # fmt: skip
    tx = torch.tensor([0.3, -0.7], dtype=torch.float64)
    th = torch.autograd.functional.hessian(lambda x: (x.exp() * x).sum(), tx)
    assert abs(h.detach().numpy() - th.detach().numpy()).max() < 1e-12


OPS = {
    "exp": lambda lib, x: x.exp(),
    "tanh": lambda lib, x: x.tanh(),
    "sigmoid": lambda lib, x: x.sigmoid(),
    "sqrt": lambda lib, x: (x * x + 1).sqrt(),
    "softmax": lambda lib, x: x.softmax(-1),
    "log_softmax": lambda lib, x: x.log_softmax(0),
    "matmul": lambda lib, x: x @ x.T,
    "norm": lambda lib, x: x.norm(),
    "cumprod": lambda lib, x: x.cumprod(1),
    "max": lambda lib, x: x.max(1).values,
    "logsumexp": lambda lib, x: x.logsumexp(1),
    "det": lambda lib, x: lib.linalg.det(x[:, :2]),
}


X = [[0.5, -1.0, 0.3], [0.2, 0.9, -0.4]]
T = [[0.1, 0.7, -0.2], [1.0, -0.5, 0.3]]


def _weights(y):
    return cr.tensor(np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)), dtype=cr.float64)


def _tangent_then_grad(op):
    import chainrule.autograd.forward_ad as fw

    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    t = cr.tensor(T, dtype=cr.float64, requires_grad=True)
    with fw.dual_level():
        tangent = fw.unpack_dual(OPS[op](cr, fw.make_dual(x, t))).tangent
    return cr.autograd.grad(
        (tangent * _weights(tangent)).sum(), (x, t), allow_unused=True, materialize_grads=True
    )


def _by_reverse_mode(op):
    """The same numbers by reverse mode only: <w, J t> = <Jᵀw, t>, differentiated."""
    x = cr.tensor(X, dtype=cr.float64, requires_grad=True)
    t = cr.tensor(T, dtype=cr.float64, requires_grad=True)
    y = OPS[op](cr, x)
    (jtw,) = cr.autograd.grad(y, x, _weights(y), create_graph=True)
    return cr.autograd.grad((jtw * t).sum(), (x, t), allow_unused=True, materialize_grads=True)


@pytest.mark.parametrize("op", list(OPS))
def test_reverse_over_forward(op):
    """The tangent computed in forward mode is itself differentiable (Hessian-vector
    products by reverse-over-forward), through rules that read the op's output too. The
    oracle is reverse-over-reverse (checked against torch op by op in tests/ops); torch
    itself refuses this for softmax and logsumexp."""
    for ours, ref in zip(_tangent_then_grad(op), _by_reverse_mode(op)):
        np.testing.assert_allclose(
            ours.detach().numpy(), ref.detach().numpy(), rtol=1e-10, atol=1e-12
        )


@pytest.mark.parametrize("op", list(OPS))
def test_forward_over_reverse(op):
    """The gradient computed inside a dual level carries the right tangent (H·t)."""
    import torch.autograd.forward_ad as tfw

    import chainrule.autograd.forward_ad as fw

    def run(lib, fw):
        x = lib.tensor([[0.5, -1.0, 0.3], [0.2, 0.9, -0.4]], dtype=lib.float64)
        x.requires_grad_()
        t = lib.tensor([[0.1, 0.7, -0.2], [1.0, -0.5, 0.3]], dtype=lib.float64)
        with fw.dual_level():
            xd = fw.make_dual(x, t)
            y = OPS[op](lib, xd)
            w = lib.tensor(np.linspace(-1, 1, y.numel()).reshape(y.shape), dtype=lib.float64)
            (g,) = lib.autograd.grad((y * w).sum(), x, create_graph=True)
            tangent = fw.unpack_dual(g).tangent  # None: zero (max is piecewise linear)
            return np.zeros(g.shape) if tangent is None else tangent.detach().numpy()

    np.testing.assert_allclose(run(cr, fw), run(torch, tfw), rtol=1e-10, atol=1e-12)

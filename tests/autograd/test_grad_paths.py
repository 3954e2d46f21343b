"""autograd.grad / backward(inputs=...) run only the nodes on paths to the inputs, as torch:
history beyond them is not computed, not freed and not seen by hooks."""

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
    assert abs(h.numpy() - th.numpy()).max() < 1e-12

"""Double backward through the masking activations (relu, hardtanh, relu6, leaky_relu and
their in-place forms): torch's first gradient (threshold_backward, hardtanh_backward,
leaky_relu_backward) is a function of the saved tensor too, with a zero derivative, so
under ``create_graph`` it requires grad and a second ``autograd.grad`` gives zeros (issue 10,
double backward). hardtanh and leaky_relu save their input, as torch does: writing it in
place before backward raises. Every program runs under torch and chainrule."""

import pytest
import torch

import chainrule as cr

ACTIVATIONS = {
    "relu": lambda m, x: m.relu(x),
    "relu_method": lambda m, x: x.relu(),
    "F.relu": lambda m, x: m.nn.functional.relu(x),
    "hardtanh": lambda m, x: m.nn.functional.hardtanh(x, -1.0, 2.0),
    "relu6": lambda m, x: m.nn.functional.relu6(x * 3),
    "leaky_relu": lambda m, x: m.nn.functional.leaky_relu(x, 0.2),
    "relu_": lambda m, x: (x * 1).relu_(),
    "F.relu(inplace)": lambda m, x: m.nn.functional.relu(x * 1, inplace=True),
    "hardtanh(inplace)": lambda m, x: m.nn.functional.hardtanh(x * 1, inplace=True),
    "leaky_relu(inplace)": lambda m, x: m.nn.functional.leaky_relu(x * 1, 0.2, inplace=True),
    "ReLU module": lambda m, x: m.nn.ReLU()(x),
    "LeakyReLU module": lambda m, x: m.nn.LeakyReLU(0.3)(x),
}


def _double(m, f, weight):
    x = m.tensor([1.0, -2.0, 0.5, 3.0, -0.25], requires_grad=True)
    y = f(m, x)
    gy = m.tensor([1.0, 2.0, -1.0, 0.5, 3.0]) if weight else None
    (g,) = m.autograd.grad(y, x, grad_outputs=gy if weight else m.ones_like(y), create_graph=True)
    out = {
        "g": g.tolist(),
        "requires_grad": g.requires_grad,
        "name": g.grad_fn.name() if g.grad_fn is not None else None,
    }
    (gg,) = m.autograd.grad((g * m.arange(5.0)).sum(), x, create_graph=True)
    out["gg"] = gg.tolist()
    out["gg_requires_grad"] = gg.requires_grad
    return out


@pytest.mark.parametrize("weight", [False, True])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_first_gradient_is_in_the_graph(name, weight):
    f = ACTIVATIONS[name]
    assert _double(cr, f, weight) == _double(torch, f, weight)


@pytest.mark.parametrize("name", ["relu", "hardtanh", "leaky_relu"])
def test_second_gradient_wrt_grad_output(name):
    """The gradient is linear in grad_output: d/d(gy) of <g, v> is the mask applied to v."""

    def run(m):
        x = m.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
        gy = m.tensor([1.0, 2.0, -1.0, 0.5], requires_grad=True)
        (g,) = m.autograd.grad(ACTIVATIONS[name](m, x), x, grad_outputs=gy, create_graph=True)
        return [t.tolist() for t in m.autograd.grad((g * g).sum(), [x, gy])]

    assert run(cr) == run(torch)


@pytest.mark.parametrize("name", ["hardtanh", "relu6", "leaky_relu"])
def test_saved_input_written_in_place_raises(name):
    def run(m):
        x = m.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
        a = x * 1
        y = getattr(m.nn.functional, name)(a)
        a.add_(1)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e).replace("torch.", "chainrule.").replace("chainrule.autograd", "")
        return x.grad.tolist()

    assert run(cr) == run(torch)


@pytest.mark.parametrize("written", [False, True])
def test_inplace_leaky_relu_saves_its_result(written):
    """leaky_relu_ saves its result (LeakyReluBackward1): writing the input before is fine,
    writing the result after raises."""

    def run(m):
        x = m.tensor([1.0, -2.0, 0.5, 3.0], requires_grad=True)
        y = m.nn.functional.leaky_relu(x * 1, 0.2, inplace=True)
        if written:
            y.mul_(2)
        try:
            y.sum().backward()
        except RuntimeError as e:
            return str(e).split(":")[0]
        return x.grad.tolist()

    assert run(cr) == run(torch)

"""The worked examples of mission.md, on the tensor engine (their numbers are facts)."""

import math
import random

import numpy as np
import pytest

import chainrule as cr


def test_shared_path_example_gives_45_and_20_not_35():
    a = cr.tensor(2.0, requires_grad=True)
    b = cr.tensor(3.0, requires_grad=True)
    c = a + b
    d = c * a
    e = c * d
    e.backward()
    assert e.item() == 50.0
    assert a.grad.item() == 45.0  # (a+b)^2 + 2a(a+b): the path a -> c -> d counts too
    assert b.grad.item() == 20.0


def test_elementwise_example():
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = cr.tensor([[2.0, 3.0], [4.0, 5.0]], requires_grad=True)
    z = x * y + y**2
    z.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.detach().numpy())
    np.testing.assert_array_equal(y.grad.numpy(), (x + 2 * y).detach().numpy())


def test_tanh_example_against_central_difference():
    x = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    y = cr.tensor(-1.0, dtype=cr.float64, requires_grad=True)
    w = cr.tanh(x**2 + y**2)
    w.backward()

    def f(a, b):
        return np.tanh(a**2 + b**2)

    h = 1e-6
    assert x.grad.item() == pytest.approx((f(0.5 + h, -1) - f(0.5 - h, -1)) / (2 * h), rel=1e-7)
    assert y.grad.item() == pytest.approx((f(0.5, -1 + h) - f(0.5, -1 - h)) / (2 * h), rel=1e-7)


def _median_loss(n, dtype):
    r = random.Random(5)
    xs = [r.uniform(0, 1) for _ in range(n)]
    ys = [r.uniform(0, 1) for _ in range(n)]
    px = cr.tensor(0.3, dtype=dtype, requires_grad=True)
    py = cr.tensor(0.3, dtype=dtype, requires_grad=True)
    X, Y = cr.tensor(xs, dtype=dtype), cr.tensor(ys, dtype=dtype)
    loss = cr.sqrt((X - px) ** 2 + (Y - py) ** 2).mean()
    loss.backward()
    return loss.item(), px.grad.item(), py.grad.item()


def test_geometric_median_n1_closed_form():
    loss, gx, gy = _median_loss(1, cr.float64)
    assert loss == pytest.approx(0.5472122517293468, rel=1e-15)
    assert gx == pytest.approx(-0.5900849147094943, rel=1e-15)
    assert gy == pytest.approx(-0.8073411877467226, rel=1e-15)


def test_geometric_median_n1000():
    # mission.md's loss is torch's float32 figure; float64 is checked against plain Python
    r = random.Random(5)
    xs = [r.uniform(0, 1) for _ in range(1000)]
    ys = [r.uniform(0, 1) for _ in range(1000)]
    exact = math.fsum(math.hypot(x - 0.3, y - 0.3) for x, y in zip(xs, ys)) / 1000
    loss, gx, gy = _median_loss(1000, cr.float64)
    assert loss == pytest.approx(exact, rel=1e-13)
    loss32, gx32, gy32 = _median_loss(1000, cr.float32)
    assert loss32 == pytest.approx(0.44305282831192017, rel=1e-6)
    for g in (gx, gx32):
        assert g == pytest.approx(-0.3278, abs=1e-4)
    for g in (gy, gy32):
        assert g == pytest.approx(-0.3363, abs=1e-4)

"""Tests for chainrule.scalar.lecture: the mission's geometric median figures, and the CLI."""

from __future__ import annotations

import math
import struct

import pytest
import torch

from chainrule.cli import main
from chainrule.scalar import Value
from chainrule.scalar.lecture import closed_form, descend, loss, make_points, weiszfeld


def engine_at(n: int, x: float = 0.3, y: float = 0.3) -> tuple[float, float, float]:
    xp, yp = Value(x), Value(y)
    L = loss(make_points(n, seed=5), xp, yp)
    L.backward()
    return L.data, xp.grad, yp.grad


def as_float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


def test_points_follow_the_recipe():
    import random

    r = random.Random(5)
    xs = [r.uniform(0, 1) for _ in range(4)]
    ys = [r.uniform(0, 1) for _ in range(4)]
    assert make_points(4) == (xs, ys)


def test_n1_figures_from_the_mission():
    L, gx, gy = engine_at(1)
    assert L == pytest.approx(0.5472122517293468, abs=1e-15)
    assert gx == pytest.approx(-0.5900849147094943, abs=1e-15)
    assert gy == pytest.approx(-0.8073411877467226, abs=1e-15)


def test_n1000_figures_from_the_mission():
    L, gx, gy = engine_at(1000)
    # the mission's L was printed by PyTorch in float32: ours rounds to exactly that float
    assert as_float32(L) == 0.44305282831192017
    assert (round(gx, 4), round(gy, 4)) == (-0.3278, -0.3363)


@pytest.mark.parametrize("n", [1, 7, 1000])
def test_engine_matches_closed_form_and_torch_float64(n):
    got = engine_at(n)
    assert got == pytest.approx(closed_form(make_points(n), 0.3, 0.3), rel=1e-13, abs=1e-15)
    xs, ys = (torch.tensor(c, dtype=torch.float64) for c in make_points(n))
    p = torch.tensor([0.3, 0.3], dtype=torch.float64, requires_grad=True)
    tL = torch.sqrt((xs - p[0]) ** 2 + (ys - p[1]) ** 2).mean()
    tL.backward()
    assert got == pytest.approx([tL.item(), *p.grad.tolist()], rel=1e-13, abs=1e-15)


def test_weiszfeld_finds_a_zero_gradient_point():
    pts = make_points(200, seed=11)
    mx, my = weiszfeld(pts)
    _, gx, gy = closed_form(pts, mx, my)
    assert math.hypot(gx, gy) < 1e-10
    L = closed_form(pts, mx, my)[0]
    for dx, dy in [(1e-4, 0), (-1e-4, 0), (0, 1e-4), (0, -1e-4)]:
        assert closed_form(pts, mx + dx, my + dy)[0] > L


def test_weiszfeld_on_a_data_point():
    pts = ([0.0, 0.0, 1.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0, -1.0])  # median is (0, 0), a point
    mx, my = weiszfeld(pts)
    assert math.hypot(mx, my) < 1e-9


def test_gradient_descent_reaches_the_median():
    pts = make_points(60, seed=2)
    x, y, final = descend(pts, steps=150, lr=0.1)
    mx, my = weiszfeld(pts)
    assert math.hypot(x - mx, y - my) < 1e-6
    assert final == pytest.approx(closed_form(pts, mx, my)[0], abs=1e-12)


def test_cli_geometric_median(capsys):
    assert main(["geometric-median", "--n", "50", "--steps", "100", "--print-every", "25"]) == 0
    out = capsys.readouterr().out
    assert "0.5472122517293468" in out  # N=1 check line
    assert "largest difference" in out and "OK" in out
    assert out.count("step ") == 5  # steps 1, 25, 50, 75, 100
    assert "distance to the geometric median" in out
    dist = float(out.rsplit("distance to the geometric median", 1)[1].split()[0])
    assert dist < 1e-6


def test_cli_rejects_bad_options(capsys):
    with pytest.raises(SystemExit, match="Invalid learning rate: 0.0"):
        main(["geometric-median", "--lr", "0"])
    with pytest.raises(SystemExit) as e:  # found by the parser: a usage error
        main(["geometric-median", "--n", "0"])
    assert e.value.code == 2
    assert "error: argument --n: must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("n", [1, 2, 3])
def test_cli_geometric_median_finishes_for_few_points(n, capsys):
    # N = 1 used to end in ZeroDivisionError once descent reached the single point
    assert main(["geometric-median", "--n", str(n)]) == 0
    out = capsys.readouterr().out
    pts = make_points(n)
    mx, my = weiszfeld(pts)
    assert f"Weiszfeld median ({mx:.10f}, {my:.10f})" in out
    gap = float(out.rsplit("loss above the median's", 1)[1].split()[0])
    assert 0 <= gap < 1e-12  # descent reaches a median (for N = 2, any point of the segment)
    if n != 2:
        dist = float(out.rsplit("distance to the geometric median", 1)[1].split()[0])
        assert dist < 1e-8
    if n == 1:
        assert (mx, my) == (pts[0][0], pts[1][0])


def test_descent_onto_a_data_point_stays_finite():
    # lands exactly on the point after two steps: the distance there has no gradient (torch
    # gives nan too); the lecture's loss leaves the zero term out, so descent stops there
    x, y, final = descend(([0.5], [0.3]), start=(0.3, 0.3), steps=5, lr=0.1)
    assert (x, y, final) == (0.5, 0.3, 0.0)
    assert closed_form(([0.5], [0.3]), 0.5, 0.3) == (0.0, 0.0, 0.0)
    xs, ys = torch.tensor([0.5], dtype=torch.float64), torch.tensor([0.3], dtype=torch.float64)
    p = torch.tensor([0.5, 0.3], dtype=torch.float64, requires_grad=True)
    torch.sqrt((xs - p[0]) ** 2 + (ys - p[1]) ** 2).mean().backward()
    assert math.isnan(p.grad[0])  # why the lecture's loss skips the term

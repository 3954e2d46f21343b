"""Convolution and pooling against torch.nn.functional, finite differences, second order."""

import numpy as np
import pytest
import torch
from harness import Case, case_id, check_case, check_finite_differences

import chainrule as cr


def F(m):
    return torch.nn.functional if m is torch else m.nn.functional


def xs(*shapes):
    return lambda r: [r.uniform(-1, 1, s) for s in shapes]


CASES = [
    Case("conv2d", lambda m, x, w: F(m).conv2d(x, w), make=xs((2, 3, 6, 5), (4, 3, 3, 3))),
    Case(
        "conv2d",
        lambda m, x, w, b: F(m).conv2d(x, w, b, stride=2, padding=1),
        make=xs((2, 3, 7, 6), (4, 3, 3, 2), (4,)),
        note="stride-pad-bias",
    ),
    Case(
        "conv2d",
        lambda m, x, w: F(m).conv2d(x, w, dilation=2, padding=(2, 1)),
        make=xs((1, 2, 8, 7), (3, 2, 3, 3)),
        note="dilation",
    ),
    Case(
        "conv2d",
        lambda m, x, w: F(m).conv2d(x, w, groups=2),
        make=xs((2, 4, 5, 5), (6, 2, 3, 3)),
        note="groups",
    ),
    Case(
        "conv2d",
        lambda m, x, w: F(m).conv2d(x, w, groups=3, padding="same"),
        make=xs((1, 3, 5, 6), (3, 1, 4, 3)),
        note="depthwise-same-even-kernel",
    ),
    Case(
        "conv2d",
        lambda m, x, w: F(m).conv2d(x, w, padding="valid"),
        make=xs((3, 5, 5), (2, 3, 2, 2)),
        note="unbatched",
    ),
    Case(
        "conv1d",
        lambda m, x, w, b: F(m).conv1d(x, w, b, stride=2, padding=1),
        make=xs((2, 3, 9), (4, 3, 3), (4,)),
    ),
    Case(
        "conv1d",
        lambda m, x, w: F(m).conv1d(x, w, padding="same", dilation=2),
        make=xs((2, 2, 7), (3, 2, 3)),
        note="same-dilation",
    ),
    Case(
        "conv_transpose2d",
        lambda m, x, w, b: F(m).conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        make=xs((2, 3, 4, 3), (3, 2, 3, 3), (2,)),
    ),
    Case(
        "conv_transpose2d",
        lambda m, x, w: F(m).conv_transpose2d(x, w, groups=2, dilation=2),
        make=xs((1, 4, 3, 3), (4, 3, 2, 2)),
        note="groups-dilation",
    ),
    Case(
        "conv_transpose1d",
        lambda m, x, w: F(m).conv_transpose1d(x, w, stride=3),
        make=xs((2, 2, 4), (2, 3, 2)),
    ),
    Case("max_pool2d", lambda m, x: F(m).max_pool2d(x, 2), make=xs((2, 3, 6, 6))),
    Case(
        "max_pool2d",
        lambda m, x: F(m).max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        make=xs((1, 2, 7, 6)),
        note="overlap-pad-ceil",
    ),
    Case(
        "max_pool2d",
        lambda m, x: F(m).max_pool2d(x, 2, dilation=2),
        make=xs((1, 1, 7, 7)),
        note="dilation",
    ),
    Case(
        "max_pool2d",
        lambda m, x: F(m).max_pool2d(x, 2, return_indices=True),
        make=xs((1, 2, 4, 6)),
        note="indices",
    ),
    Case(
        "max_pool2d",
        lambda m, x: F(m).max_pool2d(x, 2),
        note="ties",
        make=lambda r: [r.integers(0, 2, (1, 2, 4, 4)).astype(float)],
        fd=False,
    ),
    Case("max_pool1d", lambda m, x: F(m).max_pool1d(x, 3, stride=2), make=xs((2, 3, 9))),
    Case("avg_pool2d", lambda m, x: F(m).avg_pool2d(x, 2), make=xs((2, 3, 6, 6))),
    Case(
        "avg_pool2d",
        lambda m, x: F(m).avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        make=xs((1, 2, 8, 7)),
        note="pad-ceil",
    ),
    Case(
        "avg_pool2d",
        lambda m, x: F(m).avg_pool2d(x, 3, 2, 1, True, False),
        make=xs((1, 2, 8, 7)),
        note="exclude-pad",
    ),
    Case(
        "avg_pool2d",
        lambda m, x: F(m).avg_pool2d(x, 2, divisor_override=3),
        make=xs((1, 2, 4, 4)),
        note="divisor",
    ),
    Case("avg_pool1d", lambda m, x: F(m).avg_pool1d(x, 2), make=xs((2, 3, 8))),
    Case(
        "adaptive_avg_pool2d",
        lambda m, x: F(m).adaptive_avg_pool2d(x, (3, 2)),
        make=xs((2, 3, 7, 5)),
    ),
    Case(
        "adaptive_avg_pool2d",
        lambda m, x: F(m).adaptive_avg_pool2d(x, 1),
        make=xs((2, 3, 4, 4)),
        note="global",
    ),
    Case("adaptive_avg_pool1d", lambda m, x: F(m).adaptive_avg_pool1d(x, 4), make=xs((2, 3, 10))),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torch_parity(case, dtype):
    check_case(case, dtype)


@pytest.mark.parametrize("case", [c for c in CASES if c.fd], ids=case_id)
def test_finite_differences(case):
    check_finite_differences(case)


def test_conv_errors_match_torch():
    x, w = cr.ones(1, 4, 5, 5), cr.ones(2, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[1, 4, 5, 5\] to have 3 channels"):
        cr.conv2d(x, w)
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D \\(batched\\) input"):
        cr.conv2d(cr.ones(5, 5), w)
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        cr.conv2d(cr.ones(1, 3, 5, 5), w, stride=2, padding="same")


def test_conv_large_batch_matches_torch():
    # a realistic 28x28 batch through a 3x3 conv agrees with torch to float64 precision
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((64, 8, 28, 28)), rng.standard_normal((16, 8, 3, 3))
    ours = cr.conv2d(cr.tensor(x), cr.tensor(w), padding=1).numpy()
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), padding=1).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)

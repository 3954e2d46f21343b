"""nn.utils against torch: clip_grad_norm_ / clip_grad_value_ / get_total_norm /
clip_grads_with_norm_, parameters_to_vector / vector_to_parameters."""

import warnings

import numpy as np
import pytest
import torch
from nn_twins import same_error

import chainrule as cr
from chainrule import nn
from chainrule.nn import utils

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]


def twin_params(dtype="float32", scale=1.0, missing=()):
    """The same parameters with the same gradients in both libraries (some without grad)."""
    rng = np.random.default_rng(0)
    cp, tp = [], []
    for i, s in enumerate(SHAPES):
        v = rng.standard_normal(s).astype(dtype)
        g = (rng.standard_normal(s) * scale).astype(dtype)
        c, t = nn.Parameter(cr.tensor(v)), torch.nn.Parameter(torch.tensor(v))
        if i not in missing:
            c.grad, t.grad = cr.tensor(g), torch.tensor(g)
        cp.append(c)
        tp.append(t)
    return cp, tp


def grads_close(cp, tp, rtol=1e-6):
    for c, t in zip(cp, tp):
        if t.grad is None:
            assert c.grad is None
        else:
            assert c.grad.dtype.name == str(t.grad.dtype).split(".")[1]
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=1e-7)


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, float("inf"), "inf", 0.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    cp, tp = twin_params(dtype, missing=(1,))
    c_total = utils.clip_grad_norm_(cp, max_norm, norm_type=norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type=norm_type)
    assert c_total.shape == () and c_total.dtype.name == dtype
    np.testing.assert_allclose(c_total.item(), t_total.item(), rtol=1e-6)
    grads_close(cp, tp)
    if max_norm == 1e6:  # clip coefficient clamped to exactly 1: gradients unchanged
        ref, _ = twin_params(dtype, missing=(1,))
        for a, b in zip(cp, ref):
            if a.grad is not None:
                np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_clip_grad_norm_scaling_is_torchs_exact_formula():
    p = nn.Parameter(cr.zeros(2))
    p.grad = cr.tensor([3.0, 4.0])
    total = utils.clip_grad_norm_(p, 1.0)  # a single tensor is accepted
    assert total.item() == 5.0
    coef = np.float32(1.0) / (np.float32(5.0) + np.float32(1e-6))
    np.testing.assert_array_equal(p.grad.numpy(), np.array([3.0, 4.0], np.float32) * coef)


def test_clip_grad_norm_edge_cases_like_torch():
    assert utils.clip_grad_norm_([], 1.0).item() == torch.nn.utils.clip_grad_norm_([], 1.0).item()
    assert utils.clip_grad_norm_([], 1.0).dtype == cr.float32
    cp, tp = twin_params(missing=(0, 1, 2, 3))
    assert utils.clip_grad_norm_(cp, 1.0).item() == 0.0
    with pytest.warns(UserWarning, match="`parameters` is an empty generator"):
        utils.clip_grad_norm_((p for p in []), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cp, _ = twin_params()
        utils.clip_grad_norm_((p for p in cp), 1.0)  # a non-empty generator is fine


def test_nonfinite_norm_error_and_scaling_like_torch():
    cp, tp = twin_params()
    cp[0].grad.numpy()[0, 0] = np.inf
    tp[0].grad[0, 0] = np.inf
    same_error(
        lambda: torch.nn.utils.clip_grad_norm_(tp, 1.0, error_if_nonfinite=True),
        lambda: utils.clip_grad_norm_(cp, 1.0, error_if_nonfinite=True),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inf * 0 in both
        c_total = utils.clip_grad_norm_(cp, 1.0)
        t_total = torch.nn.utils.clip_grad_norm_(tp, 1.0)
    assert c_total.item() == t_total.item() == np.inf
    grads_close(cp, tp)


def test_total_norm_and_clip_with_norm_separately():
    cp, tp = twin_params()
    ct = utils.get_total_norm([p.grad for p in cp], 3.0)
    tt = torch.nn.utils.get_total_norm([p.grad for p in tp], 3.0)
    np.testing.assert_allclose(ct.item(), tt.item(), rtol=1e-6)
    utils.clip_grads_with_norm_(cp, 0.1, ct)
    torch.nn.utils.clip_grads_with_norm_(tp, 0.1, tt)
    grads_close(cp, tp)


def test_deprecated_clip_grad_norm_warns():
    cp, _ = twin_params()
    with pytest.warns(FutureWarning, match="clip_grad_norm` is now deprecated"):
        utils.clip_grad_norm(cp, 1.0)


@pytest.mark.parametrize("clip", [0.5, 2, 0.0])
def test_clip_grad_value_matches_torch(clip):
    cp, tp = twin_params(scale=2.0, missing=(2,))
    assert utils.clip_grad_value_(cp, clip) is None
    torch.nn.utils.clip_grad_value_(tp, clip)
    grads_close(cp, tp)
    g = cp[0].grad
    utils.clip_grad_value_(cp[0], 0.1)  # in place, single tensor
    assert cp[0].grad is g and np.abs(g.numpy()).max() <= np.float32(0.1)


def test_parameters_to_vector_and_back_like_torch():
    cp, tp = twin_params(missing=(0, 1, 2, 3))
    cv = utils.parameters_to_vector(cp)
    tv = torch.nn.utils.parameters_to_vector(tp)
    np.testing.assert_array_equal(cv.detach().numpy(), tv.detach().numpy())
    assert cv.grad_fn is not None and cv.requires_grad  # differentiable, like torch's cat
    w = cr.tensor(np.random.default_rng(1).standard_normal(cv.shape[0]), dtype=cr.float32)
    (cv * w).sum().backward()
    offset = 0
    for p in cp:
        n = p.numel()
        np.testing.assert_array_equal(
            p.grad.numpy(), w.numpy()[offset : offset + n].reshape(p.shape)
        )
        offset += n
    new = cr.arange(float(cv.shape[0]))
    ids = [id(p) for p in cp]
    assert utils.vector_to_parameters(new, cp) is None
    torch.nn.utils.vector_to_parameters(torch.arange(float(tv.shape[0])), tp)
    assert [id(p) for p in cp] == ids
    for c, t in zip(cp, tp):
        assert c.shape == t.shape and isinstance(c, nn.Parameter) and c.requires_grad
        np.testing.assert_array_equal(c.detach().numpy(), t.detach().numpy())
    new.numpy()[0] = -1.0  # the parameters are views of the vector, as in torch
    assert cp[0][0, 0].item() == -1.0
    same_error(
        lambda: torch.nn.utils.vector_to_parameters([1.0], tp),
        lambda: utils.vector_to_parameters([1.0], cp),
    )


def test_clipping_bumps_gradient_versions_like_torch():
    cp, tp = twin_params()
    cv, tv = [p.grad._version for p in cp], [p.grad._version for p in tp]
    utils.clip_grad_norm_(cp, 0.1)
    torch.nn.utils.clip_grad_norm_(tp, 0.1)
    utils.clip_grad_value_(cp, 0.01)
    torch.nn.utils.clip_grad_value_(tp, 0.01)
    assert [p.grad._version - v for p, v in zip(cp, cv)] == [
        p.grad._version - v for p, v in zip(tp, tv)
    ]


@pytest.mark.parametrize("foreach", [None, False])
@pytest.mark.parametrize("params", ["no gradients", "empty list"])
def test_clip_grad_value_with_no_gradient_raises_as_torch(params, foreach):
    """torch's clip_grad_value_ fails a check of its gradient grouping when no parameter
    has a gradient (either path); chainrule raises the same error type and words."""
    msgs = []
    for m in (torch, cr):
        ps = [] if params == "empty list" else list(m.nn.Linear(2, 2).parameters())
        with pytest.raises(RuntimeError, match=r"Expected !nested_tensorlist\[0\].empty\(\)") as e:
            m.nn.utils.clip_grad_value_(ps, 0.25, foreach=foreach)
        msgs.append(str(e.value)[:60])
    assert msgs[0] == msgs[1]

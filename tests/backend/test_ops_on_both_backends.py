"""The ops that call kernels, through the tensor API, on each backend: forward values and
gradients against torch on the same inputs, and the double backward (create_graph) that
the fused backward nodes keep."""

import numpy as np
import pytest
import torch

import chainrule as cr

DTYPES = [np.float32, np.float64]


def _pair(shape, dtype, seed=0):
    a = (np.random.default_rng(seed).standard_normal(shape) * 2).astype(dtype)
    return cr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


OPS = {
    "gelu": lambda lib, x: lib.nn.functional.gelu(x),
    "gelu_tanh": lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"),
    "silu": lambda lib, x: lib.nn.functional.silu(x),
    "sigmoid": lambda lib, x: lib.sigmoid(x),
    "tanh": lambda lib, x: lib.tanh(x),
    "softmax": lambda lib, x: lib.softmax(x, -1),
    "softmax_dim0": lambda lib, x: lib.softmax(x, 0),
    "log_softmax": lambda lib, x: lib.log_softmax(x, -1),
    "log_softmax_t": lambda lib, x: lib.log_softmax(x.transpose(0, 1), -1),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPS))
def test_op_and_gradients_match_torch(backend_name, name, dtype):
    f = OPS[name]
    (xc, xt), (gc, gt) = _pair((24, 40), dtype), _pair((24, 40), dtype, seed=1)
    if name == "log_softmax_t":
        gc, gt = _pair((40, 24), dtype, seed=1)
    yc, yt = f(cr, xc), f(torch, xt)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(yc.detach().numpy(), yt.detach().numpy(), **tol)
    (dc,) = cr.autograd.grad(yc, xc, gc.detach(), create_graph=True)
    (dt,) = torch.autograd.grad(yt, xt, gt.detach(), create_graph=True)
    np.testing.assert_allclose(dc.detach().numpy(), dt.detach().numpy(), **tol)
    # second order: d/dx of <d, h> (float32: torch rounds 1 - y*y and the like its own way)
    hc, ht = _pair((24, 40), dtype, seed=2)
    (ddc,) = cr.autograd.grad((dc * hc.detach()).sum(), xc)
    (ddt,) = torch.autograd.grad((dt * ht.detach()).sum(), xt)
    tol2 = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else tol
    np.testing.assert_allclose(ddc.numpy(), ddt.numpy(), **tol2)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_backward_reads_the_input_values_now(backend_name, approximate):
    """torch recomputes gelu' from the saved input: a write through .data before backward
    changes the gradient (the op must not cache its forward's intermediate)."""
    xc, xt = _pair((50,), np.float32)
    yc, yt = (
        cr.nn.functional.gelu(xc, approximate=approximate),
        torch.nn.functional.gelu(xt, approximate=approximate),
    )
    xc.data.mul_(0.5)
    xt.data.mul_(0.5)
    yc.sum().backward()
    yt.sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-6)

"""Memory layout of op results as torch's (issue 10, #14): elementwise ops follow their
inputs' strides (TensorIterator), every other op gives a contiguous result, clone/to/
*_like keep a non-contiguous input's layout (preserve_format). So ``view`` raises exactly
where torch raises and ``flatten``/``reshape`` alias exactly where torch aliases. Every
program runs under torch and chainrule.

Strides of size-1 dims are not compared: torch and NumPy choose them differently (for
keepdim reductions, unsqueeze), and they change neither contiguity nor which views exist.
"""

import numpy as np
import pytest
import torch

import chainrule as cr

_RNG = np.random.default_rng(0)
A2 = _RNG.standard_normal((4, 6)).astype(np.float32)
A3 = _RNG.standard_normal((4, 3, 5)).astype(np.float32)
A4 = _RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)

INPUTS = {
    "contiguous2": lambda m: m.tensor(A2),
    "t": lambda m: m.tensor(A2).t(),
    "sliced": lambda m: m.tensor(A2)[:, ::2],
    "t_sliced": lambda m: m.tensor(A2).t()[::2],
    "expanded": lambda m: m.tensor(A2[:1]).expand(4, 6),
    "contiguous3": lambda m: m.tensor(A3),
    "permuted3": lambda m: m.tensor(A3).permute(2, 0, 1),
    "transposed3": lambda m: m.tensor(A3).transpose(1, 2),
    "contiguous4": lambda m: m.tensor(A4),
    "permuted4": lambda m: m.tensor(A4).permute(0, 2, 3, 1),
    "transposed4": lambda m: m.tensor(A4).transpose(2, 3),
}


def _f(m):
    return m.nn.functional


OPS = {  # name: (op, input ranks it applies to)
    "neg": (lambda m, x: -x, None),
    "add_scalar": (lambda m, x: x + 1, None),
    "exp": (lambda m, x: x.exp(), None),
    "relu": (lambda m, x: x.relu(), None),
    "mul_self": (lambda m, x: x * x, None),
    "add_contiguous": (lambda m, x: x + x.contiguous(), None),
    "contiguous_add": (lambda m, x: x.contiguous() + x, None),
    "add_broadcast": (lambda m, x: x + x[..., :1], None),
    "sigmoid": (lambda m, x: x.sigmoid(), None),
    "gt": (lambda m, x: x > 0, None),
    "where": (lambda m, x: m.where(x > 0, x, 0.0), None),
    "clamp": (lambda m, x: x.clamp(-0.5, 0.5), None),
    "double": (lambda m, x: x.double(), None),
    "to_float64": (lambda m, x: x.to(m.float64), None),
    "clone": (lambda m, x: x.clone(), None),
    "clone_contiguous": (lambda m, x: x.clone(memory_format=m.contiguous_format), None),
    "pow": (lambda m, x: x**2, None),
    "leaky_relu": (lambda m, x: _f(m).leaky_relu(x), None),
    "gelu": (lambda m, x: _f(m).gelu(x), None),
    "silu": (lambda m, x: _f(m).silu(x), None),
    "hardtanh": (lambda m, x: _f(m).hardtanh(x), None),
    "elu": (lambda m, x: _f(m).elu(x), None),
    "softplus": (lambda m, x: _f(m).softplus(x), None),
    "tanh": (lambda m, x: x.tanh(), None),
    "abs": (lambda m, x: x.abs(), None),
    "maximum": (lambda m, x: m.maximum(x, x.contiguous()), None),
    "lerp": (lambda m, x: m.lerp(x, x.contiguous(), 0.3), None),
    "mse_none": (lambda m, x: _f(m).mse_loss(x, x.contiguous(), reduction="none"), None),
    "masked_fill": (lambda m, x: x.masked_fill(x > 0, 1.0), None),
    "flip": (lambda m, x: x.flip(0), None),
    "sort": (lambda m, x: x.sort(-1).values, None),
    "topk": (lambda m, x: x.topk(2).values, None),
    "sum0": (lambda m, x: x.sum(0), None),
    "sum_last": (lambda m, x: x.sum(-1), None),
    "sum_keepdim": (lambda m, x: x.sum(1, keepdim=True), None),
    "mean0": (lambda m, x: x.mean(0), None),
    "amax": (lambda m, x: x.amax(-1), None),
    "max_dim": (lambda m, x: x.max(-1).values, None),
    "std0": (lambda m, x: x.std(0), None),
    "var_last": (lambda m, x: x.var(-1), None),
    "norm": (lambda m, x: x.norm(dim=-1), None),
    "logsumexp": (lambda m, x: x.logsumexp(-1), None),
    "prod0": (lambda m, x: x.prod(0), None),
    "cumsum": (lambda m, x: x.cumsum(0), None),
    "cumprod": (lambda m, x: x.cumprod(-1), None),
    "softmax_last": (lambda m, x: x.softmax(-1), None),
    "softmax0": (lambda m, x: x.softmax(0), None),
    "log_softmax": (lambda m, x: _f(m).log_softmax(x, -1), None),
    "matmul": (lambda m, x: x @ x.transpose(-1, -2), None),
    "matmul_t": (lambda m, x: x.transpose(-1, -2) @ x, None),
    "cat0": (lambda m, x: m.cat([x, x], 0), None),
    "cat_last": (lambda m, x: m.cat([x, x], -1), None),
    "stack": (lambda m, x: m.stack([x, x]), None),
    "layer_norm": (lambda m, x: _f(m).layer_norm(x, x.shape[-1:]), None),
    "roll": (lambda m, x: x.roll(1, 0), None),
    "tril": (lambda m, x: x.tril(), None),
    "triu": (lambda m, x: x.triu(), None),
    "index_select": (lambda m, x: x.index_select(0, m.tensor([0, 1])), None),
    "gather": (lambda m, x: x.gather(0, m.zeros_like(x, dtype=m.int64)), None),
    "masked_select": (lambda m, x: x[x > 0], None),
    "zeros_like": (lambda m, x: m.zeros_like(x), None),
    "ones_like": (lambda m, x: m.ones_like(x), None),
    "full_like": (lambda m, x: m.full_like(x, 2.0), None),
    "empty_like": (lambda m, x: m.empty_like(x), None),
    "rand_like": (lambda m, x: m.rand_like(x), None),
    "zeros_like_contiguous": (
        lambda m, x: m.zeros_like(x, memory_format=m.contiguous_format),
        None,
    ),
    "normalize": (lambda m, x: _f(m).normalize(x, dim=-1), None),
    "dropout_eval": (lambda m, x: _f(m).dropout(x, 0.5, training=False), None),
    "conv2d": (lambda m, x: _f(m).conv2d(x[:, :3], m.ones(2, min(3, x.shape[1]), 2, 2)), {4}),
    "batch_norm2d_train": (lambda m, x: m.nn.BatchNorm2d(x.shape[1])(x), {4}),
    "batch_norm2d_eval": (lambda m, x: m.nn.BatchNorm2d(x.shape[1]).eval()(x), {4}),
    "max_pool2d": (lambda m, x: _f(m).max_pool2d(x, 2), {4}),
    "avg_pool2d": (lambda m, x: _f(m).avg_pool2d(x, 2), {4}),
    "adaptive_avg_pool2d": (lambda m, x: _f(m).adaptive_avg_pool2d(x, 1), {4}),
    "group_norm": (lambda m, x: _f(m).group_norm(x, 1), {4}),
    "pad": (lambda m, x: _f(m).pad(x, (1, 1)), {4}),
    "conv_transpose2d": (lambda m, x: _f(m).conv_transpose2d(x, m.ones(x.shape[1], 2, 2, 2)), {4}),
    "batch_norm1d_train": (lambda m, x: m.nn.BatchNorm1d(x.shape[1])(x), {2, 3}),
    "batch_norm1d_eval": (lambda m, x: m.nn.BatchNorm1d(x.shape[1]).eval()(x), {2, 3}),
    "conv1d": (lambda m, x: _f(m).conv1d(x, m.ones(2, x.shape[1], 2)), {3}),
    "max_pool1d": (lambda m, x: _f(m).max_pool1d(x, 2), {3}),
    "linear": (lambda m, x: _f(m).linear(x, m.ones(7, x.shape[-1]), m.ones(7)), None),
    "bmm": (lambda m, x: m.bmm(x, x.transpose(1, 2)), {3}),
    "mm": (lambda m, x: x.mm(x.t()), {2}),
    "cross_entropy": (
        lambda m, x: _f(m).cross_entropy(x, m.zeros(len(x), dtype=m.int64), reduction="none"),
        {2},
    ),
    "embedding": (lambda m, x: _f(m).embedding(m.tensor([[0, 1], [1, 2]]), x), {2}),
}


def _layout(y):
    shape = tuple(y.shape)
    strides = tuple(s for s, n in zip(y.stride(), shape) if n != 1)
    return shape, strides, y.is_contiguous()


def _run(m, op, inp):
    m.manual_seed(0)
    x = INPUTS[inp](m)
    f, ranks = OPS[op]
    if ranks is not None and x.dim() not in ranks:
        return "skip"
    with m.no_grad():
        return _layout(f(m, x))


@pytest.mark.parametrize("inp", list(INPUTS))
@pytest.mark.parametrize("op", list(OPS))
def test_result_strides(op, inp):
    expected = _run(torch, op, inp)
    if expected == "skip":
        pytest.skip("rank")
    assert _run(cr, op, inp) == expected


@pytest.mark.parametrize("inp", list(INPUTS))
@pytest.mark.parametrize("op", ["exp", "add_contiguous", "mul_self", "conv2d", "layer_norm",
                                "batch_norm2d_train", "softmax_last", "cat0", "sum0"])  # fmt: skip
def test_gradient_path_layout(op, inp):
    """The same ops recording a graph (the forward of a training step)."""

    def run(m):
        x = INPUTS[inp](m).detach().requires_grad_()
        f, ranks = OPS[op]
        if ranks is not None and x.dim() not in ranks:
            return "skip"
        m.manual_seed(0)
        return _layout(f(m, x))

    expected = run(torch)
    if expected == "skip":
        pytest.skip("rank")
    assert run(cr) == expected


# ------------------------------------------------------------- view raises, flatten aliases


def _aliases(m, a, b):
    if m is torch:
        return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()
    return bool(np.shares_memory(a._data, b._data))


def _view_and_flatten(m, y, *shape):
    out = {"contiguous": y.is_contiguous()}
    try:
        out["view"] = tuple(y.view(*shape).shape)
    except RuntimeError as e:
        out["view"] = str(e)
    out["flatten_aliases"] = _aliases(m, y.flatten(1), y)
    out["reshape_aliases"] = _aliases(m, y.reshape(*shape), y)
    return out


PROGRAMS = {
    "conv2d": lambda m: m.nn.Conv2d(3, 2, 3)(m.tensor(A4)),
    "conv2d_transposed_input": lambda m: m.nn.Conv2d(3, 2, 2)(m.tensor(A4).transpose(2, 3)),
    "batchnorm2d": lambda m: m.nn.BatchNorm2d(3)(m.tensor(A4).transpose(2, 3)),
    "batchnorm2d_eval": lambda m: m.nn.BatchNorm2d(3).eval()(m.tensor(A4).transpose(2, 3)),
    "batchnorm1d": lambda m: m.nn.BatchNorm1d(5)(m.tensor(A3).transpose(1, 2)),
    "batchnorm1d_2d": lambda m: m.nn.BatchNorm1d(4)(m.tensor(A2).t()),
    "layernorm": lambda m: m.nn.LayerNorm(5)(m.tensor(A3.transpose(0, 2, 1).copy()).mT),
    "t_plus_1": lambda m: m.tensor(A2).t() + 1,
    "t_exp": lambda m: m.tensor(A2).t().exp(),
    "permute_relu": lambda m: m.tensor(A4).permute(0, 2, 3, 1).relu(),
    "permute_mul": lambda m: m.tensor(A4).permute(0, 2, 3, 1) * 2,
    "contiguous_plus_t": lambda m: m.tensor(A2.T.copy()) + m.tensor(A2).t(),
    "t_plus_contiguous": lambda m: m.tensor(A2).t() + m.tensor(A2.T.copy()),
    "softmax_of_t": lambda m: m.tensor(A2).t().softmax(-1),
    "sum_of_permuted": lambda m: m.tensor(A4).permute(0, 2, 3, 1).sum(1),
    "clone_of_t": lambda m: m.tensor(A2).t().clone(),
    "maxpool_of_permuted": lambda m: m.nn.MaxPool2d(2)(m.tensor(A4).permute(0, 1, 3, 2)),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_view_raises_and_flatten_aliases_as_torch(name):
    def run(m):
        m.manual_seed(0)
        y = PROGRAMS[name](m)
        return _view_and_flatten(m, y, -1)

    assert run(cr) == run(torch)


def test_view_error_text():
    x = cr.tensor(A2).t() + 1
    with pytest.raises(RuntimeError) as e:
        x.view(-1)
    with pytest.raises(RuntimeError) as t:
        (torch.tensor(A2).t() + 1).view(-1)
    assert str(e.value) == str(t.value)


# ----------------------------------------------------------------------- memory format API


def _nhwc(m):  # channels_last strides, as torch's contiguous(memory_format=channels_last)
    return m.tensor(A4.transpose(0, 2, 3, 1).copy()).permute(0, 3, 1, 2)


def _ndhwc(m):
    return m.zeros(1, 1, 3, 4, 2).permute(0, 4, 1, 2, 3)


def _t(m):
    return m.tensor(A2).t()


def _c(m):
    return m.contiguous_format


def test_memory_format_api():
    for m in (torch, cr):
        x = m.tensor(A4)
        assert x.contiguous() is x
        assert x.contiguous(memory_format=m.contiguous_format) is x
        assert x.is_contiguous(memory_format=m.contiguous_format)
        assert x.stride(1) == 20 and x.stride(-1) == 1
    for name, f in {
        "cl_of_contiguous": lambda m: m.tensor(A4).is_contiguous(memory_format=m.channels_last),
        "cl_of_permuted": lambda m: _nhwc(m).is_contiguous(memory_format=m.channels_last),
        "cl_of_permuted_as_contiguous": lambda m: _nhwc(m).is_contiguous(),
        "cl_of_2d": lambda m: m.tensor(A2).is_contiguous(memory_format=m.channels_last),
        "cl3d_of_5d": lambda m: _ndhwc(m).is_contiguous(memory_format=m.channels_last_3d),
        "t_is_contiguous": lambda m: m.tensor(A2).t().is_contiguous(),
        "size1_is_contiguous": lambda m: m.tensor(A2)[:1].t().is_contiguous(),
        "empty_strides": lambda m: m.zeros(2, 0, 3).stride(),
        "unsqueezed_strides": lambda m: m.tensor(A2)[:, None].stride(),
        "to_contiguous_no_copy": lambda m: _t(m).to(memory_format=m.contiguous_format).stride(),
        "to_contiguous_copy": lambda m: _t(m).to(m.float64, memory_format=_c(m)).stride(),
        "to_copy": lambda m: _t(m).to(copy=True, memory_format=_c(m)).stride(),
        "to_copy_preserve": lambda m: m.tensor(A2).t().to(copy=True).stride(),
        "stride_out_of_range": lambda m: m.tensor(A2).stride(2),
    }.items():

        def outcome(m, f=f):
            try:
                return f(m)
            except IndexError as e:
                return str(e)

        assert outcome(cr) == outcome(torch), name


def test_channels_last_layouts_are_refused_clearly():
    """torch lays tensors out channels_last on request; chainrule does not (documented)."""
    x = cr.tensor(A4)
    for make in (
        lambda: x.contiguous(memory_format=cr.channels_last),
        lambda: x.clone(memory_format=cr.channels_last),
        lambda: x.to(cr.float64, memory_format=cr.channels_last),
        lambda: cr.zeros_like(x, memory_format=cr.channels_last),
    ):
        with pytest.raises(NotImplementedError, match="channels_last"):
            make()
    assert repr(cr.channels_last) == "chainrule.channels_last"

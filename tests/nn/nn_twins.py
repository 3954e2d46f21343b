"""Twin module trees for the nn tests: the same small modules in chainrule and in torch."""

import math
import re
from collections import OrderedDict

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


class Linear(nn.Module):
    """A test-only twin of torch.nn.Linear (same names, init bounds and repr)."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(cr.empty(out_features, in_features))
        if bias:
            self.bias = nn.Parameter(cr.empty(out_features))
        else:
            self.register_parameter("bias", None)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            bound = 1 / math.sqrt(in_features)
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        out = x @ self.weight.T
        return out if self.bias is None else out + self.bias

    def extra_repr(self):
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Tanh(nn.Module):
    def forward(self, x):
        return x.tanh()


def make_net(lib):
    """The same tree in either library: lists, dicts, nesting, a shared submodule, buffers."""
    m = torch.nn if lib is torch else nn
    lin = torch.nn.Linear if lib is torch else Linear
    tanh = torch.nn.Tanh if lib is torch else Tanh
    t = torch if lib is torch else cr

    class Net(m.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lin(3, 4)
            self.blocks = m.ModuleList([lin(4, 4), tanh(), lin(4, 4)])
            self.heads = m.ModuleDict(
                {"a": lin(4, 2), "b": m.Sequential(lin(4, 4), tanh(), lin(4, 1, bias=False))}
            )
            self.scale = m.Parameter(t.ones(1))
            self.register_buffer("running", t.zeros(4))
            self.register_buffer("tmp", t.zeros(1), persistent=False)
            self.register_buffer("absent", None)
            self.shared = self.fc1  # the same module under two names
            self.plist = m.ParameterList([t.ones(2), t.zeros(3)])
            self.pdict = m.ParameterDict(OrderedDict(x=t.ones(1), y=t.ones(2, 2)))
            self.seq = m.Sequential(OrderedDict(first=lin(4, 4), act=tanh()))

        def forward(self, x):
            x = self.fc1(x)
            for b in self.blocks:
                x = b(x)
            x = self.seq(x)
            return self.heads["a"](x) * self.scale, self.heads["b"](x)

    return Net()


def copy_weights(cr_module, torch_module):
    """Load torch's parameters and buffers into the chainrule twin."""
    sd = {k: cr.tensor(v.detach().numpy()) for k, v in torch_module.state_dict().items()}
    return cr_module.load_state_dict(sd)


def adapt(msg):
    """torch's message with chainrule's names."""
    msg = msg.replace("torch.nn.modules.", "chainrule.nn.")  # torch.nn.modules.container
    msg = msg.replace("torch.nn.", "chainrule.nn.").replace("torch.", "chainrule.")
    return msg.replace("torch Tensor", "chainrule Tensor")


def same_error(torch_fn, cr_fn):
    """Both raise the same exception type with the same (adapted) message."""
    with pytest.raises(Exception) as te:
        torch_fn()
    with pytest.raises(type(te.value), match=re.escape(adapt(str(te.value)))) as ce:
        cr_fn()
    assert adapt(str(te.value)) == str(ce.value)


def close(a, b, **kw):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), **kw)

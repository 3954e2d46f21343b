"""torch's legacy constructors, Variable, Tensor.type, torch.accelerator, default devices and
torch.onnx: what old and new torch programs call first, answered as torch's CPU build."""

import pytest
import torch

import chainrule as cr


def outcome(fn, m):
    try:
        r = fn(m)
    except Exception as e:
        return type(e).__name__, str(e).split("\n")[0]
    if isinstance(r, cr.Tensor | torch.Tensor):
        return "tensor", str(r.dtype).split(".")[-1], tuple(r.shape), r.requires_grad
    return repr(r).replace("torch", "chainrule")


CONSTRUCTORS = [
    lambda m: m.LongTensor([1, 2]),
    lambda m: m.FloatTensor([[1, 2]]),
    lambda m: m.DoubleTensor(2, 3),
    lambda m: m.IntTensor(m.Size([4])),
    lambda m: m.ByteTensor([1, 2]),
    lambda m: m.BoolTensor([1, 0]),
    lambda m: m.ShortTensor(3),
    lambda m: m.CharTensor([-1]),
    lambda m: m.FloatTensor(),
    lambda m: m.FloatTensor(m.ones(2)),
    lambda m: m.Tensor(),
    lambda m: m.Tensor(2, 3),
    lambda m: isinstance(m.ones(1), m.FloatTensor),
    lambda m: isinstance(m.ones(1, dtype=m.int64), m.FloatTensor),
    lambda m: isinstance(m.ones(1, dtype=m.int64), m.LongTensor),
    lambda m: m.ones(2).type(),
    lambda m: m.ones(2, dtype=m.int64).type(),
    lambda m: m.ones(2).type("torch.IntTensor"),
    lambda m: m.ones(2).type(m.LongTensor),
    lambda m: m.ones(2).type(m.float64),
    lambda m: m.autograd.Variable(m.ones(2)),
    lambda m: m.autograd.Variable(m.ones(2), requires_grad=True),
    lambda m: m.autograd.Variable(m.ones(2, requires_grad=True) * 2),
    lambda m: isinstance(m.ones(2), m.autograd.Variable),
]


@pytest.mark.parametrize("k", range(len(CONSTRUCTORS)))
def test_legacy_constructors_as_torch(k):
    assert outcome(CONSTRUCTORS[k], cr) == outcome(CONSTRUCTORS[k], torch)


def test_legacy_values_and_memory():
    assert cr.LongTensor([1, 2]).tolist() == torch.LongTensor([1, 2]).tolist()
    x = cr.ones(2)
    v = cr.autograd.Variable(x, requires_grad=True)
    assert v is not x and v.is_leaf and not x.requires_grad
    v.data.mul_(3)  # shares x's memory, as torch's Variable(x)
    assert x.tolist() == [3.0, 3.0]


DEVICE_CALLS = [
    lambda m: m.accelerator.is_available(),
    lambda m: m.accelerator.current_accelerator(),
    lambda m: m.accelerator.current_accelerator(check_available=True),
    lambda m: m.accelerator.device_count(),
    lambda m: m.accelerator.current_device_index(),
    lambda m: m.accelerator.synchronize(),
    lambda m: m.accelerator.current_stream(),
    lambda m: m.accelerator.set_device_index(0),
    lambda m: m.get_default_device(),
    lambda m: (m.set_default_device("cpu"), m.get_default_device())[1],
    lambda m: (m.set_default_device(None), m.get_default_device())[1],
    lambda m: (m.set_default_device(m.device("cpu")), m.ones(1).device)[1],
]


@pytest.mark.parametrize("k", range(len(DEVICE_CALLS)))
def test_accelerator_and_default_device_as_torch_cpu_build(k):
    assert outcome(DEVICE_CALLS[k], cr) == outcome(DEVICE_CALLS[k], torch)


def test_the_official_examples_device_preamble_runs():
    device = cr.accelerator.current_accelerator().type if cr.accelerator.is_available() else "cpu"
    cr.set_default_device(device)
    with cr.device(device):
        x = cr.ones(2)
    assert x.device == cr.device("cpu")


def test_other_devices_are_refused_clearly():
    with pytest.raises(RuntimeError, match="CPU only; cannot use device 'cuda'"):
        cr.set_default_device("cuda")
    with pytest.raises(RuntimeError, match="CPU only"), cr.device("cuda"):
        pass


def test_onnx_imports_and_export_says_not_implemented():
    import chainrule.onnx

    assert chainrule.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export()
    with pytest.raises(NotImplementedError, match="torch.onnx.export"):
        chainrule.onnx.export(cr.nn.Linear(2, 2), (cr.ones(1, 2),), "m.onnx")

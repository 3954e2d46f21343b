"""Big checkpoints: ``load(..., mmap=True)`` (tensors on the mapped file, no copy),
``chainrule.safetensors`` (safe_open's lazy access by key, and safetensors.torch's
functions) checked against the safetensors package and torch on the same files, and
``load_state_dict(..., assign=True)`` as torch."""

import io
import mmap

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

import chainrule as cr
import chainrule.safetensors as cst
from chainrule import nn


def _mapped(t):
    """Whether tensor ``t``'s memory is a mapped file (its array's base chain ends there)."""
    a = t.numpy() if not t.requires_grad else t.detach().numpy()
    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(a, memoryview) and isinstance(a.obj, mmap.mmap)


def _torch_file(tmp_path, name="t.safetensors", metadata=None):
    torch.manual_seed(0)
    sd = {
        "w": torch.randn(4, 3),
        "b": torch.randn(3, dtype=torch.float64),
        "steps": torch.tensor(7),
        "mask": torch.tensor([True, False, True]),
        "h": torch.randn(2, 2).half(),
        "empty": torch.zeros(0, 5, dtype=torch.int16),
        "c": torch.randn(2, dtype=torch.complex64),
    }
    path = tmp_path / name
    safetensors.torch.save_file(sd, path, metadata=metadata)
    return path, sd


def _same(c, t):
    assert c.dtype.name == str(t.dtype).split(".")[1] and tuple(c.shape) == tuple(t.shape)
    assert c.numpy().tobytes() == t.numpy().tobytes()


# --------------------------------------------------------------------------- mmap


def test_mmap_load_maps_the_file_and_copies_nothing(tmp_path):
    path, sd = _torch_file(tmp_path)
    back = cr.load(path, mmap=True)
    assert list(back) == list(safetensors.torch.load_file(path))
    for k, v in sd.items():
        _same(back[k], v)
        assert _mapped(back[k]) == (v.numel() > 0)  # an empty tensor has no memory to map
    plain = cr.load(path)
    assert not any(_mapped(t) for t in plain.values())
    # private pages (torch's MAP_PRIVATE default): writing a loaded tensor never changes
    # the file, and the tensor does see its own write
    before = path.read_bytes()
    back["w"].add_(1.0)
    back["w"][0, 0] = 100.0
    assert path.read_bytes() == before
    assert back["w"][0, 0].item() == 100.0
    assert np.allclose(back["w"].numpy()[1:], sd["w"].numpy()[1:] + 1)


def test_mmap_load_of_nested_state_and_what_torch_refuses(tmp_path):
    m = nn.Linear(3, 2)
    opt = cr.optim.Adam(m.parameters())
    m(cr.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "opt.safetensors"
    cr.save(opt.state_dict(), path)
    back = cr.load(path, mmap=True)
    assert _mapped(back["state"][0]["exp_avg"])
    np.testing.assert_array_equal(
        back["state"][0]["exp_avg"].numpy(), opt.state_dict()["state"][0]["exp_avg"].numpy()
    )
    # mmap needs a path, with torch's message
    buf = io.BytesIO()
    torch.save({"w": torch.ones(2)}, buf)
    with pytest.raises(ValueError) as t_err:
        torch.load(io.BytesIO(buf.getvalue()), mmap=True)
    with pytest.raises(ValueError) as c_err:
        cr.load(io.BytesIO(path.read_bytes()), mmap=True)
    assert str(c_err.value) == str(t_err.value)
    # a corrupt file is still refused when mapped
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:-4])
    with pytest.raises(RuntimeError, match="not a valid chainrule/safetensors file: .*truncated"):
        cr.load(bad, mmap=True)


def test_assign_keeps_the_mapped_tensors_as_parameters(tmp_path):
    cr.manual_seed(0)
    src = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    path = tmp_path / "m.safetensors"
    cr.save(src.state_dict(), path)
    dst = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert repr(dst.load_state_dict(cr.load(path, mmap=True), assign=True)) == (
        "<All keys matched successfully>"
    )
    for k, v in dst.state_dict().items():
        assert _mapped(v), k
        np.testing.assert_array_equal(v.numpy(), src.state_dict()[k].numpy())
    assert isinstance(dst[0].weight, nn.Parameter) and dst[0].weight.requires_grad
    # a training step writes into the private pages, not the file
    before = path.read_bytes()
    opt = cr.optim.SGD(dst.parameters(), lr=0.1)
    dst(cr.randn(5, 3)).sum().backward()
    opt.step()
    assert path.read_bytes() == before
    # assign=False copies into the existing parameters: nothing stays on the mapping
    dst2 = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    dst2.load_state_dict(cr.load(path, mmap=True))
    assert not any(_mapped(v) for v in dst2.state_dict().values())


def test_load_state_dict_assign_as_torch():
    for lib, mod in ((torch, torch.nn), (cr, nn)):
        lib.manual_seed(0)
        lin = mod.Linear(2, 3)
        lin.bias.requires_grad_(False)
        w = mod.Parameter(lib.ones(3, 2), requires_grad=False)  # a Parameter is kept
        b = lib.zeros(3, dtype=lib.float64)  # a plain tensor is wrapped; its dtype kept
        res = lin.load_state_dict({"weight": w, "bias": b}, assign=True)
        assert repr(res) == "<All keys matched successfully>"
        assert lin.weight is w and lin.weight.requires_grad  # the module's flag wins
        assert type(lin.bias) is mod.Parameter and not lin.bias.requires_grad
        assert lin.bias.dtype == lib.float64
        assert np.shares_memory(lin.bias.detach().numpy(), b.numpy())
        bn = mod.BatchNorm1d(3)
        rm = lib.full((3,), 2.0)
        bn.load_state_dict({**bn.state_dict(), "running_mean": rm}, assign=True)
        assert bn.running_mean is rm and type(bn.running_mean) is type(rm)
        # shapes are still checked, with torch's message
        with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param"):
            lin.load_state_dict({"weight": lib.ones(2, 2), "bias": b}, assign=True)


# --------------------------------------------------------------------------- safe_open


def test_safe_open_reads_lazily_as_the_safetensors_package(tmp_path):
    path, sd = _torch_file(tmp_path, metadata={"format": "pt", "note": "é"})
    with safetensors.safe_open(path, framework="pt") as t, cst.safe_open(path, "pt") as c:
        assert c.keys() == t.keys()
        assert c.offset_keys() == t.offset_keys()
        assert c.metadata() == t.metadata() == {"format": "pt", "note": "é"}
        for k in t.keys():
            _same(c.get_tensor(k), t.get_tensor(k))
            ts, cs = t.get_slice(k), c.get_slice(k)
            assert cs.get_shape() == ts.get_shape() and cs.get_dtype() == ts.get_dtype()
            if ts.get_shape() and ts.get_shape()[0] > 1:
                for key in (slice(1, None), slice(None, None, 2), 0, (slice(None), ...)):
                    _same(cs[key], ts[key])
        with pytest.raises(safetensors.SafetensorError, match="File does not contain tensor z"):
            c.get_tensor("z")
        with pytest.raises(safetensors.SafetensorError, match="File does not contain tensor z"):
            t.get_tensor("z")
        got = c.get_tensor("w")
        got[0, 0] = 5.0  # a tensor of its own: writable, the file unchanged
    with pytest.raises(safetensors.SafetensorError):
        c.get_tensor("w")  # closed
    assert cst.load_file(path)["w"][0, 0].item() == sd["w"][0, 0].item()
    with cst.safe_open(path, framework="numpy") as n:
        a = n.get_tensor("b")
        assert isinstance(a, np.ndarray) and a.tobytes() == sd["b"].numpy().tobytes()
    with pytest.raises(safetensors.SafetensorError, match="framework tf is invalid"):
        cst.safe_open(path, framework="tf")
    with pytest.raises(FileNotFoundError):
        cst.safe_open(tmp_path / "missing.safetensors", framework="pt")
    with pytest.raises(RuntimeError, match="CPU only"):
        cst.safe_open(path, framework="pt", device="cuda")
    # no metadata: None, as safetensors says
    safetensors.torch.save_file({"x": torch.ones(1)}, tmp_path / "n.safetensors")
    with cst.safe_open(tmp_path / "n.safetensors", "pt") as c:
        assert c.metadata() is None


def test_safe_open_reads_only_what_is_asked(tmp_path, monkeypatch):
    # a slice of a large tensor reads only the pages it covers: its values come out right
    # even when the rest of the file is unreadable garbage past the header's checks
    path = tmp_path / "big.safetensors"
    big = torch.arange(1 << 20, dtype=torch.float32).reshape(1024, 1024)
    safetensors.torch.save_file({"big": big, "small": torch.ones(3)}, path)
    with cst.safe_open(path, "pt") as c:
        _same(c.get_slice("big")[5:7, 100:103], big[5:7, 100:103])
        _same(c.get_tensor("small"), torch.ones(3))
        reads = []
        real = c._live().array
        monkeypatch.setattr(c._live(), "array", lambda k: reads.append(k) or real(k))
        c.get_tensor("small")
        assert reads == ["small"]


def test_safetensors_torch_functions_write_the_same_bytes(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "z": rng.standard_normal((3, 4)).astype(np.float32),
        "a": rng.integers(-5, 5, (2, 0, 2)).astype(np.int64),
        "mid": np.array(3.5, dtype=np.float64),
        "é": rng.integers(0, 2, 5).astype(bool),
        "h": rng.standard_normal(6).astype(np.float16),
        "c": (rng.standard_normal(2) + 1j).astype(np.complex64),
        "u": rng.integers(0, 255, 7).astype(np.uint8),
    }
    meta = {"format": "pt"}
    tt = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
    ct = {k: cr.tensor(v) for k, v in arrays.items()}
    assert cst.save(ct, metadata=meta) == safetensors.torch.save(tt, metadata=meta)
    assert cst.save(ct) == safetensors.torch.save(tt)
    safetensors.torch.save_file(tt, tmp_path / "t.safetensors", metadata=meta)
    cst.save_file(ct, tmp_path / "c.safetensors", metadata=meta)
    assert (tmp_path / "t.safetensors").read_bytes() == (tmp_path / "c.safetensors").read_bytes()
    # several metadata keys: safetensors writes them in a random (hash) order, chainrule
    # sorted; the same header otherwise, and the same data
    meta = {"format": "pt", "b": "2", "a": "1", "zz": "3"}
    ours, theirs = cst.save(ct, metadata=meta), safetensors.torch.save(tt, metadata=meta)
    assert len(ours) == len(theirs) and ours[8 + 100 :] == theirs[8 + 100 :]
    with cst.safe_open(tmp_path / "c.safetensors", "pt") as c:
        assert c.metadata() == {"format": "pt"}
    for k, v in cst.load(safetensors.torch.save(tt)).items():
        _same(v, tt[k])
    for k, v in cst.load_file(tmp_path / "t.safetensors").items():
        _same(v, tt[k])
    # the refusals of safetensors.torch, with its messages
    x = cr.arange(6.0).reshape(2, 3)
    xt = torch.arange(6.0).reshape(2, 3)
    cases = [
        ({"a": x.t()}, {"a": xt.t()}),  # non-contiguous
        ({"a": x, "b": x[0]}, {"a": xt, "b": xt[0]}),  # sharing memory
        ({"a": x, "b": 3}, {"a": xt, "b": 3}),  # not a tensor
        ([x], [xt]),  # not a dict
    ]
    for c_arg, t_arg in cases:
        with pytest.raises(Exception) as t_err:
            safetensors.torch.save(t_arg)
        with pytest.raises(type(t_err.value)) as c_err:
            cst.save(c_arg)
        want = str(t_err.value).replace("torch.Tensor", "chainrule.Tensor")
        if type(t_err.value) is RuntimeError:  # the names sharing memory, then advice
            head = "Some tensors share memory, this will lead to duplicate memory on disk"
            assert head in want and str(c_err.value).startswith(head)
            assert "[['a', 'b']]" in str(c_err.value)
        else:
            assert str(c_err.value) == want
    with pytest.raises(safetensors.SafetensorError):
        cst.load(b"\x40\x00\x00\x00\x00\x00\x00\x00{}      ")  # header runs past the end
    with pytest.raises(safetensors.SafetensorError):
        safetensors.torch.load(b"\x40\x00\x00\x00\x00\x00\x00\x00{}      ")
    assert cst.load(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ") == {}

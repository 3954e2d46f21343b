"""chainrule.save / chainrule.load: safetensors round trips, interchange with PyTorch through
safetensors, nested (optimizer-like) structures, and refusal of corrupt and pickle files."""

import io
import json
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest
import safetensors.numpy
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn


class Linear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(cr.randn(o, i))
        self.bias = nn.Parameter(cr.randn(o))


def model():
    m = nn.Module()
    m.fc = Linear(3, 4)
    m.out = Linear(4, 2)
    m.register_buffer("steps", cr.tensor(7))
    m.register_buffer("mask", cr.tensor([True, False]))
    return m


def same(a, b):
    assert type(a) is type(b) or isinstance(a, cr.Tensor) and isinstance(b, cr.Tensor)
    if isinstance(a, cr.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        assert a == b or (a != a and b != b)  # nan


def test_state_dict_round_trip_into_a_fresh_model(tmp_path):
    cr.manual_seed(0)
    m = model()
    path = tmp_path / "model.safetensors"
    assert cr.save(m.state_dict(), path) is None
    loaded = cr.load(path)
    assert isinstance(loaded, OrderedDict) and list(loaded) == list(m.state_dict())
    same(loaded, m.state_dict())
    fresh = model()
    assert repr(fresh.load_state_dict(loaded)) == "<All keys matched successfully>"
    same(fresh.state_dict(), m.state_dict())
    fresh.fc.weight.numpy(force=True)[0, 0] = 99.0  # loaded arrays are writable
    # str paths and file objects work too
    cr.save(m.state_dict(), str(path))
    buf = io.BytesIO()
    cr.save(m.state_dict(), buf)
    same(cr.load(io.BytesIO(buf.getvalue())), cr.load(str(path)))


@pytest.mark.parametrize(
    "dtype", ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
              "complex64"],
)  # fmt: skip
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 3), (2, 3, 4)])
def test_dtypes_and_shapes_round_trip(tmp_path, dtype, shape):
    a = (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    t = cr.tensor(a)
    cr.save({"x": t, "y": t.T if t.ndim == 2 else t}, tmp_path / "t.safetensors")
    back = cr.load(tmp_path / "t.safetensors")
    same(back["x"], t)
    assert back["x"].dtype == getattr(cr, dtype)


def test_non_contiguous_tensors_are_saved_by_value(tmp_path):
    x = cr.arange(12.0).reshape(3, 4)
    cr.save({"t": x.T, "s": x[:, ::2]}, tmp_path / "v.safetensors")
    back = cr.load(tmp_path / "v.safetensors")
    np.testing.assert_array_equal(back["t"].numpy(), x.numpy().T)
    np.testing.assert_array_equal(back["s"].numpy(), x.numpy()[:, ::2])


def test_nested_optimizer_like_state(tmp_path):
    state = {
        "state": {
            0: {"step": cr.tensor(3.0), "exp_avg": cr.randn(2, 3), "exp_avg_sq": cr.rand(2, 3)},
            1: {"step": cr.tensor(3.0), "momentum_buffer": None},
        },
        "param_groups": [
            {"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-08, "weight_decay": 0,
             "amsgrad": False, "maximize": False, "foreach": None, "params": [0, 1],
             "name": "all", "nan": float("nan"), "inf": float("-inf")},
        ],
    }  # fmt: skip
    path = tmp_path / "opt.safetensors"
    cr.save(state, path)
    back = cr.load(path)
    same(back, state)
    assert list(back["state"]) == [0, 1]  # integer keys stay integers
    assert isinstance(back["param_groups"][0]["betas"], tuple)
    # tensors sit under flattened keys, the structure in the metadata: readable elsewhere
    raw = safetensors.numpy.load_file(path)
    assert sorted(raw) == [
        "state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step", "state.1.step",
    ]  # fmt: skip
    with open(path, "rb") as fh:
        n = int.from_bytes(fh.read(8), "little")
        meta = json.loads(fh.read(n))["__metadata__"]
    assert meta["format"] == "chainrule" and "chainrule.structure" in meta


def test_other_nested_values(tmp_path):
    objs = [cr.ones(2), [cr.ones(1), (2, "x", None)], {"n": 3}, {}, {1.5: True},
            {"a.b": cr.ones(1), "a": {"b": cr.zeros(1)}}]  # fmt: skip
    for obj in objs:
        cr.save(obj, tmp_path / "o.safetensors")
        same(cr.load(tmp_path / "o.safetensors"), obj)
    with pytest.raises(RuntimeError, match="could not write .*complex128"):
        cr.save({"c": cr.ones(2, dtype=cr.complex128)}, tmp_path / "c.safetensors")
    with pytest.raises(ValueError, match="pickle_module=.*json.* is not supported"):
        cr.save({}, tmp_path / "p.safetensors", pickle_module=json)


def test_pytorch_file_loads_into_chainrule(tmp_path):
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    tm.register_buffer("count", torch.tensor(5))
    path = tmp_path / "torch.safetensors"
    safetensors.torch.save_file(tm.state_dict(), path, metadata={"format": "pt"})
    loaded = cr.load(path)
    assert set(loaded) == set(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert loaded[k].dtype.name == str(v.dtype).split(".")[1]
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())

    class Seq(nn.Module):
        def __init__(self):
            super().__init__()
            self.add_module("0", Linear(3, 4))
            self.add_module("2", Linear(4, 2))
            self.register_buffer("count", cr.tensor(0))

    cm = Seq()
    assert repr(cm.load_state_dict(loaded)) == "<All keys matched successfully>"
    np.testing.assert_array_equal(
        cm.get_parameter("2.bias").detach().numpy(), tm[2].bias.detach().numpy()
    )
    assert cm.count.item() == 5


def test_chainrule_file_loads_in_pytorch(tmp_path):
    cr.manual_seed(1)
    m = model()
    path = tmp_path / "cr.safetensors"
    cr.save(m.state_dict(), path)
    loaded = safetensors.torch.load_file(path)
    assert set(loaded) == set(m.state_dict())
    for k, v in m.state_dict().items():
        assert str(loaded[k].dtype) == f"torch.{v.dtype.name}"
        np.testing.assert_array_equal(loaded[k].numpy(), v.numpy())


def test_truncated_and_corrupt_files_raise_a_clear_error(tmp_path):
    path = tmp_path / "good.safetensors"
    cr.save(model().state_dict(), path)
    data = path.read_bytes()
    cases = {
        "truncated.safetensors": data[: len(data) // 2],
        "short.safetensors": data[:5],
        "empty.safetensors": b"",
        "header.safetensors": data[:8] + b"{not json" + data[17:],
        "noise.safetensors": bytes(np.random.default_rng(0).integers(0, 256, 300, dtype=np.uint8)),
        "size.safetensors": (10**6).to_bytes(8, "little") + data[8:],
    }
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(
            RuntimeError, match=f"{bad}.* is not a valid chainrule/safetensors file"
        ):
            cr.load(bad)
    # a header that parses but whose structure metadata was tampered with
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"]["chainrule.structure"] = '{"__dict__": [["x", {"__tensor__": "nope"}]]}'
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    bad = tmp_path / "meta.safetensors"
    bad.write_bytes(len(blob).to_bytes(8, "little") + blob + data[8 + n :])
    with pytest.raises(RuntimeError, match="structure metadata is damaged"):
        cr.load(bad)
    with pytest.raises(FileNotFoundError):
        cr.load(tmp_path / "missing.safetensors")


def test_pickle_files_load_only_with_the_explicit_opt_in(tmp_path):
    sd = {
        "w": torch.arange(6.0).reshape(2, 3).t(),
        "n": np.arange(3),
        "p": torch.nn.Parameter(torch.ones(2)),
    }
    torch_file = tmp_path / "model.pt"
    torch.save(sd, torch_file)  # a zip archive holding a pickle
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=2))
    for f in (torch_file, pkl):
        with pytest.raises(pickle.UnpicklingError, match="Weights only load failed") as e:
            cr.load(f)
        assert str(f) in str(e.value) and "`weights_only` set to `False`" in str(e.value)
        with pytest.raises(pickle.UnpicklingError):
            cr.load(f, weights_only=True)
    back = cr.load(torch_file, weights_only=False)  # torch's own file: its tensors, rebuilt
    assert back["w"].tolist() == sd["w"].tolist() and back["w"].shape == (3, 2)
    assert isinstance(back["p"], cr.nn.Parameter) and back["p"].requires_grad
    assert (back["n"] == sd["n"]).all()
    assert cr.load(pkl, weights_only=False) == {"w": [1.0, 2.0]}
    with pytest.raises(TypeError, match="never|not pickled"):
        pickle.dumps(cr.ones(2))
    with pytest.raises(TypeError, match="chainrule.load expects a path or a binary file"):
        cr.load(3)
    with pytest.raises(RuntimeError, match="CPU only"):
        cr.load(torch_file, map_location="cuda")


def test_foreign_dtypes(tmp_path):
    f8 = tmp_path / "f8.safetensors"
    safetensors.torch.save_file({"w": torch.ones(2, dtype=torch.float8_e4m3fn)}, f8)
    with pytest.raises(TypeError, match="tensor 'w' has dtype F8_E4M3, which chainrule does not"):
        cr.load(f8)
    u = tmp_path / "unsigned.safetensors"
    safetensors.torch.save_file(
        {
            "a": torch.tensor([1, 65535], dtype=torch.uint16),
            "b": torch.tensor([7], dtype=torch.uint32),
        },
        u,
    )
    back = cr.load(u)
    assert back["a"].dtype == cr.int32 and back["a"].tolist() == [1, 65535]
    assert back["b"].dtype == cr.int64 and back["b"].numpy().dtype == np.int64


def test_checkpoint_of_model_and_optimizer_resumes_identically(tmp_path):
    from chainrule import optim

    def step(m, o):
        o.zero_grad()
        (m.fc.weight * m.fc.weight).sum().backward()
        o.step()

    cr.manual_seed(0)
    m = model()
    o = optim.Adam(m.parameters(), lr=0.1)
    step(m, o)
    cr.save(m.state_dict(), tmp_path / "m.safetensors")
    cr.save(o.state_dict(), tmp_path / "o.safetensors")
    m2 = model()
    o2 = optim.Adam(m2.parameters(), lr=0.5)
    m2.load_state_dict(cr.load(tmp_path / "m.safetensors"))
    o2.load_state_dict(cr.load(tmp_path / "o.safetensors"))
    assert o2.param_groups[0]["lr"] == 0.1
    step(m, o)
    step(m2, o2)
    same(m2.state_dict(), m.state_dict())


def test_header_length_with_low_byte_0x80_is_not_mistaken_for_pickle(tmp_path):
    # issue 10 #17: the state_dict's 1152-byte header (0x480) makes the file start with 0x80,
    # the byte pickles start with; the file was refused as "pickle data"
    cr.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    path = tmp_path / "seq.safetensors"
    cr.save(m.state_dict(), path)
    data = path.read_bytes()
    assert data[:1] == b"\x80" and int.from_bytes(data[:8], "little") == 1152
    for f in (path, str(path), io.BytesIO(data)):
        loaded = cr.load(f)
        same(loaded, m.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    assert repr(fresh.load_state_dict(loaded)) == "<All keys matched successfully>"
    same(fresh.state_dict(), m.state_dict())
    # torch reads the same file into its own model
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2))
    assert repr(tm.load_state_dict(safetensors.torch.load_file(path))) == (
        "<All keys matched successfully>"
    )
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), m.state_dict()[k].numpy())
    # a damaged file of this kind is still called damaged, not pickle
    for bad in (data[: len(data) // 2], data[:8] + b"{not json" + data[17:]):
        with pytest.raises(RuntimeError, match="not a valid chainrule/safetensors file") as e:
            cr.load(io.BytesIO(bad))
        assert "pickle" not in str(e.value)


def test_every_header_length_low_byte_round_trips():
    # headers are padded to 8 bytes: a name growing one character at a time sweeps the header
    # length through every multiple of 8 mod 256, 0x80 included
    seen = set()
    for k in range(300):
        sd = {"w" * k: cr.arange(3.0), "b": cr.tensor(1)}
        buf = io.BytesIO()
        cr.save(sd, buf)
        data = buf.getvalue()
        seen.add(data[0])
        same(cr.load(io.BytesIO(data)), sd)
    assert seen == set(range(0, 256, 8))


_PROP_DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8",
                "bool", "complex64"]  # fmt: skip


@st.composite
def _state_dicts(draw):
    names = draw(
        st.lists(
            st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).filter(
                lambda s: s != "__metadata__"
            ),
            max_size=8,
            unique=True,
        )
    )
    sd = OrderedDict() if draw(st.booleans()) else {}
    for name in names:
        dtype = np.dtype(draw(st.sampled_from(_PROP_DTYPES)))
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        # any bit pattern (nan payloads, infinities, -0.0, extremes); bools are 0 or 1
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        n = int(np.prod(shape))
        if dtype == np.bool_:
            a = rng.integers(0, 2, n).astype(bool).reshape(shape)
        else:
            a = rng.integers(0, 256, n * dtype.itemsize, dtype=np.uint8).view(dtype).reshape(shape)
        sd[name] = cr.tensor(a)
    return sd


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_state_dicts())
def test_state_dicts_round_trip_property(sd):
    # random names (any Unicode), shapes (0-d and empty too), dtypes and numbers of tensors, so
    # header lengths land on many low bytes, 0x80 among them
    buf = io.BytesIO()
    cr.save(sd, buf)
    back = cr.load(io.BytesIO(buf.getvalue()))
    assert list(back) == list(sd)
    assert type(back) is (OrderedDict if isinstance(sd, OrderedDict) else dict)
    for k, v in sd.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape
        assert back[k].numpy().tobytes() == v.numpy().tobytes()  # bit for bit


def test_objects_safetensors_cannot_hold_are_pickled_as_torch(tmp_path):
    """A whole Module, an ndarray, a set: saved as torch.save does, loaded back only with
    weights_only=False (torch 2.6's rule), the same values and the same outputs."""
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(3, 4), cr.nn.BatchNorm1d(4), cr.nn.Tanh())
    obj = {"model": model, "arr": np.arange(4.0), "tags": {1, 2}, "step": 7, (1, 2): cr.ones(1)}
    path = tmp_path / "everything.pt"
    cr.save(obj, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        cr.load(path)
    back = cr.load(path, weights_only=False)
    assert back["step"] == 7 and back["tags"] == {1, 2} and (back["arr"] == obj["arr"]).all()
    assert back[(1, 2)].tolist() == [1.0]
    x = cr.randn(5, 3)
    assert back["model"](x).tolist() == model(x).tolist()
    w = back["model"][0].weight
    assert isinstance(w, cr.nn.Parameter) and w.requires_grad and w is not model[0].weight
    assert back["model"].state_dict().keys() == model.state_dict().keys()
    # a named tuple (a PackedSequence) keeps its type: pickled, as torch
    packed = cr.nn.utils.rnn.pack_sequence([cr.ones(3), cr.ones(2)])
    cr.save(packed, tmp_path / "packed.pt")
    back = cr.load(tmp_path / "packed.pt", weights_only=False)
    assert type(back) is type(packed) and back.batch_sizes.tolist() == [2, 2, 1]
    # a state_dict of tensors still goes to safetensors, readable without the opt-in
    with pytest.warns(UserWarning, match="safetensors format"):
        cr.save(model.state_dict(), tmp_path / "sd.pt")
    assert cr.load(tmp_path / "sd.pt").keys() == model.state_dict().keys()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".PT"])
def test_saving_safetensors_under_torch_suffixes_says_how_torch_reads_it(tmp_path, suffix):
    """cr.save of tensors writes safetensors; under a .pt/.pth name it warns that torch.load
    cannot read it and that safetensors.torch.load_file does (checked here with torch)."""
    import safetensors.torch

    cr.manual_seed(0)
    sd = cr.nn.Linear(3, 2).state_dict()
    path = tmp_path / f"model{suffix}"
    with pytest.warns(UserWarning) as caught:
        cr.save(sd, path)
    [w] = caught
    message = str(w.message)
    assert f"chainrule.save wrote {path} in the safetensors format" in message
    assert f"safetensors.torch.load_file({str(path)!r})" in message
    assert w.filename == __file__  # points at the caller's line
    back = safetensors.torch.load_file(str(path))  # what the warning tells torch users
    assert back.keys() == sd.keys()
    for k, v in sd.items():
        assert torch.equal(back[k], torch.from_numpy(v.numpy()))
    with pytest.raises(Exception):  # noqa: B017 (torch's own message varies by version)
        torch.load(path, weights_only=True)
    assert cr.load(path).keys() == sd.keys()


def test_no_warning_for_safetensors_names_file_objects_or_pickles(tmp_path):
    import warnings

    sd = {"w": cr.ones(2)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cr.save(sd, tmp_path / "model.safetensors")
        cr.save(sd, io.BytesIO())
        cr.save(cr.nn.Linear(2, 2), tmp_path / "module.pt")  # pickled in torch's zip layout
    assert zipfile.is_zipfile(tmp_path / "module.pt")

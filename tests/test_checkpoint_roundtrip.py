"""Round trips against torch, as properties: every dtype chainrule has, 0-d and size-0
tensors, non-contiguous and tied (memory-sharing) tensors, and metadata. A file chainrule
writes loads in torch bit for bit, and a file torch writes loads in chainrule bit for bit,
through every reader (load, load with mmap, load_file, safe_open, load_model)."""

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.dtypes
import chainrule.safetensors as cst
from chainrule import nn

# every dtype chainrule has; complex128 has no safetensors dtype (torch refuses it too)
# (bfloat16 has no torch.from_numpy twin: its bit-exact round trips are in
# test_half_precision.py)
_SAVED = [d for d in cr.dtypes.ALL if d not in (cr.complex128, cr.bfloat16)]


def test_every_dtype_is_covered_and_complex128_refused_by_both(tmp_path):
    assert {d.name for d in _SAVED} | {"complex128", "bfloat16"} == {d.name for d in cr.dtypes.ALL}
    with pytest.raises(KeyError, match="complex128"):  # no safetensors dtype for it
        safetensors.torch.save({"c": torch.ones(1, dtype=torch.complex128)})
    with pytest.raises(RuntimeError, match="could not write .*complex128"):
        cr.save({"c": cr.ones(1, dtype=cr.complex128)}, tmp_path / "c.safetensors")
    with pytest.raises(TypeError, match="no dtype complex128"):
        cst.save({"c": cr.ones(1, dtype=cr.complex128)})


def _bits(rng, dtype, shape):
    """Any bit pattern of ``dtype`` (nan payloads, infinities, -0.0); bools 0 or 1."""
    n = int(np.prod(shape))
    if dtype == np.bool_:
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    return rng.integers(0, 256, n * dtype.itemsize, dtype=np.uint8).view(dtype).reshape(shape)


@st.composite
def _state(draw):
    """A state dict as (kind, array) per name: contiguous, a non-contiguous view
    (transposed, stepped), or tied (the same tensor again, or a view of an earlier one)."""
    names = draw(
        st.lists(
            st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
                lambda s: s != "__metadata__"
            ),
            max_size=6,
            unique=True,
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    tensors: dict[str, cr.Tensor] = {}
    for name in names:
        kind = draw(st.sampled_from(["plain", "transposed", "stepped", "same", "view"]))
        earlier = [t for t in tensors.values() if t.ndim >= 1 and t.shape[0] > 0]
        if kind in ("same", "view") and earlier:
            base = draw(st.sampled_from(earlier))
            tensors[name] = base if kind == "same" else base[:1]
            continue
        dtype = draw(st.sampled_from(_SAVED)).np
        shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        if kind == "transposed" and len(shape) >= 2:
            t = cr.tensor(_bits(rng, dtype, shape[::-1])).transpose(0, -1)
        elif kind == "stepped" and shape:
            big = (shape[0] * 2,) + shape[1:]
            t = cr.tensor(_bits(rng, dtype, big))[::2]
        else:
            t = cr.tensor(_bits(rng, dtype, shape))
        tensors[name] = t
    metadata = draw(
        st.none() | st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3)
    )
    return tensors, metadata


def _same(c, t):
    """Bit-identical: dtype, shape and every byte (so nan payloads and -0.0 count)."""
    assert c.dtype.name == str(t.dtype).split(".")[1]
    assert tuple(c.shape) == tuple(t.shape)
    assert np.ascontiguousarray(c.numpy()).tobytes() == t.contiguous().numpy().tobytes()


_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@_SETTINGS
@given(_state())
def test_chainrule_files_load_in_torch_bit_for_bit(tmp_path, state):
    tensors, metadata = state
    path = tmp_path / "c.safetensors"
    cr.save(tensors, path)  # non-contiguous and tied tensors are saved by value
    back = safetensors.torch.load_file(path)
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        _same(v, back[k])
    # chainrule.safetensors.save_file: contiguous, unshared tensors, metadata as given,
    # byte for byte what safetensors.torch.save_file writes (one metadata key at most:
    # safetensors orders several by hash)
    own = {k: v.clone(memory_format=cr.contiguous_format) for k, v in tensors.items()}
    one = None if metadata is None else dict(list(metadata.items())[:1])
    if not own and one == {}:  # safetensors writes '{},"__metadata__":{}}': a bug
        one = None
    cst.save_file(own, path, metadata=one)
    torch_sd = {k: torch.from_numpy(np.array(v.numpy(), order="C")) for k, v in own.items()}
    assert path.read_bytes() == safetensors.torch.save(torch_sd, metadata=one)
    if own or metadata != {}:
        cst.save_file(own, path, metadata=metadata)
        with safetensors.safe_open(path, framework="pt") as f:
            assert f.metadata() == metadata
            for k, v in own.items():
                _same(v, f.get_tensor(k))


@_SETTINGS
@given(_state())
def test_torch_files_load_in_chainrule_bit_for_bit(tmp_path, state):
    tensors, metadata = state
    torch_sd = {k: torch.from_numpy(np.array(v.numpy(), order="C")) for k, v in tensors.items()}
    if not torch_sd and metadata == {}:  # safetensors writes '{},"__metadata__":{}}': a bug
        metadata = None
    path = tmp_path / "t.safetensors"
    safetensors.torch.save_file(torch_sd, path, metadata=metadata)
    readers = [cr.load(path), cr.load(path, mmap=True), cst.load_file(path)]
    readers.append(cst.load(path.read_bytes()))
    with cst.safe_open(path, framework="pt") as f, safetensors.safe_open(path, "pt") as g:
        assert f.metadata() == g.metadata() == metadata
        assert f.keys() == g.keys() == sorted(torch_sd)
        # tensors at one offset (empty ones) come in hash order from safetensors
        assert sorted(f.offset_keys()) == sorted(g.offset_keys())
        if all(v.numel() for v in torch_sd.values()):
            assert f.offset_keys() == g.offset_keys()
        readers.append({k: f.get_tensor(k) for k in f.keys()})
        for k, v in torch_sd.items():
            if v.ndim and v.shape[0] > 1:
                _same(f.get_slice(k)[1:], v[1:])
    for back in readers:
        assert set(back) == set(torch_sd)
        for k, v in torch_sd.items():
            _same(back[k], v)


@_SETTINGS
@given(_state(), st.integers(1, 200))
def test_sharded_round_trip_through_torch(tmp_path, state, limit):
    tensors, _ = state
    names = list(tensors)
    directory = tmp_path / f"s{limit}"
    cst.save_state_dict(tensors, directory, max_shard_size=limit)
    merged = {}
    for f in directory.iterdir():
        if f.suffix == ".safetensors":
            merged.update(safetensors.torch.load_file(f))
    assert set(merged) == set(names)
    for k, v in tensors.items():
        _same(v, merged[k])

    class Holder(nn.Module):  # a module whose buffers are the state dict's names
        def __init__(self):
            super().__init__()
            for k, v in tensors.items():
                self._buffers[k] = cr.zeros_like(v)

    if all("." not in k for k in names):
        h = Holder()
        assert repr(cst.load_model(h, directory)) == "<All keys matched successfully>"
        for k in tensors:
            _same(h._buffers[k], merged[k])


def test_zero_dim_size_zero_and_layouts_into_torch_modules(tmp_path):
    # the published-model path end to end: a chainrule model's state dict (with a 0-d
    # buffer, an empty one, a transposed parameter) sharded, then loaded by torch
    cr.manual_seed(0)
    m = nn.Module()
    m.lin = nn.Linear(3, 5)
    m.register_buffer("count", cr.tensor(3))
    m.register_buffer("nothing", cr.zeros(0, 2))
    m.lin.weight = nn.Parameter(cr.randn(3, 5).t())
    cst.save_state_dict(m.state_dict(), tmp_path, max_shard_size=40)
    t = torch.nn.Module()
    t.lin = torch.nn.Linear(3, 5)
    t.register_buffer("count", torch.tensor(0))
    t.register_buffer("nothing", torch.ones(0, 2))
    merged = {}
    for f in tmp_path.glob("*.safetensors"):
        merged.update(safetensors.torch.load_file(f))
    assert repr(t.load_state_dict(merged)) == "<All keys matched successfully>"
    for k, v in m.state_dict().items():
        _same(v, t.state_dict()[k])

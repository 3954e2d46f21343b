"""Sharded checkpoints in the layout published models use (``model-0000N-of-0000M.safetensors``
and ``model.safetensors.index.json``): chainrule.safetensors.save_state_dict writes one,
load_model loads one into a Module in one call; both checked against torch on the same
files (torch's checkpoints read by chainrule, chainrule's read by torch)."""

import json
import os

import numpy as np
import pytest
import safetensors
import safetensors.torch
import torch

import chainrule as cr
import chainrule.safetensors as cst
from chainrule import nn


def net(lib):
    mod = lib.nn
    return mod.Sequential(
        mod.Linear(8, 16), mod.ReLU(), mod.Linear(16, 16), mod.BatchNorm1d(16), mod.Linear(16, 4)
    )


def _numpy_sd(m):
    return {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}


def _write_torch_shards(directory, sd, groups):
    """A sharded checkpoint as transformers/huggingface_hub write it, made with torch."""
    os.makedirs(directory, exist_ok=True)
    n = len(groups)
    weight_map = {}
    for i, keys in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        safetensors.torch.save_file(
            {k: sd[k].contiguous() for k in keys}, directory / name, metadata={"format": "pt"}
        )
        weight_map.update(dict.fromkeys(keys, name))
    total = sum(v.numel() * v.element_size() for v in sd.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))


def test_save_state_dict_writes_the_published_layout(tmp_path):
    cr.manual_seed(0)
    m = net(cr)
    sd = m.state_dict()
    sizes = {k: v.numel() * v.element_size() for k, v in sd.items()}
    limit = 700
    cst.save_state_dict(sd, tmp_path, max_shard_size=limit, metadata={"source": "test"})
    index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
    assert set(index) == {"metadata", "weight_map"}
    assert index["metadata"] == {"total_size": sum(sizes.values()), "source": "test"}
    assert set(index["weight_map"]) == set(sd)
    shards = sorted(set(index["weight_map"].values()))
    n = len(shards)
    assert n > 2 and shards == [f"model-{i:05d}-of-{n:05d}.safetensors" for i in range(1, n + 1)]
    assert sorted(os.listdir(tmp_path)) == sorted([*shards, "model.safetensors.index.json"])
    # greedy in state-dict order: consecutive keys; a shard is under the limit unless it is
    # one tensor larger than it; the next shard's first tensor would not have fitted
    order = [index["weight_map"][k] for k in sd]
    assert order == sorted(order)
    groups = [[k for k in sd if index["weight_map"][k] == s] for s in shards]
    for i, keys in enumerate(groups):
        total = sum(sizes[k] for k in keys)
        assert total <= limit or len(keys) == 1
        if i + 1 < n:
            assert total + sizes[groups[i + 1][0]] > limit
    merged = {}
    for s in shards:
        with safetensors.safe_open(tmp_path / s, framework="pt") as f:
            assert f.metadata() == {"format": "pt"}  # transformers requires it
        merged.update(safetensors.torch.load_file(tmp_path / s))
    tm = net(torch)
    assert repr(tm.load_state_dict(merged)) == "<All keys matched successfully>"
    for k, v in tm.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    # one shard: model.safetensors, no index; stale shards of the earlier save are removed
    cst.save_state_dict(sd, tmp_path)
    assert os.listdir(tmp_path) == ["model.safetensors"]
    assert set(safetensors.torch.load_file(tmp_path / "model.safetensors")) == set(sd)


def test_load_model_loads_torchs_sharded_checkpoint_in_one_call(tmp_path):
    torch.manual_seed(0)
    tm = net(torch)
    tm(torch.randn(5, 8))  # BatchNorm's running statistics move
    sd = tm.state_dict()
    keys = list(sd)
    _write_torch_shards(tmp_path / "ckpt", sd, [keys[:3], keys[3:7], keys[7:]])
    for path in (
        tmp_path / "ckpt",
        tmp_path / "ckpt" / "model.safetensors.index.json",
        str(tmp_path / "ckpt"),
    ):
        cm = net(cr)
        res = cst.load_model(cm, path)
        assert repr(res) == "<All keys matched successfully>"
        for k, v in cm.state_dict().items():
            assert v.numpy().tobytes() == sd[k].numpy().tobytes(), k
    x = np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)
    tm.eval()
    cm.eval()
    np.testing.assert_allclose(
        cm(cr.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(), rtol=1e-5
    )
    # a single-file checkpoint: the file, or a directory holding model.safetensors
    safetensors.torch.save_file(sd, tmp_path / "model.safetensors")
    for path in (tmp_path / "model.safetensors", tmp_path):
        cm = net(cr)
        assert repr(cst.load_model(cm, path)) == "<All keys matched successfully>"
        assert cm[0].weight.detach().numpy().tobytes() == sd["0.weight"].numpy().tobytes()


def test_strict_and_non_strict_key_matching_as_torch(tmp_path):
    torch.manual_seed(0)
    tm = net(torch)
    sd = dict(tm.state_dict())
    del sd["2.bias"], sd["3.running_var"]
    sd["9.weight"] = torch.ones(2)
    sd["extra"] = torch.zeros(1)
    keys = list(sd)
    _write_torch_shards(tmp_path, sd, [keys[:4], keys[4:]])
    with pytest.raises(RuntimeError) as t_err:
        net(torch).load_state_dict(sd)
    with pytest.raises(RuntimeError) as c_err:
        cst.load_model(net(cr), tmp_path)
    assert str(c_err.value) == str(t_err.value)
    t_res = net(torch).load_state_dict(sd, strict=False)
    c_res = cst.load_model(net(cr), tmp_path, strict=False)
    assert c_res.missing_keys == t_res.missing_keys
    assert c_res.unexpected_keys == t_res.unexpected_keys
    assert repr(c_res) == repr(t_res)
    # a shape mismatch is an error even when not strict, with torch's text
    sd = dict(tm.state_dict())
    sd["0.weight"] = torch.ones(3, 3)
    _write_torch_shards(tmp_path / "bad", sd, [list(sd)])
    with pytest.raises(RuntimeError) as t_err:
        net(torch).load_state_dict(sd, strict=False)
    with pytest.raises(RuntimeError) as c_err:
        cst.load_model(net(cr), tmp_path / "bad", strict=False)
    assert str(c_err.value) == str(t_err.value).replace("torch.Size", "chainrule.Size")


def test_assign_mmap_tied_weights_and_broken_checkpoints(tmp_path):
    cr.manual_seed(0)
    m = net(cr)
    cst.save_state_dict(m.state_dict(), tmp_path / "a", max_shard_size="1KB")
    # assign=True with mmap=True: the parameters are the mapped tensors
    cm = net(cr)
    cst.load_model(cm, tmp_path / "a", assign=True, mmap=True)
    a = cm[0].weight.detach().numpy()
    while isinstance(a, np.ndarray):
        a = a.base
    assert isinstance(a, memoryview)
    assert isinstance(cm[0].weight, nn.Parameter) and cm[0].weight.requires_grad
    cm2 = net(cr)
    cst.load_model(cm2, tmp_path / "a", assign=True)  # read into memory of their own
    assert cm2[0].weight.detach().numpy().flags.owndata
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(cm.state_dict()[k].numpy(), v.numpy())
        np.testing.assert_array_equal(cm2.state_dict()[k].numpy(), v.numpy())
    # tied weights are saved by value under each name and load back tied
    tied = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    tied[1].weight = tied[0].weight
    cst.save_state_dict(tied.state_dict(), tmp_path / "t", max_shard_size=100)
    fresh = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 10, bias=False))
    fresh[1].weight = fresh[0].weight
    assert repr(cst.load_model(fresh, tmp_path / "t")) == "<All keys matched successfully>"
    assert fresh[1].weight is fresh[0].weight
    np.testing.assert_array_equal(fresh[0].weight.detach().numpy(), tied[0].weight.detach().numpy())
    # a shard missing, a key the index puts in a shard that lacks it, an empty directory
    index = json.loads((tmp_path / "a" / "model.safetensors.index.json").read_text())
    shard = index["weight_map"]["4.bias"]
    os.rename(tmp_path / "a" / shard, tmp_path / "gone")
    with pytest.raises(FileNotFoundError, match=f"{shard}, a shard named in .*index.json"):
        cst.load_model(net(cr), tmp_path / "a")
    os.rename(tmp_path / "gone", tmp_path / "a" / shard)
    index["weight_map"]["4.bias"] = index["weight_map"]["0.weight"]
    (tmp_path / "a" / "model.safetensors.index.json").write_text(json.dumps(index))
    with pytest.raises(safetensors.SafetensorError, match=r"does not contain \['4.bias'\]"):
        cst.load_model(net(cr), tmp_path / "a")
    (tmp_path / "e").mkdir()
    with pytest.raises(FileNotFoundError, match="neither model.safetensors.index.json nor"):
        cst.load_model(net(cr), tmp_path / "e")


def test_an_interrupted_sharded_save_never_leaves_a_mixed_checkpoint(tmp_path, monkeypatch):
    from chainrule import _atomic

    cr.manual_seed(0)
    old, new = net(cr), net(cr)
    cst.save_state_dict(old.state_dict(), tmp_path, max_shard_size=700)
    n = len(list(tmp_path.glob("*.safetensors")))
    writes = []
    real = _atomic.atomic_write

    def dies_on_the_second_shard(path, write, who="chainrule.save"):
        writes.append(path)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        real(path, write, who)

    monkeypatch.setattr(cst, "atomic_write", dies_on_the_second_shard)
    with pytest.raises(OSError, match="No space left"):
        cst.save_state_dict(new.state_dict(), tmp_path, max_shard_size=700)
    monkeypatch.undo()
    # shard 1 is new, the rest old: with no index, loading refuses instead of mixing them
    assert len(list(tmp_path.glob("*.safetensors"))) == n
    with pytest.raises(FileNotFoundError, match="neither model.safetensors.index.json"):
        cst.load_model(net(cr), tmp_path)
    cst.save_state_dict(new.state_dict(), tmp_path, max_shard_size=700)  # a retry succeeds
    fresh = net(cr)
    cst.load_model(fresh, tmp_path)
    for k, v in new.state_dict().items():
        np.testing.assert_array_equal(fresh.state_dict()[k].numpy(), v.numpy())


def test_max_shard_size_spellings():
    sd = {f"w{i}": cr.zeros(250) for i in range(8)}  # 1000 bytes each
    for size, shards in (("1KB", 8), ("2KB", 4), ("1KiB", 8), ("2.5kb", 4), (3000, 3)):
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            cst.save_state_dict(sd, d, max_shard_size=size)
            assert len([f for f in os.listdir(d) if f.endswith(".safetensors")]) == shards
    for bad in ("5 parsecs", "GB", -1, 0, "1.5.2MB"):
        with pytest.raises(ValueError, match="max_shard_size"):
            cst.save_state_dict(sd, "/nonexistent", max_shard_size=bad)
    with pytest.raises(ValueError, match="Key `x` is invalid, expected chainrule.Tensor"):
        cst.save_state_dict({"x": 1}, "/nonexistent")

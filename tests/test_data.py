"""utils.data against torch: datasets, samplers, DataLoader batching and collate structure,
shuffling (every sample once per epoch, reproducible by seed), random_split, errors."""

import itertools
import re
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import chainrule as cr
from chainrule.utils import data as cdata

Point = namedtuple("Point", "x y")


def same_error(torch_fn, cr_fn):
    with pytest.raises(Exception) as te:
        torch_fn()
    msg = str(te.value).replace("torch.", "chainrule.")
    with pytest.raises(type(te.value), match=re.escape(msg)) as ce:
        cr_fn()
    assert str(ce.value) == msg


def plain(obj):
    """A comparable form of a (collated) value from either library."""
    if isinstance(obj, torch.Tensor | cr.Tensor):
        return ("tensor", str(obj.dtype).split(".")[-1], obj.detach().numpy().tolist())
    if isinstance(obj, dict):
        return (type(obj).__name__, [(k, plain(v)) for k, v in obj.items()])
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):
        return (type(obj).__name__, [plain(v) for v in obj])
    if isinstance(obj, list | tuple):
        return (type(obj).__name__, [plain(v) for v in obj])
    if isinstance(obj, np.ndarray):
        return ("ndarray", obj.tolist())
    return obj


def tensors(n=10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n) % 3
    return (cr.tensor(x), cr.tensor(y)), (torch.tensor(x), torch.tensor(y))


# --------------------------------------------------------------------------- datasets


def test_tensor_dataset_like_torch():
    (cx, cy), (tx, ty) = tensors()
    cd, td = cdata.TensorDataset(cx, cy), tdata.TensorDataset(tx, ty)
    assert len(cd) == len(td) == 10
    assert plain(cd[3]) == plain(td[3])
    assert plain(cd[-1]) == plain(td[-1])
    assert plain(cd[2:5]) == plain(td[2:5])
    assert isinstance(cd, cdata.Dataset)
    same_error(lambda: tdata.TensorDataset(tx, ty[:3]), lambda: cdata.TensorDataset(cx, cy[:3]))
    with pytest.raises(NotImplementedError, match="Subclasses of Dataset should implement"):
        cdata.Dataset()[0]


def test_subset_and_concat_like_torch():
    (cx, cy), (tx, ty) = tensors()
    cd, td = cdata.TensorDataset(cx, cy), tdata.TensorDataset(tx, ty)
    cs, ts = cdata.Subset(cd, [7, 2, 5]), tdata.Subset(td, [7, 2, 5])
    assert len(cs) == 3 and plain(cs[1]) == plain(ts[1]) and plain(cs[-1]) == plain(ts[-1])
    assert plain(cs.__getitems__([0, 2])) == plain(ts.__getitems__([0, 2]))
    cc, tc = cd + cs, td + ts
    assert isinstance(cc, cdata.ConcatDataset) and len(cc) == len(tc) == 13
    for i in (0, 9, 10, 12, -1, -13):
        assert plain(cc[i]) == plain(tc[i])
    same_error(lambda: tc[-14], lambda: cc[-14])
    same_error(lambda: tdata.ConcatDataset([]), lambda: cdata.ConcatDataset([]))


@pytest.mark.parametrize(
    "lengths", [[3, 7], [0.3, 0.7], [0.5, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3], [0.1, 0.9]]
)
def test_random_split_sizes_like_torch_and_a_partition(lengths):
    ds = list(range(10))
    cparts = cdata.random_split(ds, lengths, generator=cr.Generator().manual_seed(0))
    tparts = tdata.random_split(ds, lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in cparts] == [len(p) for p in tparts]
    assert all(isinstance(p, cdata.Subset) for p in cparts)
    items = sorted(x for p in cparts for x in (p[i] for i in range(len(p))))
    assert items == ds
    again = cdata.random_split(ds, lengths, generator=cr.Generator().manual_seed(0))
    assert [p.indices for p in again] == [p.indices for p in cparts]
    cr.manual_seed(5)
    a = [p.indices for p in cdata.random_split(ds, lengths)]
    cr.manual_seed(5)
    assert [p.indices for p in cdata.random_split(ds, lengths)] == a


def test_random_split_errors_and_warning_like_torch():
    ds = list(range(10))
    same_error(lambda: tdata.random_split(ds, [3, 3]), lambda: cdata.random_split(ds, [3, 3]))
    same_error(
        lambda: tdata.random_split(ds, [1.5, -0.5]), lambda: cdata.random_split(ds, [1.5, -0.5])
    )
    with pytest.warns(UserWarning, match="Length of split at index") as rec:
        cdata.random_split(list(range(2)), [0.9, 0.05, 0.05])
    assert [str(w.message)[:28] for w in rec] == [  # splits 1 and 2 are empty
        "Length of split at index 1 i",
        "Length of split at index 2 i",
    ]


# --------------------------------------------------------------------------- samplers


def test_samplers():
    assert list(cdata.SequentialSampler(range(4))) == [0, 1, 2, 3]
    rs = cdata.RandomSampler(range(6), generator=cr.Generator().manual_seed(0))
    e1, e2 = list(rs), list(rs)
    assert sorted(e1) == sorted(e2) == list(range(6)) and len(rs) == 6
    more = cdata.RandomSampler(range(4), num_samples=10, generator=cr.Generator().manual_seed(1))
    out = list(more)
    assert len(out) == 10 and sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3]
    rep = cdata.RandomSampler(range(3), replacement=True, num_samples=50)
    assert len(list(rep)) == 50 and set(rep) <= {0, 1, 2}
    huge = cdata.RandomSampler(range(3), replacement=True, num_samples=10**10)
    first = list(itertools.islice(iter(huge), 100))  # lazily drawn: no 74 GiB index array
    assert len(huge) == 10**10 and len(first) == 100 and set(first) == {0, 1, 2}
    sub = cdata.SubsetRandomSampler([10, 20, 30], generator=cr.Generator().manual_seed(2))
    assert sorted(sub) == [10, 20, 30] and len(sub) == 3
    b = cdata.BatchSampler(cdata.SequentialSampler(range(10)), 3, False)
    assert list(b) == list(tdata.BatchSampler(range(10), 3, False)) and len(b) == 4
    b = cdata.BatchSampler(range(10), 3, True)
    assert list(b) == list(tdata.BatchSampler(range(10), 3, True)) and len(b) == 3


@pytest.mark.parametrize(
    "args",
    [
        ("RandomSampler", (range(3),), {"replacement": 1}),
        ("RandomSampler", (range(3),), {"num_samples": 0}),
        ("RandomSampler", ([],), {}),
        ("BatchSampler", (range(3), 0, False), {}),
        ("BatchSampler", (range(3), True, False), {}),
        ("BatchSampler", (range(3), 2, 1), {}),
    ],
)
def test_sampler_errors_like_torch(args):
    name, a, kw = args
    same_error(lambda: getattr(tdata, name)(*a, **kw), lambda: getattr(cdata, name)(*a, **kw))


# --------------------------------------------------------------------------- DataLoader


@pytest.mark.parametrize("batch_size,drop_last", [(1, False), (3, False), (3, True), (10, False),
                                                  (20, False), (20, True), (4, True)])  # fmt: skip
def test_sequential_batches_equal_torch(batch_size, drop_last):
    (cx, cy), (tx, ty) = tensors()
    cl = cdata.DataLoader(cdata.TensorDataset(cx, cy), batch_size=batch_size, drop_last=drop_last)
    tl = tdata.DataLoader(tdata.TensorDataset(tx, ty), batch_size=batch_size, drop_last=drop_last)
    assert len(cl) == len(tl)
    cb, tb = [plain(b) for b in cl], [plain(b) for b in tl]
    assert cb == tb and len(cb) == len(cl)
    assert [plain(b) for b in cl] == cb  # a new pass gives the same batches


def test_shuffle_visits_every_sample_once_and_is_reproducible():
    (cx, cy), _ = tensors(23)
    ds = cdata.TensorDataset(cx, cy)

    def epochs(loader, n=3):
        # x[i, 0] == 3 i: the sample index of every row, in the order the loader gave them
        return [np.concatenate([b[0].numpy()[:, 0] / 3 for b in loader]) for _ in range(n)]

    def seeded(s):
        return cdata.DataLoader(
            ds, batch_size=5, shuffle=True, generator=cr.Generator().manual_seed(s)
        )

    loader = seeded(0)
    runs = epochs(loader)
    for order in runs:
        assert sorted(order.tolist()) == list(range(23))  # each sample exactly once
    assert runs[0].tolist() != list(range(23)) and runs[0].tolist() != runs[1].tolist()
    assert [r.tolist() for r in epochs(seeded(0))] == [r.tolist() for r in runs]
    assert epochs(seeded(1), 1)[0].tolist() != runs[0].tolist()
    cr.manual_seed(3)  # without a generator, the default one decides
    a = epochs(cdata.DataLoader(ds, batch_size=4, shuffle=True), 2)
    cr.manual_seed(3)
    b = epochs(cdata.DataLoader(ds, batch_size=4, shuffle=True), 2)
    assert [x.tolist() for x in a] == [x.tolist() for x in b]
    dropped = cdata.DataLoader(ds, batch_size=5, shuffle=True, drop_last=True)
    sizes = [len(b[0]) for b in dropped]
    assert sizes == [5, 5, 5, 5] and len(dropped) == 4
    for batch in dropped:  # rows stay paired with their labels
        np.testing.assert_array_equal(batch[0].numpy()[:, 0] / 3 % 3, batch[1].numpy())


class Records:
    """A map-style dataset of structured samples (no Dataset base: duck typing, as torch)."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 5

    def __getitem__(self, i):
        t = self.lib.tensor
        return {
            "x": t([float(i), 2.0 * i]),
            "label": i % 2,
            "weight": 0.5 * i,
            "flag": i > 2,
            "name": f"s{i}",
            "pair": (t(i), [i, i + 1]),
            "point": Point(float(i), np.int64(i)),
            "array": np.full((2,), i, dtype=np.float32),
            "scalar": np.float64(i) / 2,
            "nested": OrderedDict(a=[t([i])]),
        }


def test_collate_structure_equals_torch():
    cl = cdata.DataLoader(Records(cr), batch_size=2)
    tl = tdata.DataLoader(Records(torch), batch_size=2)
    assert [plain(b) for b in cl] == [plain(b) for b in tl]


def test_no_auto_batching_like_torch():
    cl = cdata.DataLoader(Records(cr), batch_size=None)
    tl = tdata.DataLoader(Records(torch), batch_size=None)
    assert len(cl) == len(tl) == 5
    assert [plain(b) for b in cl] == [plain(b) for b in tl]


@pytest.mark.parametrize(
    "batch",
    [
        [1, 2, 3],
        [1.5, 2.0],
        [True, False],
        ["a", "b"],
        [(1, 2.0), (3, 4.0)],
        [[1, 2], [3, 4]],
        [{"a": 1}, {"a": 2}],
        [np.float32(1), np.float32(2)],
        [np.ones((2, 2), np.int32), np.zeros((2, 2), np.int32)],
        [Point(1, 2), Point(3, 4)],
    ],
)
def test_default_collate_and_convert_equal_torch(batch):
    from torch.utils.data import default_collate as tc
    from torch.utils.data import default_convert as tv

    assert plain(cdata.default_collate(batch)) == plain(tc(batch))
    assert plain(cdata.default_convert(batch)) == plain(tv(batch))


def test_collate_tensors_and_errors_like_torch():
    from torch.utils.data import default_collate as tc

    same = [np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32)]
    c = cdata.default_collate([cr.tensor(a) for a in same])
    assert plain(c) == plain(tc([torch.tensor(a) for a in same]))
    assert not c.requires_grad
    same_error(
        lambda: tc([torch.ones(2), torch.ones(3)]),
        lambda: cdata.default_collate([cr.ones(2), cr.ones(3)]),
    )
    same_error(lambda: tc([[1, 2], [3]]), lambda: cdata.default_collate([[1, 2], [3]]))
    same_error(
        lambda: tc([object(), object()]), lambda: cdata.default_collate([object(), object()])
    )
    obj = np.array(["a"], dtype=object)
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        cdata.default_collate([obj, obj])


def test_custom_collate_sampler_and_batch_sampler():
    ds = list(range(7))
    loader = cdata.DataLoader(ds, batch_size=3, collate_fn=lambda b: sum(b))
    assert list(loader) == [3, 12, 6]
    loader = cdata.DataLoader(ds, batch_size=2, sampler=[6, 5, 4])
    assert [b.tolist() for b in loader] == [[6, 5], [4]] and len(loader) == 2
    bs = cdata.BatchSampler(range(7), 4, drop_last=False)
    loader = cdata.DataLoader(ds, batch_sampler=bs)
    assert [b.tolist() for b in loader] == [[0, 1, 2, 3], [4, 5, 6]] and len(loader) == 2
    loader = cdata.DataLoader(ds)
    assert len(loader) == 7 and next(iter(loader)).tolist() == [0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"shuffle": True, "sampler": [0, 1]},
        {"batch_sampler": [[0]], "batch_size": 2},
        {"batch_sampler": [[0]], "shuffle": True},
        {"batch_sampler": [[0]], "drop_last": True},
        {"batch_size": None, "drop_last": True},
        {"num_workers": -1},
        {"timeout": -1},
        {"batch_size": 0},
    ],
)
def test_dataloader_errors_like_torch(kwargs):
    same_error(lambda: tdata.DataLoader(list(range(3)), **kwargs),
               lambda: cdata.DataLoader(list(range(3)), **kwargs))  # fmt: skip


def test_reachable_from_the_namespace():
    code = "import chainrule as cr; print(cr.utils.data.DataLoader.__name__, cr.save.__name__)"
    import subprocess
    import sys
    from pathlib import Path

    src = Path(__file__).parents[1] / "src"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"PYTHONPATH": str(src)}
    )
    assert out.stdout.split() == ["DataLoader", "save"], out.stderr
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        getattr(cr.utils, "nope")  # noqa: B009


def test_tensor_dataset_getitems_fast_path_equals_indexing():
    (cx, cy), (tx, ty) = tensors()
    ds = cdata.TensorDataset(cx, cy)
    idx = [3, 0, -1, 9, 3]
    assert plain(ds.__getitems__(idx)) == plain([ds[i] for i in idx])
    assert plain(ds.__getitems__(idx)) == plain([tdata.TensorDataset(tx, ty)[i] for i in idx])
    same_error(lambda: tx[10], lambda: ds.__getitems__([1, 10]))
    same_error(lambda: tx[-11], lambda: ds.__getitems__([-11]))
    w = cr.ones(4, 2, requires_grad=True)
    rows = cdata.TensorDataset(w).__getitems__([1, 2])
    assert all(r[0].grad_fn is not None for r in rows)  # the graph is kept when one is needed
    batch = next(iter(cdata.DataLoader(cdata.Subset(ds, [4, 1]), batch_size=2)))
    assert plain(batch) == plain(
        tdata.default_collate([tdata.TensorDataset(tx, ty)[i] for i in (4, 1)])
    )


def test_collate_promotes_like_torch_stack():
    from torch.utils.data import default_collate as tc

    for dts in [("int64", "float32"), ("bool", "int32"), ("float16", "float64"), ("uint8", "int8")]:
        cb = [cr.ones(2, dtype=getattr(cr, d)) for d in dts]
        tb = [torch.ones(2, dtype=getattr(torch, d)) for d in dts]
        assert plain(cdata.default_collate(cb)) == plain(tc(tb)), dts
    assert plain(cdata.default_collate([cr.tensor(1.0), cr.tensor(2.0)])) == plain(
        tc([torch.tensor(1.0), torch.tensor(2.0)])
    )

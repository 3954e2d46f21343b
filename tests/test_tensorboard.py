"""SummaryWriter against torch's: the same calls, both runs read back with TensorBoard's own
EventAccumulator: the same tags, steps and values (histograms by their statistics)."""

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import chainrule as cr
from chainrule.utils.tensorboard import SummaryWriter


def write(writer_cls, lib, log_dir):
    x = np.random.default_rng(0).normal(size=1000)
    with writer_cls(log_dir) as w:
        for step in range(5):
            w.add_scalar("loss/train", lib.tensor(1.0 / (step + 1)), step)
            w.add_scalar("lr", 0.1 * step, global_step=step, walltime=1000.0 + step)
        w.add_scalar("acc", 0.5, 3, new_style=True)
        w.add_histogram("weights", lib.tensor(x), 2)
        w.add_text("note", "hello **run**", 1)
        w.add_image("img", lib.tensor(np.linspace(0, 1, 3 * 4 * 5).reshape(3, 4, 5)), 0)
        w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 7)
    acc = EventAccumulator(str(log_dir), size_guidance={"tensors": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    t = write(TorchWriter, torch, tmp_path_factory.mktemp("torch"))
    c = write(SummaryWriter, cr, tmp_path_factory.mktemp("chainrule"))
    return t, c


def test_same_tags(both):
    t, c = both
    for kind in ("scalars", "histograms", "images", "tensors"):
        assert sorted(c.Tags()[kind]) == sorted(t.Tags()[kind]), kind


def test_scalars(both):
    t, c = both
    for tag in t.Tags()["scalars"]:
        tv, cv = t.Scalars(tag), c.Scalars(tag)
        assert [e.step for e in cv] == [e.step for e in tv]
        np.testing.assert_allclose([e.value for e in cv], [e.value for e in tv], rtol=1e-7)
    assert [e.wall_time for e in c.Scalars("lr")] == [1000.0 + s for s in range(5)]


def test_histogram_statistics(both):
    t, c = both
    (th,), (ch,) = t.Histograms("weights"), c.Histograms("weights")
    assert ch.step == th.step
    for field in ("min", "max", "num", "sum", "sum_squares"):
        np.testing.assert_allclose(
            getattr(ch.histogram_value, field), getattr(th.histogram_value, field), rtol=1e-9
        )
    assert sum(ch.histogram_value.bucket) == th.histogram_value.num


def test_text_and_new_style_scalar(both):
    t, c = both
    for tag in t.Tags()["tensors"]:
        te, ce = t.Tensors(tag), c.Tensors(tag)
        assert [e.step for e in ce] == [e.step for e in te]
        assert ce[0].tensor_proto.string_val == te[0].tensor_proto.string_val
        assert ce[0].tensor_proto.float_val == te[0].tensor_proto.float_val


def test_image(both):
    t, c = both
    (ti,), (ci,) = t.Images("img"), c.Images("img")
    assert (ci.width, ci.height) == (ti.width, ti.height)
    from io import BytesIO

    from PIL import Image

    a = np.asarray(Image.open(BytesIO(ti.encoded_image_string)))
    b = np.asarray(Image.open(BytesIO(ci.encoded_image_string)))
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1


def test_scalars_groups_land_in_subruns_as_torch(tmp_path):
    for cls, d in ((TorchWriter, tmp_path / "t"), (SummaryWriter, tmp_path / "c")):
        with cls(str(d)) as w:
            w.add_scalars("pair", {"a": 1.0, "b": 2.0}, 7)
    assert sorted(p.name for p in (tmp_path / "c").iterdir() if p.is_dir()) == sorted(
        p.name for p in (tmp_path / "t").iterdir() if p.is_dir()
    )


def test_add_graph_says_not_implemented(tmp_path):
    with SummaryWriter(str(tmp_path)) as w, pytest.raises(NotImplementedError, match="add_graph"):
        w.add_graph(cr.nn.Linear(2, 2), cr.ones(1, 2))

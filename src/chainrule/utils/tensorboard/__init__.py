"""``chainrule.utils.tensorboard.SummaryWriter``: torch's writer of TensorBoard event files,
built on the ``tensorboard`` package's own event-file writer and protocol buffers (the
optional extra ``pip install chainrule[tensorboard]``).

Scalars, groups of scalars, histograms, text and images are written as torch writes them,
so ``tensorboard --logdir runs`` shows chainrule's runs next to torch's. ``add_graph``
needs torch's JIT tracer and is not implemented.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

import numpy as np

__all__ = ["SummaryWriter"]


def _require() -> Any:
    try:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise ImportError(
            "chainrule.utils.tensorboard needs the tensorboard package: "
            "pip install 'chainrule[tensorboard]' (or pip install tensorboard)"
        ) from e
    return EventFileWriter


def _numpy(x: Any) -> np.ndarray:
    from chainrule._tensor import Tensor

    if isinstance(x, Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def _tf_buckets() -> np.ndarray:
    """TensorFlow's default histogram edges: ±1e-12 growing by 10% to ±1e20, and 0."""
    pos = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))))
    pos = pos[pos < 1e20]
    return np.concatenate([-pos[::-1], [0.0], pos])


class SummaryWriter:
    """Writes events under ``log_dir`` (default ``runs/<date>_<host><comment>``)."""

    def __init__(
        self,
        log_dir: str | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ) -> None:
        writer = _require()
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = str(log_dir)
        self._writer = writer(self.log_dir, max_queue, flush_secs, filename_suffix)
        if purge_step is not None:  # tell TensorBoard to drop what a crashed run left after it
            self._event(file_version="brain.Event:2", step=purge_step)
            from tensorboard.compat.proto.event_pb2 import SessionLog

            self._event(session_log=SessionLog(status=SessionLog.START), step=purge_step)

    def get_logdir(self) -> str:
        """The directory the event files are written to."""
        return self.log_dir

    def _event(self, step: Any = None, walltime: Any = None, **fields: Any) -> None:
        from tensorboard.compat.proto.event_pb2 import Event

        event = Event(wall_time=time.time() if walltime is None else walltime, **fields)
        if step is not None:
            event.step = int(step)
        self._writer.add_event(event)

    def _summary(self, value: Any, step: Any, walltime: Any) -> None:
        from tensorboard.compat.proto.summary_pb2 import Summary

        self._event(summary=Summary(value=[value]), step=step, walltime=walltime)

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number under ``tag`` at step ``global_step`` (a point of a TensorBoard curve)."""
        from tensorboard.compat.proto.summary_pb2 import Summary

        value = float(_numpy(scalar_value).reshape(()))
        if new_style:
            from tensorboard.compat.proto.summary_pb2 import SummaryMetadata
            from tensorboard.compat.proto.tensor_pb2 import TensorProto

            proto = TensorProto(
                dtype="DT_DOUBLE" if double_precision else "DT_FLOAT",
                double_val=[value] if double_precision else [],
                float_val=[] if double_precision else [value],
            )
            meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
            summary = Summary.Value(tag=tag, tensor=proto, metadata=meta)
        else:
            summary = Summary.Value(tag=tag, simple_value=value)
        self._summary(summary, global_step, walltime)

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: dict[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """One run per key under ``log_dir/<main_tag>_<key>``, as torch lays them out."""
        if not hasattr(self, "_children"):
            self._children: dict[str, SummaryWriter] = {}
        for key, value in tag_scalar_dict.items():
            sub = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{key}")
            if sub not in self._children:
                self._children[sub] = SummaryWriter(sub)
            self._children[sub].add_scalar(main_tag, value, global_step, walltime)

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log the distribution of ``values`` (a tensor or array) under ``tag``, binned as
        torch bins it.
        """
        from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary

        v = _numpy(values).astype(np.float64).reshape(-1)
        if v.size == 0:
            raise ValueError("The input has no element.")
        edges = _tf_buckets() if isinstance(bins, str) and bins == "tensorflow" else bins
        counts, limits = np.histogram(v, bins=edges)
        used = np.flatnonzero(counts)  # drop the empty buckets at both ends
        counts = counts[used[0] : used[-1] + 1]
        limits = limits[used[0] + 1 : used[-1] + 2]  # each bucket by its right edge
        proto = HistogramProto(
            min=float(v.min()),
            max=float(v.max()),
            num=int(v.size),
            sum=float(v.sum()),
            sum_squares=float(v @ v),
            bucket_limit=limits.tolist(),
            bucket=counts.astype(np.float64).tolist(),
        )
        self._summary(Summary.Value(tag=tag, histo=proto), global_step, walltime)

    def add_text(
        self,
        tag: str,
        text_string: str,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a string under ``tag`` (TensorBoard's text tab)."""
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

        meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        proto = TensorProto(
            dtype="DT_STRING",
            string_val=[text_string.encode("utf-8")],
            tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
        )
        value = Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=proto)
        self._summary(value, global_step, walltime)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """An image (float in [0, 1] or uint8), encoded as PNG."""
        import io

        from PIL import Image
        from tensorboard.compat.proto.summary_pb2 import Summary

        img = _numpy(img_tensor)
        order = {"CHW": (1, 2, 0), "HWC": (0, 1, 2), "HW": None}
        if dataformats not in order:
            raise ValueError(f"dataformats must be one of CHW, HWC, HW, got {dataformats}")
        if dataformats == "HW":
            img = img[..., None]
        else:
            img = img.transpose(order[dataformats])
        if img.dtype != np.uint8:
            img = (np.clip(img, 0, 1) * 255.0).round().astype(np.uint8)
        h, w, c = img.shape
        buf = io.BytesIO()
        Image.fromarray(img[..., 0] if c == 1 else img).save(buf, format="PNG")
        image = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=buf.getvalue())
        self._summary(Summary.Value(tag=tag, image=image), global_step, walltime)

    def add_graph(self, model: Any, input_to_model: Any = None, *args: Any, **kwargs: Any) -> None:
        """Not implemented (torch traces the model with its JIT): raises NotImplementedError;
        draw the graph with ``chainrule.viz.draw_graph``.
        """
        raise NotImplementedError(
            "chainrule's SummaryWriter does not implement add_graph (torch traces the model "
            "with its JIT); draw the graph with chainrule.viz.draw_graph instead"
        )

    def flush(self) -> None:
        """Write pending events to disk."""
        self._writer.flush()
        for child in getattr(self, "_children", {}).values():
            child.flush()

    def close(self) -> None:
        """Flush and close the event files."""
        self._writer.close()
        for child in getattr(self, "_children", {}).values():
            child.close()

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

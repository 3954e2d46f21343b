"""embedding (a primitive: a row lookup whose vjp is an index_add that skips padding_idx) and
one_hot."""

from __future__ import annotations

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Tensor, _make, mutate
from chainrule._trace import state as trace
from chainrule.backend import K
from chainrule.graph import grad_mode
from chainrule.nn.functional._utils import type_name
from chainrule.ops.index.select import index_add, index_select
from chainrule.ops.op import Op, forward_ad, save_index


class Embedding(Op):
    """``weight[indices]``; the weight's gradient adds each row of ``g`` at its index, except
    at ``padding_idx`` (scaled by 1 / count with ``scale_grad_by_freq``)."""

    save_inputs = False

    def forward(self, w, idx, padding_idx, scale_grad_by_freq):
        self.idx, self.pad, self.freq = idx.reshape(-1), padding_idx, scale_grad_by_freq
        self.num = w.shape[0]
        return np.take(w, idx, axis=0)

    def backward(self, g):
        idx = self.idx
        g2 = g.reshape(idx.shape[0], -1)
        if not (self.freq or grad_mode.enabled or forward_ad.level):  # the kernel's scatter-add
            if trace.tracer is None:
                return _make(K.embedding_backward(g2._data, idx, self.num, self.pad))
            return EmbeddingGrad.apply(g2, idx=idx, num=self.num, padding_idx=self.pad)
        if self.freq:
            counts = np.bincount(idx, minlength=self.num)
            g2 = g2 * _make((1.0 / counts[idx]).astype(g2._data.dtype)[:, None])
        if self.pad is not None:
            keep = np.flatnonzero(idx != self.pad)
            if keep.size != idx.size:
                idx = idx[keep]
                g2 = index_select(g2, 0, _make(keep))
        # (the gradient's dtype: the weight's, where a float16 forward saw a float32 copy)
        zeros = _make(np.zeros((self.num, g2._data.shape[1]), dtype=g2._data.dtype))
        return index_add(zeros, 0, _make(idx), g2)


class EmbeddingGrad(Op):
    """Embedding's plain backward (``K.embedding_backward``, a scatter-add of the rows of
    ``g`` at ``idx``) as one kernel, so ``cr.compile``'s tracer records it. Run only with
    grad mode off (a plain backward): never recorded, never differentiated."""

    def forward(self, g, idx, num, padding_idx):
        return K.embedding_backward(g, idx, num, padding_idx)


def _renorm(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """torch's embedding_renorm_: rows looked up whose norm exceeds ``max_norm``, rescaled in
    place (no gradient)."""
    rows = np.unique(idx)
    norms = np.linalg.norm(weight._data[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    scale = (max_norm / (norms[big] + 1e-7)).astype(weight._data.dtype)
    mutate(weight)[rows[big]] *= scale[:, None]


@op(namespace="nn.functional", method=False)
def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at the integer ``input``; ``padding_idx`` gets no gradient."""
    if sparse:
        raise NotImplementedError(
            "chainrule: embedding(sparse=True) (a sparse gradient) is not supported"
        )
    idx = input._data
    n = weight._data.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            assert padding_idx < n, "Padding_idx must be within num_embeddings"
        elif padding_idx < 0:
            assert padding_idx >= -n, "Padding_idx must be within num_embeddings"
            padding_idx = n + padding_idx
    if idx.dtype not in (np.int64, np.int32):
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got chainrule.{type_name(input)}Tensor instead (while "
            "checking arguments for embedding)"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        _renorm(weight, idx.reshape(-1), max_norm, norm_type)
    out = Embedding.apply(
        weight, idx=idx, padding_idx=padding_idx, scale_grad_by_freq=scale_grad_by_freq
    )
    return save_index(out, input)


@op(namespace="nn.functional", method=False)
def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot rows of length ``num_classes`` (max + 1 when -1) for each index."""
    idx = tensor._data
    if idx.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if idx.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if idx.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return _make((idx[..., None] == np.arange(num_classes)).astype(np.int64))

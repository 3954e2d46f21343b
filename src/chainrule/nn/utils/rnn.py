"""``nn.utils.rnn``: variable-length batches for the recurrent layers.

A ``PackedSequence`` holds a batch's sequences time step by time step: ``data`` stacks, for
each step ``t``, the ``batch_sizes[t]`` sequences still running (longest first), and
``sorted_indices``/``unsorted_indices`` remember the order the sequences were given in.
Packing and padding are differentiable: they are indexing and copies, composed of tensor ops.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np

from chainrule import creation, dtypes
from chainrule._tensor import Tensor
from chainrule.dtypes import int64, scalar_type_name
from chainrule.ops.broadcast import broadcast_error
from chainrule.ops.shape import cat

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpad_sequence",
    "pack_sequence",
    "unpack_sequence",
]


class PackedSequence_(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


def _bind(optional: Any, fn: Any) -> Any:
    return None if optional is None else fn(optional)


class PackedSequence(PackedSequence_):
    """``(data, batch_sizes, sorted_indices, unsorted_indices)``, a named tuple as torch's;
    made by ``pack_padded_sequence`` and ``pack_sequence``, not by hand. Given
    ``sorted_indices`` alone, ``unsorted_indices`` is its inverse."""

    def __new__(cls, data: Any, batch_sizes: Tensor | None = None,
                sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None) -> PackedSequence:  # fmt: skip
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # PackedSequence((data, batch_sizes), sorted_indices)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """``data.to(...)``; the indices follow its device, ``batch_sizes`` stays as is."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cuda(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """Raises, as ``Tensor.cuda``: chainrule has no CUDA device."""
        kwargs["device"] = "cuda"
        return self.to(*args, **kwargs)

    def cpu(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """This packed sequence on the CPU (where it already is)."""
        return self.to(*args, **kwargs)

    def pin_memory(self) -> PackedSequence:
        """The same sequence (chainrule's memory is never pinned)."""
        return type(self)(self.data.pin_memory(), self.batch_sizes,
                          _bind(self.sorted_indices, lambda t: t.pin_memory()),
                          _bind(self.unsorted_indices, lambda t: t.pin_memory()))  # fmt: skip

    def double(self) -> PackedSequence:
        """The data cast to float64."""
        return self.to(dtype=dtypes.float64)

    def float(self) -> PackedSequence:
        """The data cast to float32."""
        return self.to(dtype=dtypes.float32)

    def half(self) -> PackedSequence:
        """The data cast to float16."""
        return self.to(dtype=dtypes.float16)

    def long(self) -> PackedSequence:
        """The data cast to int64."""
        return self.to(dtype=dtypes.int64)

    def int(self) -> PackedSequence:
        """The data cast to int32."""
        return self.to(dtype=dtypes.int32)

    def short(self) -> PackedSequence:
        """The data cast to int16."""
        return self.to(dtype=dtypes.int16)

    def char(self) -> PackedSequence:
        """The data cast to int8."""
        return self.to(dtype=dtypes.int8)

    def byte(self) -> PackedSequence:
        """The data cast to uint8."""
        return self.to(dtype=dtypes.uint8)

    @property
    def is_cuda(self) -> bool:
        """False: chainrule runs on the CPU."""
        return self.data.is_cuda

    def is_pinned(self) -> bool:
        """False: chainrule's memory is never pinned."""
        return False  # chainrule's memory is never pinned (CPU only)


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    """The inverse of a permutation (``None`` stays ``None``)."""
    if permutation is None:
        return None
    output = creation.empty_like(permutation)
    output.scatter_(0, permutation, creation.arange(0, permutation.numel()))
    return output


def _batch_sizes(lengths: np.ndarray, steps: int) -> np.ndarray:
    """How many of the (sorted, longest first) sequences are running at each time step."""
    return (lengths[None, :] > np.arange(steps)[:, None]).sum(1).astype(np.int64)


def pack_padded_sequence(input: Tensor, lengths: Tensor | list[int], batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:  # fmt: skip
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences of the
    given lengths; ``enforce_sorted=False`` sorts them (longest first) and remembers how."""
    if not isinstance(lengths, Tensor):
        lengths = creation.as_tensor(lengths, dtype=int64)
    else:
        lengths = lengths.to(dtype=int64)
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = lengths.sort(descending=True)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lengths.dim() != 1:
        raise RuntimeError(
            "'lengths' argument should be a 1D CPU int64 tensor, but got "
            f"{lengths.dim()}D cpu {scalar_type_name(lengths.dtype)} tensor"
        )
    if batch_first:
        input = input.transpose(0, 1)
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    batch = input.size(1)
    n = lengths._data
    if n.shape[0] != batch:
        raise RuntimeError(
            f"Expected `len(lengths)` to be equal to batch_size, but got {n.shape[0]} "
            f"(batch_size={batch})"
        )
    if n[-1] <= 0:
        raise RuntimeError(
            "Length of all samples has to be greater than 0, but found an element in "
            "'lengths' that is <= 0"
        )
    if (n[1:] > n[:-1]).any():
        raise RuntimeError(
            "`lengths` array must be sorted in decreasing order when `enforce_sorted` is "
            "True. You can pass `enforce_sorted=False` to pack_padded_sequence and/or "
            "pack_sequence to sidestep this requirement if you do not need ONNX exportability."
        )
    batch_sizes = _batch_sizes(n, int(n[0]))
    steps = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    rows = np.concatenate([np.arange(b) for b in batch_sizes])
    data = input[creation.tensor(steps), creation.tensor(rows)]
    return PackedSequence(data, creation.tensor(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
    """Undo ``pack_padded_sequence``: the padded batch (in the sequences' given order) and
    each sequence's length; ``total_length`` pads to that many steps."""
    batch_sizes = sequence.batch_sizes._data.astype(np.int64)
    max_seq_length = len(batch_sizes)
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError(
                "Expected total_length to be at least the length of the longest sequence in "
                f"input, but got total_length={total_length} and max sequence length being "
                f"{max_seq_length}"
            )
        max_seq_length = total_length
    data = sequence.data
    batch = int(batch_sizes[0])
    # where each (step, sequence) sits in data; the row past its end is the padding
    where = np.full((max_seq_length, batch), data.shape[0], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(batch_sizes)[:-1]])
    for t, (start, size) in enumerate(zip(starts, batch_sizes)):
        where[t, :size] = np.arange(start, start + size)
    pad = creation.full((1, *data.shape[1:]), padding_value, dtype=data.dtype)
    padded = cat([data, pad])[creation.tensor(where)]
    lengths = creation.tensor(_batch_sizes(batch_sizes, batch))  # steps each sequence runs
    if batch_first:
        padded = padded.transpose(0, 1)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, sequence.unsorted_indices)
        lengths = lengths[sequence.unsorted_indices]
    return padded, lengths


def pad_sequence(sequences: Tensor | list[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:  # fmt: skip
    """Stack sequences of different lengths (L_i, *) into (T, B, *) (or (B, T, *)), padding
    each on the right (or left) with ``padding_value`` (copies into a filled tensor)."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(
            "pad_sequence: Expected iterable for input sequences, but got arg of type: "
            f"{type(sequences)}"
        )
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(
            f"Expected padding_side to be one of left or right, but got {padding_side}."
        )
    first = sequences[0]
    if first.dim() == 0:
        raise RuntimeError("ArrayRef: invalid slice, N = 1; size = 0")
    max_len = max(s.size(0) for s in sequences)
    trailing = tuple(first.shape[1:])
    dims = (len(sequences), max_len) if batch_first else (max_len, len(sequences))
    out = creation.full((*dims, *trailing), padding_value, dtype=first.dtype)
    for i, seq in enumerate(sequences):
        length = seq.size(0)
        start = max_len - length if padding_side == "left" else 0
        if batch_first:
            target = out.select(0, i).narrow(0, start, length)
        else:
            target = out.narrow(0, start, length).select(1, i)
        error = broadcast_error(target, seq)  # copy_ broadcasts seq, as torch's
        if error is not None:
            raise error
        target.copy_(seq)
    return out


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor,
                   batch_first: bool = False) -> list[Tensor]:  # fmt: skip
    """The list of sequences in a padded batch, each cut to its length. As torch's, without
    ``batch_first`` it transposes ``padded_sequences`` in place."""
    unpadded = []
    if not batch_first:
        padded_sequences.transpose_(0, 1)
    idx = creation.arange(padded_sequences.shape[1])
    for seq, length in zip(padded_sequences, lengths):
        unpadded.append(seq[idx < length])
    return unpadded


def pack_sequence(sequences: list[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of sequences (L_i, *) (longest first, unless ``enforce_sorted=False``)."""
    lengths = creation.as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[Tensor]:
    """The list of sequences in a ``PackedSequence``, in their given order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)

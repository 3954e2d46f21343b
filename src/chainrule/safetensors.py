"""safetensors files as a PyTorch user reaches them, over chainrule tensors.

A torch program imports ``from safetensors import safe_open`` and ``from safetensors.torch
import save_file, load_file, save, load``; with chainrule the same names, with the same
parameters and behaviour, come from ``chainrule.safetensors`` (one module, as torch has no
module of its own for them: the safetensors package's ``safe_open`` and its torch
functions, chainrule tensors in place of torch's). ``safe_open`` reads lazily by key: the
header at open, each tensor only when asked for, a slice without reading the rest.

Sharded checkpoints, the layout published models use (``model-00001-of-00003.safetensors``
... and ``model.safetensors.index.json`` mapping each name to its shard, with
``metadata.total_size``): ``save_state_dict`` writes one under a size limit and
``load_model`` loads one (or a single file) into a Module in one call, with
``load_state_dict``'s strict key matching and torch's error text. They stand for
huggingface_hub's ``save_torch_state_dict`` and ``load_torch_model`` (transformers'
``load_sharded_checkpoint``), with torch's ``load_state_dict`` defaults (``strict=True``).

Every file is written atomically (see ``chainrule._atomic``). Errors are the safetensors
package's own ``SafetensorError`` where it raises one.
"""

from __future__ import annotations

import json
import os
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
from safetensors import SafetensorError

from chainrule import _safetensors_file as _sf
from chainrule._atomic import atomic_write
from chainrule._tensor import Tensor, _make

__all__ = [
    "safe_open",
    "save_file",
    "load_file",
    "save",
    "load",
    "save_state_dict",
    "load_model",
    "SafetensorError",
]

_TENSORS = ("pt", "torch", "pytorch", "chainrule")  # frameworks giving chainrule tensors
_NUMPY = ("np", "numpy")
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


def _check_device(device: Any) -> None:
    if str(device) != "cpu":
        raise RuntimeError(f"chainrule runs on the CPU only; cannot load to {device!r}")


def _open(filename: Any, mapped: bool = False) -> _sf.Reader:
    try:
        return _sf.Reader(os.fspath(filename), mapped=mapped)
    except _sf.FormatError as e:
        raise SafetensorError(f"Error while deserializing header: {filename}: {e}") from None
    except _sf.UnsupportedDtype as e:
        raise TypeError(f"{os.fspath(filename)}: {e}") from None


class safe_open:  # noqa: N801 (the safetensors package's name)
    """``safe_open(filename, framework="pt", device="cpu")``: a safetensors file opened
    lazily, as the safetensors package's ``safe_open``. ``keys()`` (sorted),
    ``offset_keys()`` (in file order), ``metadata()``, ``get_tensor(name)`` (read on
    demand; a tensor of its own), ``get_slice(name)[...]`` (reads only the slice).
    ``framework="pt"`` gives chainrule tensors, ``"numpy"`` NumPy arrays."""

    def __init__(self, filename: Any, framework: str, device: Any = "cpu") -> None:
        if framework not in _TENSORS + _NUMPY:
            raise SafetensorError(
                f"framework {framework} is invalid (chainrule reads 'pt' for chainrule "
                "tensors, or 'numpy')"
            )
        _check_device(device)
        self._numpy = framework in _NUMPY
        self._reader: _sf.Reader | None = _open(filename)
        self._name = os.fspath(filename)

    def _live(self) -> _sf.Reader:
        if self._reader is None:
            raise SafetensorError("File is closed")
        return self._reader

    def _wrap(self, a: np.ndarray) -> Any:
        return a if self._numpy else _make(_sf.for_tensor(a))

    def keys(self) -> list[str]:
        """The tensor names in the file, sorted."""
        return sorted(self._live().entries)

    def offset_keys(self) -> list[str]:
        """The tensor names in the order their data lies in the file."""
        entries = self._live().entries
        return sorted(sorted(entries), key=lambda k: (entries[k].begin, entries[k].end))

    def metadata(self) -> dict[str, str] | None:
        """The file's ``__metadata__`` dict of strings, or None when it has none."""
        meta = self._live().metadata
        return None if meta is None else dict(meta)

    def _entry(self, name: str) -> _sf.Entry:
        try:
            return self._live().entries[name]
        except KeyError:
            raise SafetensorError(f"File does not contain tensor {name}") from None

    def get_tensor(self, name: str) -> Any:
        """The tensor ``name``, read from the file now (a tensor of its own, not a view)."""
        self._entry(name)
        return self._wrap(self._live().array(name))

    def get_tensors(self) -> dict[str, Any]:
        """Every tensor of the file, by name, in file order."""
        return {k: self.get_tensor(k) for k in self.offset_keys()}

    def get_slice(self, name: str) -> _Slice:
        """A lazy handle on ``name``: ``get_shape()``, ``get_dtype()``, and indexing it reads
        only the slice asked for."""
        return _Slice(self, self._entry(name))

    def close(self) -> None:
        """Release the file; later reads raise ``SafetensorError``."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> safe_open:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"safe_open({self._name!r})"


class _Slice:
    """A tensor not read yet (the safetensors package's ``PySafeSlice``): its shape and
    dtype, and ``[...]`` reading only the part asked for."""

    def __init__(self, handle: safe_open, entry: _sf.Entry) -> None:
        self._handle, self._entry = handle, entry

    def get_shape(self) -> list[int]:
        return list(self._entry.shape)

    def get_dtype(self) -> str:
        return self._entry.code

    def __getitem__(self, key: Any) -> Any:
        return self._handle._wrap(self._handle._live().slice(self._entry.name, key))


# --------------------------------------------------------------------------- safetensors.torch


def _arrays(tensors: Any) -> dict[str, np.ndarray]:
    """safetensors.torch's checks of a dict to save, with its messages."""
    if not isinstance(tensors, dict):
        raise ValueError(f"Expected a dict of [str, chainrule.Tensor] but received {type(tensors)}")
    roots: dict[int, list[str]] = {}
    for k, v in tensors.items():
        if not isinstance(v, Tensor):
            raise ValueError(
                f"Key `{k}` is invalid, expected chainrule.Tensor but received {type(v)}"
            )
        if v.numel():  # torch's storages: tensors over one memory block share it
            root = v._data
            while isinstance(root.base, np.ndarray):
                root = root.base
            roots.setdefault(id(root), []).append(k)
    failing = [names for names in roots.values() if len(names) > 1]
    if failing:
        raise RuntimeError(
            "Some tensors share memory, this will lead to duplicate memory on disk and "
            f"potential differences when loading them again: {failing}. Save a clone of "
            "all but one of them, or save with chainrule.save, which stores each by value."
        )
    for k, v in tensors.items():
        if not v.is_contiguous():
            raise ValueError(
                f"You are trying to save a non contiguous tensor: `{k}` which is not allowed. "
                "It either means you are trying to save tensors which are reference of each "
                "other in which case it's recommended to save only the full tensors, and "
                "reslice at load time, or simply call `.contiguous()` on your tensor to pack "
                "it before saving."
            )
        _sf.code_of(v._data)
    return {k: v._data for k, v in tensors.items()}


def save(tensors: dict[str, Tensor], metadata: dict[str, str] | None = None) -> bytes:
    """A dict of tensors as the bytes of a safetensors file (``safetensors.torch.save``)."""
    return _sf.dumps(_arrays(tensors), metadata)


def save_file(
    tensors: dict[str, Tensor], filename: Any, metadata: dict[str, str] | None = None
) -> None:
    """Save a dict of tensors to ``filename`` (``safetensors.torch.save_file``): the same
    bytes as safetensors writes, written atomically."""
    arrays = _arrays(tensors)
    atomic_write(filename, lambda fh: _sf.write(fh, arrays, metadata), "save_file")


def load_file(filename: Any, device: Any = "cpu") -> dict[str, Tensor]:
    """Load a safetensors file into a dict of tensors (``safetensors.torch.load_file``)."""
    _check_device(device)
    with _open(filename) as reader:
        return {k: _make(_sf.for_tensor(reader.array(k))) for k in reader.entries}


def load(data: bytes) -> dict[str, Tensor]:
    """The tensors of a safetensors file's bytes (``safetensors.torch.load``)."""
    try:
        reader = _sf.Reader(bytes(data))
    except _sf.FormatError as e:
        raise SafetensorError(f"Error while deserializing header: {e}") from None
    with reader:
        return {k: _make(_sf.for_tensor(reader.array(k))) for k in reader.entries}


# --------------------------------------------------------------------------- sharded


_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}  # fmt: skip


def _size(size: int | str) -> int:
    """A size in bytes from an int or a string as huggingface_hub takes it ("5GB", "500MB",
    "2GiB"; GB is 10**9 bytes, GiB 2**30)."""
    if isinstance(size, int) and not isinstance(size, bool):
        n = size
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", str(size))
        unit = m.group(2).upper() if m else None
        if m is None or unit not in _UNITS:
            raise ValueError(
                f"max_shard_size must be a number of bytes or a size such as '5GB' or "
                f"'500MiB', got {size!r}"
            )
        n = int(float(m.group(1)) * _UNITS[unit])
    if n <= 0:
        raise ValueError(f"max_shard_size must be positive, got {size!r}")
    return n


def save_state_dict(
    state_dict: Mapping[str, Tensor],
    save_directory: Any,
    *,
    filename_pattern: str = "model{suffix}.safetensors",
    max_shard_size: int | str = "5GB",
    metadata: dict[str, str] | None = None,
) -> None:
    """Save a state dict in ``save_directory`` as published models are: shards of at most
    ``max_shard_size`` bytes each (a tensor larger than that gets a shard of its own),
    ``model-00001-of-0000N.safetensors`` ..., and ``model.safetensors.index.json`` (
    ``{"metadata": {"total_size": ..., **metadata}, "weight_map": {name: shard}}``); one
    shard is saved as ``model.safetensors`` with no index (huggingface_hub's
    ``save_torch_state_dict``). Each shard's header metadata is ``{"format": "pt"}``, which
    transformers requires. Tensors that share memory (tied weights) are each saved by value.
    Stale shards of an earlier save with the same pattern are removed. Each file is written
    atomically and the index last, after the old index is removed: an interrupted save
    leaves no index, never an index over a mix of old and new shards."""
    if "{suffix}" not in filename_pattern:
        raise ValueError(f"filename_pattern must contain '{{suffix}}', got {filename_pattern!r}")
    limit = _size(max_shard_size)
    arrays = {}
    for k, v in state_dict.items():
        if not isinstance(v, Tensor):
            raise ValueError(
                f"Key `{k}` is invalid, expected chainrule.Tensor but received {type(v)}"
            )
        _sf.code_of(v._data)
        arrays[k] = v._data
    shards: list[list[str]] = []
    size = limit + 1  # the first tensor starts a shard
    for k, a in arrays.items():
        if size + a.nbytes > limit or not shards:
            shards.append([])
            size = 0
        shards[-1].append(k)
        size += a.nbytes
    shards = shards or [[]]
    directory = os.fspath(save_directory)
    os.makedirs(directory, exist_ok=True)
    n = len(shards)
    names = [
        filename_pattern.format(suffix="" if n == 1 else f"-{i + 1:05d}-of-{n:05d}")
        for i in range(n)
    ]
    stale = re.compile(
        re.escape(filename_pattern).replace(re.escape("{suffix}"), r"(-\d{5}-of-\d{5})?") + "$"
    )
    index_name = filename_pattern.format(suffix="") + ".index.json"
    # the old index goes first: a save interrupted among the shards then leaves no index
    # (loading fails loudly) rather than an index over a mix of old and new shards
    for old in os.listdir(directory):
        if old == index_name or (stale.match(old) and old not in names):
            os.remove(os.path.join(directory, old))
    for name, keys in zip(names, shards):
        part = {k: arrays[k] for k in keys}
        atomic_write(
            os.path.join(directory, name),
            lambda fh, part=part: _sf.write(fh, part, {"format": "pt"}),
            "save_state_dict",
        )
    if n > 1:
        index = {
            "metadata": {"total_size": sum(a.nbytes for a in arrays.values()), **(metadata or {})},
            "weight_map": {k: name for name, keys in zip(names, shards) for k in keys},
        }
        text = json.dumps(index, indent=2, sort_keys=True) + "\n"
        atomic_write(
            os.path.join(directory, index_name),
            lambda fh: fh.write(text.encode()),
            "save_state_dict",
        )


def _checkpoint_files(path: str) -> tuple[list[str], dict[str, str] | None]:
    """The files of a checkpoint given as a directory, an index file or one .safetensors
    file, and the index's weight map (None for a single file)."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, INDEX_NAME)):
            path = os.path.join(path, INDEX_NAME)
        elif os.path.exists(os.path.join(path, SINGLE_NAME)):
            return [os.path.join(path, SINGLE_NAME)], None
        else:
            raise FileNotFoundError(
                f"{path} holds neither {INDEX_NAME} nor {SINGLE_NAME}: not a safetensors "
                "checkpoint directory"
            )
    if not path.endswith(".json"):
        return [path], None
    with open(path, encoding="utf-8") as fh:
        try:
            index = json.load(fh)
        except ValueError as e:
            raise ValueError(f"{path} is not a valid index file: {e}") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise ValueError(f"{path} is not a valid index file: it has no 'weight_map' of file names")
    folder = os.path.dirname(path)
    files = [os.path.join(folder, f) for f in dict.fromkeys(weight_map.values())]
    for f in files:
        if not os.path.exists(f):
            raise FileNotFoundError(f"{f}, a shard named in {path}, does not exist")
    return files, {k: os.path.join(folder, v) for k, v in weight_map.items()}


def load_model(
    model: Any,
    checkpoint_path: Any,
    *,
    strict: bool = True,
    assign: bool = False,
    mmap: bool = False,
) -> Any:
    """Load a checkpoint into ``model`` in one call: a directory holding
    ``model.safetensors.index.json`` and its shards (or ``model.safetensors``), an index
    file, or one ``.safetensors`` file. Keys are matched by ``model.load_state_dict(...,
    strict=strict, assign=assign)``, over all shards at once, so a missing or unexpected
    key anywhere gives torch's error text; returns its ``(missing_keys,
    unexpected_keys)``. The shards are mapped, not read: copying into the model's
    parameters needs no second copy in memory. With ``assign=True`` the parameters become
    the loaded tensors: read into memory, or left on the mapped file with ``mmap=True``."""
    files, weight_map = _checkpoint_files(os.fspath(checkpoint_path))
    state: dict[str, Tensor] = OrderedDict()
    for f in files:
        with _open(f, mapped=mmap or not assign) as reader:
            names = list(reader.entries)
            if weight_map is not None:
                mine = [k for k, v in weight_map.items() if v == f]
                absent = [k for k in mine if k not in reader.entries]
                if absent:
                    raise SafetensorError(
                        f"{f} does not contain {absent}, which the index maps to it"
                    )
                names = mine
            for k in names:
                state[k] = _make(_sf.for_tensor(reader.array(k)))
    return model.load_state_dict(state, strict=strict, assign=assign)

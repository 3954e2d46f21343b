"""``chainrule.save`` / ``chainrule.load`` in the safetensors format: tensors as raw bytes, the
rest as JSON. Only objects that format cannot hold are pickled (see ``_pickled``), and a
pickle is only read back with the explicit ``weights_only=False``.

A flat ``{name: tensor}`` dict (a model's ``state_dict``) is stored under its own keys, so the
file opens with ``safetensors.torch.load_file`` too. Anything else built from dicts, lists,
tuples, tensors, numbers, strings and None (an optimizer's ``state_dict``) is stored with its
tensors under flattened dotted keys and the structure as JSON in the header's metadata.
"""

from __future__ import annotations

import io
import json
import os
import pickle
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np

from chainrule import _pickled
from chainrule import _safetensors_file as _sf
from chainrule._atomic import atomic_write
from chainrule._tensor import Tensor, _make

__all__ = ["save", "load"]

_STRUCTURE = "chainrule.structure"  # metadata key holding the JSON structure
_FORMAT = {"format": "chainrule"}


def _name(f: Any) -> str:
    return os.fspath(f) if isinstance(f, str | os.PathLike) else repr(f)


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray]) -> Any:
    """The JSON form of ``obj``; its tensors go into ``tensors`` under dotted keys."""
    if isinstance(obj, Tensor):
        key = path or "tensor"
        while key in tensors:
            key += "_"
        tensors[key] = obj._data
        return {"__tensor__": key}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic) and obj.dtype.kind in "biuf":
        return obj.item()
    prefix = path + "." if path else ""
    if isinstance(obj, Mapping):
        items = []
        for k, v in obj.items():
            if not (k is None or isinstance(k, bool | int | float | str)):
                raise TypeError(
                    f"chainrule.save cannot store a dict key of type {type(k).__name__} "
                    "(strings, numbers, bools and None only)"
                )
            items.append([k, _encode(v, f"{prefix}{k}", tensors)])
        return {"__dict__": items, "ordered": isinstance(obj, OrderedDict)}
    if type(obj) in (list, tuple):  # a subclass (a namedtuple, PackedSequence) is pickled
        seq = [_encode(v, f"{prefix}{i}", tensors) for i, v in enumerate(obj)]
        return seq if isinstance(obj, list) else {"__tuple__": seq}
    raise TypeError(
        f"chainrule.save cannot store an object of type {type(obj).__name__}: only tensors, "
        "numbers, strings, None and dicts, lists and tuples of them"
    )


def _decode(obj: Any, tensors: Mapping[str, np.ndarray]) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return _make(tensors[obj["__tensor__"]])
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        items = [(k, _decode(v, tensors)) for k, v in obj["__dict__"]]
        return OrderedDict(items) if obj.get("ordered") else dict(items)
    return obj


def save(obj: Any, f: Any, pickle_module: Any = None, pickle_protocol: int = 2) -> None:
    """Write ``obj`` to ``f``: tensors, or dicts/lists/tuples of tensors and plain values, in
    the safetensors format; anything else (a Module, an ndarray) pickled as torch.save does,
    which ``load`` then reads only with ``weights_only=False``.

    A safetensors file is not torch.save's zip archive: ``torch.load`` cannot read it, and
    PyTorch reads it with ``safetensors.torch.load_file(path)``. Saving one under torch's
    suffixes (``.pt``, ``.pth``) warns so (a UserWarning); ``.safetensors`` says what it is.

    A path is written atomically (see ``_atomic``): an interrupted save leaves the previous
    file whole, never a truncated one. Tensors are streamed one at a time, so a save needs
    no second copy of the state dict in memory."""
    if pickle_module not in (None, pickle):
        raise ValueError(
            "chainrule.save pickles (only objects safetensors cannot hold) with the standard "
            f"pickle module; pickle_module={pickle_module!r} is not supported"
        )
    tensors: dict[str, np.ndarray] = {}
    flat = isinstance(obj, Mapping) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items()
    )
    if flat:
        for k, v in obj.items():
            tensors[k] = v._data
        structure = {
            "__dict__": [[k, {"__tensor__": k}] for k in obj],
            "ordered": isinstance(obj, OrderedDict),
        }
    else:
        try:
            structure = _encode(obj, "", tensors)
        except TypeError:  # a Module, an ndarray ...: pickled as torch.save does
            _write(f, lambda fh: _pickled.save(obj, fh))
            return
    metadata = {**_FORMAT, _STRUCTURE: json.dumps(structure)}
    try:
        for k, a in tensors.items():
            if k == "__metadata__":
                raise ValueError("a tensor cannot be named '__metadata__' in a safetensors file")
            _sf.code_of(a)
    except (TypeError, ValueError) as e:  # an unsupported dtype, say
        raise RuntimeError(f"chainrule.save could not write {_name(f)}: {e}") from e
    _warn_torch_suffix(f)
    _write(f, lambda fh: _sf.write(fh, tensors, metadata))


def _warn_torch_suffix(f: Any) -> None:
    """A safetensors file under torch's names (.pt, .pth) looks like torch.save's zip
    archive, which it is not: say so, and how a torch user reads it."""
    if isinstance(f, str | os.PathLike) and os.fspath(f).lower().endswith((".pt", ".pth")):
        import warnings

        name = os.fspath(f)
        warnings.warn(
            f"chainrule.save wrote {name} in the safetensors format, not torch.save's zip "
            f"archive, so torch.load cannot read it: in PyTorch, read it with "
            f"safetensors.torch.load_file({name!r}) (a state_dict comes back as the same dict "
            "of tensors); chainrule.load reads it as it is. Name the file .safetensors to say "
            "what it holds (and silence this warning).",
            UserWarning,
            stacklevel=3,
        )


def _write(f: Any, write: Any) -> None:
    if isinstance(f, str | os.PathLike):
        atomic_write(f, write)
    else:
        write(f)


# torch.save's zip archive, or the PROTO opcode a pickle of protocol 2 and up starts with
# (legacy torch.save, pickle.dump)
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def _invalid(f: Any, why: str) -> RuntimeError:
    return RuntimeError(f"{_name(f)} is not a valid chainrule/safetensors file: {why}")


def _is_pickle(head: bytes, size: int) -> bool:
    # Only a file that is not safetensors is judged by its magic: a safetensors header length
    # may well start with byte 0x80 (1152 = 0x480), and its header starts with "{".
    return (
        _sf.peek_header(head, size) is None
        and head[8:9] != b"{"
        and head[:4].startswith(_PICKLE_MAGIC)
    )


def load(
    f: Any,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: bool | None = None,
    **kwargs: Any,
) -> Any:
    """Read what ``save`` wrote, or any safetensors file (a dict of tensors). Pickled files
    (other objects, torch.save's files) load only with ``weights_only=False``: unpickling
    can run arbitrary code, so only for files from a trusted source.

    ``mmap=True`` (a path only, as torch) maps the file instead of reading it: each tensor
    is an array on the mapped pages, nothing is copied, and memory is used only for what is
    read. Pages are private (torch's default, MAP_PRIVATE): writing into a loaded tensor
    never changes the file. Without mmap each tensor is read straight into its own array
    (peak memory: the tensors, not the file twice)."""
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise RuntimeError(f"chainrule runs on the CPU only; cannot load to {map_location!r}")
    source: Any
    if isinstance(f, str | os.PathLike):
        with open(f, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            n = int.from_bytes(head, "little") if len(head) == 8 else 0
            head += fh.read(n if n <= min(size - 8, _sf.MAX_HEADER) else 0)
            if _is_pickle(head, size):
                fh.seek(0)
                data = fh.read()
        source = f
    else:
        if mmap:
            raise ValueError("f must be a file path in order to use the mmap argument")
        if isinstance(f, bytes | bytearray):
            data = bytes(f)
        elif isinstance(f, io.IOBase) or hasattr(f, "read"):
            data = f.read()
        else:
            raise TypeError(
                f"chainrule.load expects a path or a binary file, got {type(f).__name__}"
            )
        size, head, source = len(data), bytes(data[: 8 + _sf.MAX_HEADER]), data
    if _is_pickle(head, size):
        if weights_only is False:  # the explicit opt-in: unpickling runs the file's code
            return _pickled.load(bytes(data))
        raise pickle.UnpicklingError(_pickled.REFUSED.format(what=_name(f)))
    try:
        with _sf.Reader(source, mapped=bool(mmap)) as reader:
            arrays = {k: _sf.for_tensor(reader.array(k)) for k in reader.entries}
            metadata = reader.metadata or {}
    except _sf.FormatError as e:
        raise _invalid(f, str(e)) from None
    except _sf.UnsupportedDtype as e:
        raise TypeError(f"{_name(f)}: {e}") from None
    structure = metadata.get(_STRUCTURE)
    if structure is None:  # a plain safetensors file: tensors in header order
        return OrderedDict((k, _make(a)) for k, a in arrays.items())
    try:
        return _decode(json.loads(structure), arrays)
    except Exception as e:
        raise _invalid(f, f"its chainrule structure metadata is damaged ({e!r})") from e

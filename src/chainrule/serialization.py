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
from chainrule._tensor import Tensor, _make

__all__ = ["save", "load"]

_STRUCTURE = "chainrule.structure"  # metadata key holding the JSON structure
_FORMAT = {"format": "chainrule"}
# safetensors dtypes chainrule reads (U16/U32 widened to int32/int64, as from NumPy)
_DTYPES = ("BOOL", "U8", "I8", "I16", "I32", "I64", "F16", "F32", "F64", "C64", "U16", "U32")
_WIDEN = {np.dtype(np.uint16): np.dtype(np.int32), np.dtype(np.uint32): np.dtype(np.int64)}


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else a.copy(order="C")


def _name(f: Any) -> str:
    return os.fspath(f) if isinstance(f, str | os.PathLike) else repr(f)


def _encode(obj: Any, path: str, tensors: dict[str, np.ndarray]) -> Any:
    """The JSON form of ``obj``; its tensors go into ``tensors`` under dotted keys."""
    if isinstance(obj, Tensor):
        key = path or "tensor"
        while key in tensors:
            key += "_"
        tensors[key] = _contiguous(obj._data)
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
    which ``load`` then reads only with ``weights_only=False``."""
    import safetensors.numpy

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
            tensors[k] = _contiguous(v._data)
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
        data = safetensors.numpy.save(tensors, metadata=metadata)
    except Exception as e:  # an unsupported dtype, say
        raise RuntimeError(f"chainrule.save could not write {_name(f)}: {e}") from e
    _write(f, lambda fh: fh.write(data))


def _write(f: Any, write: Any) -> None:
    if isinstance(f, str | os.PathLike):
        with open(f, "wb") as fh:
            write(fh)
    else:
        write(f)


# torch.save's zip archive, or the PROTO opcode a pickle of protocol 2 and up starts with
# (legacy torch.save, pickle.dump)
_PICKLE_MAGIC = (b"PK\x03\x04", b"\x80")


def _header(data: bytes) -> dict[str, Any] | None:
    """The safetensors header of ``data``: an 8-byte little-endian length, then a JSON object
    of that many bytes within the file; None when ``data`` has no such header."""
    if len(data) < 8:
        return None
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        return None
    try:
        header = json.loads(data[8 : 8 + n])
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep
        return None
    return header if isinstance(header, dict) else None


def _invalid(f: Any, why: str) -> RuntimeError:
    return RuntimeError(f"{_name(f)} is not a valid chainrule/safetensors file: {why}")


def load(
    f: Any,
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = None,
    mmap: Any = None,
    **kwargs: Any,
) -> Any:
    """Read what ``save`` wrote, or any safetensors file (a dict of tensors). Pickled files
    (other objects, torch.save's files) load only with ``weights_only=False``: unpickling
    can run arbitrary code, so only for files from a trusted source."""
    import safetensors.numpy

    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise RuntimeError(f"chainrule runs on the CPU only; cannot load to {map_location!r}")
    if isinstance(f, str | os.PathLike):
        with open(f, "rb") as fh:
            data = fh.read()
    elif isinstance(f, bytes | bytearray):
        data = bytes(f)
    elif isinstance(f, io.IOBase) or hasattr(f, "read"):
        data = f.read()
    else:
        raise TypeError(f"chainrule.load expects a path or a binary file, got {type(f).__name__}")
    header = _header(data)
    # Only a file that is not safetensors is judged by its magic: a safetensors header length
    # may well start with byte 0x80 (1152 = 0x480), and its header starts with "{".
    if header is None and data[8:9] != b"{" and bytes(data[:4]).startswith(_PICKLE_MAGIC):
        if weights_only is False:  # the explicit opt-in: unpickling runs the file's code
            return _pickled.load(bytes(data))
        raise pickle.UnpicklingError(_pickled.REFUSED.format(what=_name(f)))
    if len(data) < 8:
        raise _invalid(f, f"it has only {len(data)} bytes, fewer than the 8-byte header size")
    if isinstance(header, dict):  # name a dtype chainrule lacks before safetensors fails on it
        for name, info in header.items():
            dt = info.get("dtype") if isinstance(info, dict) and name != "__metadata__" else None
            if isinstance(dt, str) and dt not in _DTYPES:
                raise TypeError(
                    f"{_name(f)}: tensor {name!r} has dtype {dt}, which chainrule does not "
                    f"support (it reads {', '.join(_DTYPES)})"
                )
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as e:
        raise _invalid(f, str(e)) from e
    if not isinstance(header, dict):
        raise _invalid(f, "its header is not a JSON object")
    for k, a in arrays.items():  # U16/U32 have no chainrule twin: widen losslessly
        if a.dtype in _WIDEN:
            arrays[k] = a.astype(_WIDEN[a.dtype])
    structure = (header.get("__metadata__") or {}).get(_STRUCTURE)
    if structure is None:  # a plain safetensors file: tensors in header order
        order = [k for k in header if k != "__metadata__"]
        return OrderedDict((k, _make(arrays[k])) for k in order)
    try:
        return _decode(json.loads(structure), arrays)
    except Exception as e:
        raise _invalid(f, f"its chainrule structure metadata is damaged ({e!r})") from e

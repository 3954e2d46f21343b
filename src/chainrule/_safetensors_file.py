"""The safetensors format on NumPy arrays, read and written by chainrule itself (the
``safetensors`` package builds a whole file in memory on save and copies every tensor on
load; here a save streams one tensor at a time and a load can map the file).

A file is an 8-byte little-endian header length ``n``, ``n`` bytes of JSON (``{name:
{"dtype", "shape", "data_offsets": [begin, end]}}``, plus an optional ``"__metadata__"``
object of strings; padded with spaces to a multiple of 8), then the tensors' bytes, packed
without holes in the order of their offsets. ``write`` lays a file out byte for byte as
the safetensors package does (tensors sorted by dtype, widest first, then by name; the
header as compact JSON, metadata keys sorted), so ``safetensors.torch.save_file`` and
``chainrule.safetensors.save_file`` give identical files. ``Reader`` validates a header
as the safetensors package does (an incomplete or overlapping layout is refused) and
gives each tensor as a copy read from the file, or, over a mapping, as an array on the
mapped memory.
"""

from __future__ import annotations

import json
import math
import mmap
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from chainrule.dtypes import BF16, REDUCED, precision

MAX_HEADER = 100_000_000  # the safetensors package's limit on the header's size

# safetensors dtype names <-> NumPy dtypes chainrule reads
DTYPES: dict[str, np.dtype] = {
    "BOOL": np.dtype(np.bool_),
    "U8": np.dtype(np.uint8),
    "I8": np.dtype(np.int8),
    "I16": np.dtype(np.int16),
    "U16": np.dtype(np.uint16),
    "F16": np.dtype(np.float16),
    "BF16": BF16,  # ml_dtypes' bfloat16
    "I32": np.dtype(np.int32),
    "U32": np.dtype(np.uint32),
    "F32": np.dtype(np.float32),
    "C64": np.dtype(np.complex64),
    "F64": np.dtype(np.float64),
    "I64": np.dtype(np.int64),
}
CODES: dict[np.dtype, str] = {v: k for k, v in DTYPES.items()}
# U16/U32 have no chainrule (or torch < 2.3) twin: a tensor of them is widened losslessly
_WIDEN = {np.dtype(np.uint16): np.dtype(np.int32), np.dtype(np.uint32): np.dtype(np.int64)}


def for_tensor(a: np.ndarray) -> np.ndarray:
    """``a`` as a chainrule tensor can hold it (U16/U32 widened to int32/int64)."""
    if a.dtype in REDUCED:
        precision.active = True  # float16/bfloat16 arrays: their math switches on
    return a.astype(_WIDEN[a.dtype]) if a.dtype in _WIDEN else a


# the order of the safetensors package's Dtype enum, by which it sorts a file's tensors
_RANK = {
    name: i
    for i, name in enumerate(
        "BOOL F4 F6_E2M3 F6_E3M2 U8 I8 F8_E5M2 F8_E4M3 F8_E8M0 I16 U16 F16 BF16 I32 U32 F32 "
        "C64 F64 I64 U64".split()
    )
}


class FormatError(ValueError):
    """The file is not valid safetensors; the message says why (callers name the file)."""


class UnsupportedDtype(TypeError):
    """A valid file holding a dtype chainrule does not read."""

    def __init__(self, name: str, code: str) -> None:
        super().__init__(
            f"tensor {name!r} has dtype {code}, which chainrule does not support "
            f"(it reads {', '.join(DTYPES)})"
        )


def code_of(a: np.ndarray) -> str:
    try:
        return CODES[a.dtype.newbyteorder("=")]
    except KeyError:
        raise TypeError(f"the safetensors format has no dtype {a.dtype.name}") from None


# --------------------------------------------------------------------------- writing


def _layout(
    arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None
) -> tuple[bytes, list[str]]:
    """The padded header (length prefix included) and the order the tensors follow it in."""
    codes = {k: code_of(a) for k, a in arrays.items()}
    order = sorted(arrays, key=lambda k: (-_RANK[codes[k]], k))
    header: dict[str, Any] = {}
    if metadata is not None:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError(f"safetensors metadata maps strings to strings; got {k!r}: {v!r}")
        header["__metadata__"] = dict(sorted(metadata.items()))
    offset = 0
    for k in order:
        a = arrays[k]
        if k == "__metadata__":
            raise ValueError("a tensor cannot be named '__metadata__' in a safetensors file")
        header[k] = {"dtype": codes[k], "shape": list(a.shape), "data_offsets": [offset, 0]}
        offset += a.nbytes
        header[k]["data_offsets"][1] = offset
    blob = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    return len(blob).to_bytes(8, "little") + blob, order


def _bytes(a: np.ndarray) -> memoryview:
    if a.dtype.byteorder == ">":
        a = a.astype(a.dtype.newbyteorder("<"))
    return memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


def write(fh: Any, arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> None:
    """Write ``arrays`` to the binary file ``fh`` as the safetensors package would, one
    tensor at a time (a non-contiguous one is copied on its own, never the whole dict)."""
    head, order = _layout(arrays, metadata)
    fh.write(head)
    for k in order:
        if arrays[k].size:
            fh.write(_bytes(arrays[k]))


def dumps(arrays: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None) -> bytes:
    head, order = _layout(arrays, metadata)
    return head + b"".join(_bytes(arrays[k]).tobytes() for k in order)


# --------------------------------------------------------------------------- reading


def peek_header(head: bytes, size: int) -> dict[str, Any] | None:
    """The JSON header of a file whose first bytes are ``head`` (all ``size`` of them, or at
    least the header), or None when it has none: tells safetensors from other files."""
    if len(head) < 8:
        return None
    n = int.from_bytes(head[:8], "little")
    if n > size - 8 or len(head) < 8 + n:
        return None
    try:
        header = json.loads(head[8 : 8 + n])
    except (ValueError, RecursionError):  # not JSON (or not UTF-8), or nested too deep
        return None
    return header if isinstance(header, dict) else None


class Entry:
    __slots__ = ("name", "code", "dtype", "shape", "begin", "end")

    def __init__(self, name: str, code: str, dtype: np.dtype, shape: tuple, begin: int, end: int):
        self.name, self.code, self.dtype, self.shape = name, code, dtype, shape
        self.begin, self.end = begin, end


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def parse(head: bytes, size: int) -> tuple[int, dict[str, Entry], dict[str, str] | None]:
    """Validate a header as the safetensors package does: (data start, the tensors in
    header order, the metadata). ``head`` holds at least the header."""
    if size < 8:
        raise FormatError(f"it has only {size} bytes, fewer than the 8-byte header size")
    n = int.from_bytes(head[:8], "little")
    if n > MAX_HEADER:
        raise FormatError(f"its header length {n} is larger than the limit of {MAX_HEADER}")
    if 8 + n > size:
        raise FormatError(f"its header length {n} runs past the end of the file ({size} bytes)")
    raw = head[8 : 8 + n]
    if raw[:1] != b"{":
        raise FormatError("its header does not start with '{'")
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise FormatError(f"its header is not valid JSON ({e})") from None
    if not isinstance(header, dict):
        raise FormatError("its header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())
    ):
        raise FormatError("its __metadata__ is not an object of strings")
    entries: dict[str, Entry] = {}
    for name, info in header.items():
        ok = isinstance(info, dict) and isinstance(info.get("dtype"), str)
        shape, offsets = (info.get("shape"), info.get("data_offsets")) if ok else (None, None)
        if not (
            ok
            and isinstance(shape, list)
            and all(_is_int(d) for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(_is_int(o) for o in offsets)
        ):
            raise FormatError(f"the entry of tensor {name!r} is malformed: {info!r}")
        code = info["dtype"]
        if code not in _RANK:
            raise FormatError(f"tensor {name!r} has an unknown dtype {code!r}")
        if code not in DTYPES:
            raise UnsupportedDtype(name, code)
        dtype = DTYPES[code]
        item = dtype.itemsize
        begin, end = offsets
        if end < begin or end - begin != math.prod(shape) * item:
            raise FormatError(
                f"tensor {name!r} of dtype {code} and shape {shape} should take "
                f"{math.prod(shape) * item} bytes, but its offsets {offsets} span {end - begin}"
            )
        entries[name] = Entry(name, code, dtype, tuple(shape), begin, end)
    at = 0
    for e in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if e.begin != at:
            raise FormatError(
                f"tensor {e.name!r} starts at byte {e.begin} of the data, expected {at}: "
                "the tensors overlap or leave a hole"
            )
        at = e.end
    if at != size - 8 - n:
        raise FormatError(
            f"its tensors take {at} bytes but the file holds {size - 8 - n} after the header "
            "(truncated or padded)"
        )
    return 8 + n, entries, metadata


class Reader:
    """A safetensors file's header and tensors, from a path (read, or mapped with
    ``mapped=True``) or from bytes in memory."""

    def __init__(self, source: Any, *, mapped: bool = False) -> None:
        self._fh = None
        self._map: mmap.mmap | None = None
        self._peek: mmap.mmap | None = None
        self._buf: Any = None
        if isinstance(source, bytes | bytearray | memoryview):
            self._buf = memoryview(source)
            self.size = len(self._buf)
            head = bytes(self._buf[: 8 + self._head_length(bytes(self._buf[:8]))])
        else:
            self._fh = open(source, "rb")  # noqa: SIM115 (closed by close())
            try:
                self.size = os.fstat(self._fh.fileno()).st_size
                first = self._fh.read(8)
                head = first + self._fh.read(self._head_length(first))
                if mapped and self.size:
                    # private, copy-on-write pages: a tensor written in place never changes
                    # the file (torch.load(mmap=True)'s default, MAP_PRIVATE)
                    self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_COPY)
            except BaseException:
                self.close()
                raise
        try:
            self.start, self.entries, self.metadata = parse(head, self.size)
        except BaseException:
            self.close()
            raise

    def _head_length(self, first: bytes) -> int:
        n = int.from_bytes(first, "little") if len(first) == 8 else 0
        return n if n <= min(MAX_HEADER, max(self.size - 8, 0)) else 0

    def keys(self) -> list[str]:
        return list(self.entries)

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name``: on the mapped memory when mapped (an empty or misaligned one,
        which the safetensors package never writes, is read), else a fresh writable array."""
        e = self.entries[name]
        count = math.prod(e.shape)
        if self._map is not None and count and (self.start + e.begin) % e.dtype.alignment == 0:
            return np.frombuffer(self._map, e.dtype, count, self.start + e.begin).reshape(e.shape)
        out = np.empty(e.shape, e.dtype)
        if count:
            dest = memoryview(out.reshape(-1).view(np.uint8))
            if self._buf is not None:
                dest[:] = self._buf[self.start + e.begin : self.start + e.end]
            else:
                assert self._fh is not None
                self._fh.seek(self.start + e.begin)
                got = self._fh.readinto(dest)
                if got != e.end - e.begin:
                    raise FormatError(f"the file ended inside tensor {name!r} (changed on disk?)")
        return out

    def slice(self, name: str, key: Any) -> np.ndarray:
        """``tensor[key]`` read without reading the rest of the tensor (a copy)."""
        e = self.entries[name]
        mapping = self._map
        if mapping is None and self._fh is not None:
            if self._peek is None:  # read-only: slices are copied out of it
                self._peek = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
            mapping = self._peek
        if mapping is None:
            return self.array(name)[key].copy()
        count = math.prod(e.shape)
        if count == 0:
            return np.empty(e.shape, e.dtype)[key].copy()
        raw = np.frombuffer(mapping, np.uint8, e.end - e.begin, self.start + e.begin)
        return np.array(raw.view(e.dtype).reshape(e.shape)[key])

    def close(self) -> None:
        for m in (self._map, self._peek):
            if m is not None:
                try:
                    m.close()
                except BufferError:  # arrays still use the mapping: it closes when they go
                    pass
        self._map = self._peek = None
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def arrays_of(names: Iterable[str], reader: Reader) -> dict[str, np.ndarray]:
    return {k: reader.array(k) for k in names}

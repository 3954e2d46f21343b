"""MNIST and Fashion-MNIST from the standard IDX files (gzipped or not), and an IDX reader.

Nothing is downloaded: put the four files (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
optionally ending in ``.gz``) in ``root``, or in ``root/MNIST/raw`` as torchvision does.
"""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import numpy as np

import chainrule.ops  # noqa: F401 (attaches the Tensor methods)
from chainrule._tensor import _make
from chainrule.utils.data import Dataset

__all__ = ["read_idx", "write_idx", "MNIST", "FashionMNIST"]

# IDX type codes -> big-endian NumPy dtypes
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped when the name ends in ``.gz``)."""
    path = Path(path)
    with _open(path) as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4]!r})")
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}i", raw[4 : 4 + 4 * ndim])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    count = int(np.prod(shape)) if shape else 1
    start = 4 + 4 * ndim
    if len(raw) - start < count * dtype.itemsize:
        raise ValueError(f"{path} is truncated: shape {shape} needs {count * dtype.itemsize} bytes")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=start)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when the name ends in ``.gz``)."""
    path = Path(path)
    array = np.asarray(array)
    code = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}[array.dtype]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    body = array.astype(array.dtype.newbyteorder(">")).tobytes()
    with gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb") as f:
        f.write(head + body)


class DatasetNotFoundError(RuntimeError):
    """A dataset's file is missing (a RuntimeError, as torchvision raises): ``missing`` (the
    file's name), ``folders`` (where it was looked for), ``source`` (where to get it)."""

    def __init__(self, message: str, *, missing: str, folders: tuple, source: str) -> None:
        super().__init__(message)
        self.missing, self.folders, self.source = missing, folders, source


class MNIST(Dataset):
    """``MNIST(root, train=True, transform=None, target_transform=None)``.

    ``data`` is a uint8 tensor (N, 28, 28) and ``targets`` an int64 tensor (N,), as in
    torchvision. Without a ``transform`` an item is ``(uint8 image tensor, int label)``.
    """

    files = {
        True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    }
    # where the standard IDX files are published (torchvision downloads from this mirror of
    # the original page, http://yann.lecun.com/exdb/mnist/)
    source = "https://ossci-datasets.s3.amazonaws.com/mnist/"
    classes = [f"{i} - {w}" for i, w in enumerate(
        "zero one two three four five six seven eight nine".split())]  # fmt: skip

    def __init__(
        self,
        root: str | Path,
        train: bool = True,
        transform: Any = None,
        target_transform: Any = None,
        download: bool = False,
    ) -> None:
        self.root = Path(root).expanduser()
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            raise RuntimeError(
                f"chainrule does not download datasets: put the {type(self).__name__} IDX files "
                f"in {self.raw_folder} (or {self.root}) yourself"
            )
        images, labels = (self._find(name) for name in self.files[train])
        x, y = read_idx(images), read_idx(labels)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{images} and {labels} do not match: shapes {x.shape}, {y.shape}")
        self.data = _make(np.ascontiguousarray(x, dtype=np.uint8))
        self.targets = _make(y.astype(np.int64))

    @property
    def raw_folder(self) -> Path:
        """Where the IDX files are looked for: ``root/MNIST/raw`` (``FashionMNIST/raw``)."""
        return self.root / type(self).__name__ / "raw"

    def _find(self, name: str) -> Path:
        for folder in (self.root, self.raw_folder):
            for candidate in (folder / name, folder / (name + ".gz")):
                if candidate.exists():
                    return candidate
        all_files = [n for pair in self.files.values() for n in pair]
        raise DatasetNotFoundError(
            f"Dataset not found: {name} (or {name}.gz) is in neither {self.root} nor "
            f"{self.raw_folder}. Download the four {type(self).__name__} files "
            f"({', '.join(all_files)}; gzipped or not) from {self.source} and put them in one "
            "of those folders.",
            missing=name,
            folders=(self.root, self.raw_folder),
            source=self.source,
        )

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index], int(self.targets._data[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(float32 images (N, 1, 28, 28) in [0, 1], int64 labels) for fast training loops."""
        return self.data._data[:, None].astype(np.float32) / 255.0, self.targets._data


class FashionMNIST(MNIST):
    """Fashion-MNIST: the same files and layout as MNIST, clothes instead of digits."""

    source = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]  # fmt: skip

"""``chainrule.device``: chainrule computes on the CPU only; devices exist so torch code ports."""

from __future__ import annotations

from typing import Any

__all__ = ["device", "get_default_device", "set_default_device"]


class device:
    """A device name (only ``'cpu'`` is available), printed like torch's."""

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index
        name, _, number = str(type).partition(":")
        if name not in ("cpu", "cuda", "mps", "meta"):
            raise RuntimeError(
                "Expected one of cpu, cuda, mps, meta device type at start of device string: "
                f"{type}"
            )
        self.type = name
        self.index = int(number) if number else index

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')"
            if self.index is None
            else (f"device(type='{self.type}', index={self.index})")
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self) -> device:
        """``with torch.device("cpu"):`` makes it the default device inside the block."""
        check_cpu(self)
        return self

    def __exit__(self, *exc: object) -> None:
        return None


CPU = device("cpu")


def check_cpu(where: Any) -> None:
    """Refuse anything but the CPU with a clear message."""
    if where is None:
        return
    if device(where).type != "cpu":
        raise RuntimeError(
            f"chainrule runs on the CPU only; cannot use device {str(where)!r} "
            "(chainrule.cuda.is_available() is False)"
        )


def get_default_device() -> device:
    """The device new tensors are created on: always the CPU."""
    return CPU


def set_default_device(device: Any) -> None:
    """Accepts the CPU (or ``None``, torch's reset); refuses any other device clearly."""
    check_cpu(device)

"""``chainrule.onnx``: importable so torch programs that import ``torch.onnx`` run; exporting
a model to ONNX is not implemented and says so."""

from __future__ import annotations

from typing import Any

__all__ = ["export", "is_in_onnx_export"]


def export(model: Any, args: Any = (), f: Any = None, *rest: Any, **kwargs: Any) -> Any:
    """Raises NotImplementedError: chainrule has no ONNX exporter (save the weights with
    ``chainrule.save`` and export from PyTorch)."""
    raise NotImplementedError(
        "chainrule does not implement torch.onnx.export: chainrule has no ONNX exporter "
        "(save the weights with chainrule.save and export from PyTorch instead)"
    )


def is_in_onnx_export() -> bool:
    """False: chainrule never exports to ONNX."""
    return False

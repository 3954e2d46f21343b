"""``torch.nn.functional``: the activations, convolutions and pooling of the op catalog, plus
linear, dropout, embedding, padding, normalization, attention, upsampling and the losses.

Every function here is declared where it is defined, in the registry's ``nn.functional``
namespace (``@op(namespace="nn.functional")``): the catalog's activations, convolutions and
pooling in ``chainrule.ops``, and the layers' math in this package's files, by family.
"""

from __future__ import annotations

from chainrule import _coverage, _registry, ops
from chainrule.nn.functional import (  # noqa: F401  (importing a file declares its functions)
    activation,
    attention,
    classification,
    dropout,
    fold,
    linear,
    loss,
    margin_loss,
    normalization,
    padding,
    sparse,
    upsampling,
)

__all__ = _registry.export(globals(), "nn.functional")
_ = ops  # the catalog's families declare their nn.functional ops on import
__getattr__ = _coverage.missing_attribute(__name__, "torch.nn.functional")

"""Neural networks: Module, Parameter, containers, layers, losses, functional, init and utils
(``torch.nn``).

Each submodule lists its public names in a literal ``__all__``; a new layer file gets a
star import and an ``__all__`` line here (written out, so type checkers see every layer).
"""

from __future__ import annotations

from chainrule import _coverage
from chainrule.nn import (
    activation,
    attention,
    container,
    conv,
    dropout,
    flatten,
    functional,
    init,
    linear,
    loss,
    normalization,
    parallel,
    parameter_container,
    pooling,
    rnn,
    sparse,
    transformer,
    upsampling,
    utils,
)
from chainrule.nn.activation import *  # noqa: F403
from chainrule.nn.attention import *  # noqa: F403
from chainrule.nn.container import *  # noqa: F403
from chainrule.nn.conv import *  # noqa: F403
from chainrule.nn.dropout import *  # noqa: F403
from chainrule.nn.flatten import *  # noqa: F403
from chainrule.nn.linear import *  # noqa: F403
from chainrule.nn.loss import *  # noqa: F403
from chainrule.nn.module import Module
from chainrule.nn.normalization import *  # noqa: F403
from chainrule.nn.parameter import Parameter
from chainrule.nn.parameter_container import *  # noqa: F403
from chainrule.nn.pooling import *  # noqa: F403
from chainrule.nn.rnn import *  # noqa: F403
from chainrule.nn.sparse import *  # noqa: F403
from chainrule.nn.transformer import *  # noqa: F403
from chainrule.nn.upsampling import *  # noqa: F403

__all__ = ["Module", "Parameter", "functional", "init", "parallel", "utils"]
__all__ += container.__all__
__all__ += parameter_container.__all__
__all__ += linear.__all__
__all__ += conv.__all__
__all__ += pooling.__all__
__all__ += normalization.__all__
__all__ += sparse.__all__
__all__ += dropout.__all__
__all__ += activation.__all__
__all__ += attention.__all__
__all__ += transformer.__all__
__all__ += upsampling.__all__
__all__ += flatten.__all__
__all__ += loss.__all__
__all__ += rnn.__all__
__getattr__ = _coverage.missing_attribute(__name__, "torch.nn")

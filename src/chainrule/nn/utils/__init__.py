"""``nn.utils``: gradient clipping, flattening parameters to one vector, and ``rnn`` (packed
and padded sequences)."""

from __future__ import annotations

from chainrule.nn.utils import clip_grad, convert_parameters, rnn
from chainrule.nn.utils.clip_grad import *  # noqa: F403
from chainrule.nn.utils.convert_parameters import *  # noqa: F403

__all__ = [*clip_grad.__all__, *convert_parameters.__all__, "rnn"]

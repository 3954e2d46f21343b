"""``chainrule.distributions``: torch.distributions' families, each with ``sample``,
``rsample`` where torch has it (differentiable), ``log_prob``, ``entropy``, ``mean``,
``variance``, torch's argument validation, and ``kl_divergence`` for torch's pairs.

Draws come from chainrule's generator (``chainrule.manual_seed``), not torch's stream:
the same seed gives other numbers than torch, from the same distribution.
"""

from __future__ import annotations

from chainrule import _coverage
from chainrule.distributions import constraints
from chainrule.distributions.discrete import Bernoulli, Categorical, OneHotCategorical
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.gamma import Beta, Dirichlet, Gamma
from chainrule.distributions.kl import kl_divergence, register_kl
from chainrule.distributions.multivariate_normal import MultivariateNormal
from chainrule.distributions.normal import Normal, Uniform

__all__ = [
    "Bernoulli", "Beta", "Categorical", "Dirichlet", "Distribution", "Gamma",
    "MultivariateNormal", "Normal",
    "OneHotCategorical", "Uniform", "constraints", "kl_divergence", "register_kl",
]  # fmt: skip

__getattr__ = _coverage.missing_attribute(__name__, "torch.distributions")

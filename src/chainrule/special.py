"""``chainrule.special``: torch.special's names for the functions chainrule has (each op is
declared once, in its family file; these are torch.special's spellings of them)."""

from __future__ import annotations

from chainrule import _coverage
from chainrule.ops.elementwise.gamma import digamma, erfinv, lgamma, mvlgamma, polygamma, xlogy
from chainrule.ops.elementwise.ratios import logit, sinc
from chainrule.ops.elementwise.unary import erf, expm1, log1p, sigmoid
from chainrule.ops.reduce.stats import logsumexp
from chainrule.ops.softmax import log_softmax, softmax

__all__ = [
    "digamma", "psi", "gammaln", "polygamma", "multigammaln", "erf", "erfinv", "xlogy",
    "expit", "expm1", "log1p", "logsumexp", "log_softmax", "softmax", "logit", "sinc",
]  # fmt: skip

psi = digamma
gammaln = lgamma
multigammaln = mvlgamma
expit = sigmoid
__getattr__ = _coverage.missing_attribute(__name__, "torch.special")

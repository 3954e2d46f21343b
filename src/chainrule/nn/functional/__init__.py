"""``torch.nn.functional``: the activations, convolutions and pooling of the op catalog, plus
linear, dropout, embedding, padding, normalization, attention and the losses.

The math is split by family into this package's files (each under ~400 lines); every public
name is re-exported here, so ``import chainrule.nn.functional as F`` works as in torch.
"""

from __future__ import annotations

from chainrule.nn.functional.activation import log_softmax, relu, softmax
from chainrule.nn.functional.attention import (
    multi_head_attention_forward,
    scaled_dot_product_attention,
)
from chainrule.nn.functional.classification import cross_entropy, nll_loss
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.fold import fold, unfold
from chainrule.nn.functional.linear import bilinear, linear
from chainrule.nn.functional.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    smooth_l1_loss,
)
from chainrule.nn.functional.normalization import (
    batch_norm,
    group_norm,
    layer_norm,
    normalize,
    rms_norm,
)
from chainrule.nn.functional.padding import pad
from chainrule.nn.functional.sparse import embedding, one_hot
from chainrule.ops.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    logsigmoid,
    mish,
    relu6,
    silu,
    softplus,
)
from chainrule.ops.conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose1d,
    conv_transpose2d,
    max_pool1d,
    max_pool2d,
)
from chainrule.ops.elementwise import sigmoid, tanh

__all__ = [
    # activations (op catalog)
    "relu", "leaky_relu", "gelu", "silu", "elu", "softplus", "sigmoid", "tanh", "softmax",
    "log_softmax", "hardtanh", "relu6", "logsigmoid", "mish",
    # convolution and pooling (op catalog)
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    # layers
    "linear", "bilinear", "dropout", "embedding", "one_hot", "pad", "layer_norm", "group_norm",
    "rms_norm", "batch_norm", "normalize", "scaled_dot_product_attention",
    "multi_head_attention_forward", "unfold", "fold",
    # losses
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "nll_loss", "cross_entropy",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
]  # fmt: skip

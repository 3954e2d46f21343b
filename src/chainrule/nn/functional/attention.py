"""scaled_dot_product_attention and multi_head_attention_forward: compositions of matmul,
softmax and dropout (torch's math reference path)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule._registry import op
from chainrule._tensor import Size, Tensor, _make
from chainrule.amp.autocast_mode import autocast_policy
from chainrule.dtypes import c_type_name, kind_of
from chainrule.nn.functional.dropout import dropout
from chainrule.nn.functional.linear import linear
from chainrule.ops.index.select import index_select
from chainrule.ops.linalg.products import matmul
from chainrule.ops.op import opmath
from chainrule.ops.shape.join import cat
from chainrule.ops.softmax import softmax


def _repeat_heads(t: Tensor, times: int) -> Tensor:
    h = t._data.shape[-3]
    return index_select(t, t._data.ndim - 3, _make(np.repeat(np.arange(h), times)))


@op(namespace="nn.functional", method=False)
@autocast_policy("lower_precision_fp")
@opmath
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """``softmax(q kᵀ * scale + mask) v``; a bool ``attn_mask`` marks the pairs that take part,
    a float one is added; ``is_causal`` masks the upper triangle."""
    _check_sdpa_inputs(query, key, value, attn_mask)
    L, S = query._data.shape[-2], key._data.shape[-2]
    if is_causal and attn_mask is not None:
        raise RuntimeError(
            "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
            "is_causal=True"
        )
    if scale is None:
        scale = 1.0 / math.sqrt(query._data.shape[-1])
    if enable_gqa and query._data.ndim >= 3 and key._data.shape[-3] != query._data.shape[-3]:
        times = query._data.shape[-3] // key._data.shape[-3]
        key, value = _repeat_heads(key, times), _repeat_heads(value, times)
    scores = matmul(query, key.transpose(-2, -1)) * scale
    empty = None  # rows with no key to attend to: weight 0 (torch's safe softmax), not nan
    if is_causal:
        allowed = np.tril(np.ones((L, S), dtype=bool))
        scores = scores.masked_fill(_make(~allowed), -math.inf)
    elif attn_mask is not None:
        m = attn_mask._data
        if m.dtype == np.bool_:
            empty = ~m.any(-1, keepdims=True)
            blocked = ~m & ~empty if empty.any() else ~m
            scores = scores.masked_fill(_make(blocked), -math.inf)
        else:
            empty = np.isneginf(m).all(-1, keepdims=True)
            scores = scores + (
                attn_mask.masked_fill(_make(empty), 0.0) if empty.any() else attn_mask
            )
    weights = softmax(scores, -1)
    if empty is not None and empty.any():
        weights = weights.masked_fill(_make(empty), 0.0)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, True)
    return matmul(weights, value)


def _check_sdpa_inputs(q: Tensor, k: Tensor, v: Tensor, attn_mask: Tensor | None) -> None:
    """torch's checks of the dtypes and ranks (validate_sdpa_input), in its order: a mask is
    bool, float32 or the query's dtype."""
    qd, kd, vd = q._data.dtype, k._data.dtype, v._data.dtype
    if not qd == kd == vd:
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{c_type_name(q)} key.dtype: {c_type_name(k)} and value.dtype: {c_type_name(v)} "
            "instead."
        )
    if min(q._data.ndim, k._data.ndim, v._data.ndim) < 2:
        raise RuntimeError(
            "Expected query, key, and value to all be  at least 2 dimensional, but got "
            f"query.dim: {q._data.ndim} key.dim: {k._data.ndim} and value.dim: {v._data.ndim} "
            "instead."
        )
    if attn_mask is not None:
        md = attn_mask._data.dtype
        if md != np.bool_ and md != np.float32 and md != qd:
            raise RuntimeError(
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                f"attn_mask.dtype: {c_type_name(attn_mask)} and  query.dtype: {c_type_name(q)} "
                "instead."
            )


def _canonical_mask(mask: Tensor | None, name: str, dtype: Any) -> Tensor | None:
    """A bool mask (True = masked out) as a float one with -inf; float masks pass."""
    if mask is None:
        return None
    m = mask._data
    if m.dtype == np.bool_:
        return _make(np.where(m, -np.inf, 0.0).astype(dtype))
    if kind_of(m.dtype) != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


@op(namespace="nn.functional", method=False)
def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """torch's multi-head attention on (L, N, E) inputs (or unbatched (L, E)); returns the
    output and, with ``need_weights``, the attention weights (averaged over heads)."""
    batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query._data.shape
    dtype = query._data.dtype
    if (
        key_padding_mask is not None
        and attn_mask is not None
        and key_padding_mask._data.dtype != attn_mask._data.dtype
    ):
        warnings.warn(
            "Support for mismatched key_padding_mask and attn_mask is deprecated. Use same type "
            "for both instead.",
            UserWarning,
            stacklevel=3,
        )
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # torch hands the causal hint to scaled_dot_product_attention
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", dtype)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key._data.shape[:2] != value._data.shape[:2]:
            raise AssertionError(
                f"key's sequence and batch dims {Size(key.shape[:2])} do not match value's "
                f"{Size(value.shape[:2])}"
            )
    elif key._data.shape != value._data.shape:
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")
    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        if key is value and query is key:  # self-attention: one packed projection
            q, k, v = linear(query, in_proj_weight, in_proj_bias).chunk(3, -1)
        else:
            wq, wk, wv = in_proj_weight.chunk(3)
            bq, bk, bv = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
            q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(
                    f"use_separate_proj_weight is True but {name}_proj_weight is None"
                )
        bq, bk, bv = (None,) * 3 if in_proj_bias is None else in_proj_bias.chunk(3)
        q = linear(query, q_proj_weight, bq)
        k = linear(key, k_proj_weight, bk)
        v = linear(value, v_proj_weight, bv)
    src_len = k._data.shape[0]
    if attn_mask is not None:
        if attn_mask._data.ndim == 2:
            if attn_mask._data.shape != (tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                    f"{(tgt_len, src_len)}."
                )
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask._data.ndim == 3:
            if attn_mask._data.shape != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(
                    f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                    f"{(bsz * num_heads, tgt_len, src_len)}."
                )
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask._data.ndim} is not supported")
    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = cat([k, bias_k.repeat(1, bsz, 1)])
        v = cat([v, bias_v.repeat(1, bsz, 1)])
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    elif bias_k is not None or bias_v is not None:
        raise AssertionError(
            "bias_k is set but bias_v is None"
            if bias_v is None
            else "bias_v is set but bias_k is None"
        )
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = _heads(k, static_k, "static_k", bsz * num_heads, head_dim)
    v = _heads(v, static_v, "static_v", bsz * num_heads, head_dim)
    if add_zero_attn:
        zeros = _make(np.zeros((bsz * num_heads, 1, head_dim), dtype=dtype))
        k, v = cat([k, zeros], 1), cat([v, zeros], 1)
        attn_mask = None if attn_mask is None else _pad_last(attn_mask)
        key_padding_mask = None if key_padding_mask is None else _pad_last(key_padding_mask)
    src_len = k._data.shape[1]
    if key_padding_mask is not None:
        for i, n in enumerate((bsz, src_len)):
            if key_padding_mask._data.shape[i] != n:
                raise AssertionError(
                    f"Expected key_padded_mask.shape[{i}] to be {n}, but got "
                    f"{key_padding_mask._data.shape[i]}"
                )
        kpm = key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
        kpm = kpm.reshape(bsz * num_heads, 1, src_len)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0
    if not need_weights:
        # torch's path: scaled_dot_product_attention, whose rows with every key masked out
        # give 0 (a safe softmax), where the weights path below gives nan
        if attn_mask is not None:
            if attn_mask._data.shape[0] == 1 and attn_mask._data.ndim == 3:
                attn_mask = attn_mask.unsqueeze(0)
            else:
                attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
        out = scaled_dot_product_attention(
            q.reshape(bsz, num_heads, tgt_len, head_dim),
            k.reshape(bsz, num_heads, src_len, head_dim),
            v.reshape(bsz, num_heads, src_len, head_dim),
            attn_mask,
            dropout_p,
            is_causal,
        )
        out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
        return (out if batched else out.squeeze(1)), None
    if attn_mask is not None and attn_mask._data.dtype != q._data.dtype:  # torch's baddbmm
        qt = c_type_name(q)
        raise RuntimeError(
            f"Input dtypes must be the same, got: input {c_type_name(attn_mask)}, batch1: {qt}, "
            f"batch2: {qt}"
        )
    scores = matmul(q * math.sqrt(1.0 / head_dim), k.transpose(-2, -1))
    if attn_mask is not None:
        scores = scores + attn_mask
    weights = softmax(scores, -1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    out = matmul(weights, v).transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, -1)
    weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
    if average_attn_weights:
        weights = weights.mean(1)
    if not batched:
        return out.squeeze(1), weights.squeeze(0)
    return out, weights


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Tensor | None,
                     attn_mask: Tensor | None, num_heads: int) -> bool:  # fmt: skip
    """torch's checks of the ranks (and an unbatched 3-D mask's shape); whether batched."""
    qd, kd, vd = query._data.ndim, key._data.ndim, value._data.ndim
    if qd not in (2, 3):
        raise AssertionError(
            f"query should be unbatched 2D or batched 3D tensor but received {qd}-D query tensor"
        )
    which = "batched (3-D)" if qd == 3 else "unbatched (2-D)"
    if kd != qd or vd != qd:
        raise AssertionError(
            f"For {which} `query`, expected `key` and `value` to be {qd}-D but found {kd}-D and "
            f"{vd}-D tensors respectively"
        )
    if key_padding_mask is not None and key_padding_mask._data.ndim != qd - 1:
        raise AssertionError(
            f"For {which} `query`, expected `key_padding_mask` to be `None` or {qd - 1}-D but "
            f"found {key_padding_mask._data.ndim}-D tensor instead"
        )
    if attn_mask is not None:
        md = attn_mask._data.ndim
        if md not in (2, 3):
            raise AssertionError(
                f"For {which} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
                f"{md}-D tensor instead"
            )
        expected = (num_heads, query._data.shape[0], key._data.shape[0])
        if qd == 2 and md == 3 and attn_mask._data.shape != expected:
            raise AssertionError(
                f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}"
            )
    return qd == 3


def _heads(x: Tensor, static: Tensor | None, name: str, n: int, head_dim: int) -> Tensor:
    """The projected keys (values) split into ``n`` = batch * heads rows, or ``static``."""
    if static is None:
        return x.reshape(x._data.shape[0], n, head_dim).transpose(0, 1)
    if static._data.shape[0] != n:
        raise AssertionError(f"expecting {name}.size(0) of {n}, but got {static._data.shape[0]}")
    if static._data.shape[2] != head_dim:
        raise AssertionError(
            f"expecting {name}.size(2) of {head_dim}, but got {static._data.shape[2]}"
        )
    return static


def _pad_last(mask: Tensor) -> Tensor:
    """One more (zero) column at the end of a float mask."""
    m = mask._data
    return cat([mask, _make(np.zeros((*m.shape[:-1], 1), dtype=m.dtype))], -1)

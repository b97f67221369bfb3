"""The scGPT forward pass carrying a tangent: output and its directional derivative at once.

The Gradient Trajectory needs ∂M(cell)/∂v along one input direction per cell. Generic
forward-mode autodiff (``torch.func.jvp``) wraps every tensor in a dual number, cannot use
fused attention, and costs 7-13 forwards per cell here. Written out by hand, each layer's
rule is a few matrix products beside the primal ones (linear: W·dx; LayerNorm and softmax:
their closed-form Jacobian-vector products; attention: dS = dq·kᵀ + q·dkᵀ, d(PV) = dP·V + P·dV),
so the pair costs about what its matrix products cost, 2-3 forwards.

Dropout is the identity (frozen models are in eval mode). Tests compare every rule against
``torch.func.jvp`` on random models of each variant (post/pre-norm, hidden masked keys,
gene affine).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from .scgpt import ContinuousValueEncoder, EncoderLayer, ExprDecoder, ScGPTModel, SelfAttention

Dual = tuple[Tensor, Tensor]


def _linear(x: Dual, layer: torch.nn.Linear) -> Dual:
    return F.linear(x[0], layer.weight, layer.bias), F.linear(x[1], layer.weight)


def _layer_norm(x: Dual, norm: torch.nn.LayerNorm) -> Dual:
    primal, tangent = x
    mean = primal.mean(-1, keepdim=True)
    centred = primal - mean
    inv_sd = torch.rsqrt(centred.pow(2).mean(-1, keepdim=True) + norm.eps)
    xhat = centred * inv_sd
    d_centred = tangent - tangent.mean(-1, keepdim=True)
    d_xhat = inv_sd * (d_centred - xhat * (xhat * d_centred).mean(-1, keepdim=True))
    return F.layer_norm(primal, primal.shape[-1:], norm.weight, norm.bias, norm.eps), d_xhat * norm.weight


def _relu(x: Dual, slope: float = 0.0) -> Dual:
    on = x[0] > 0
    if slope:
        return F.leaky_relu(x[0], slope), torch.where(on, x[1], slope * x[1])
    return F.relu(x[0]), x[1] * on


def _value_encoder(enc: ContinuousValueEncoder, values: Tensor, d_values: Tensor) -> Dual:
    kept = values <= enc.max_value  # clamp passes the derivative where it does not clip
    x = (torch.clamp(values, max=enc.max_value).unsqueeze(-1), (d_values * kept).unsqueeze(-1))
    return _layer_norm(_linear(_relu(_linear(x, enc.linear1)), enc.linear2), enc.norm)


ATTENTION_BLOCK_ELEMENTS = 1 << 20  # score elements per block: [heads x n x n] slices that stay in cache


def _attention_block(q, k, v, dq, dk, dv, scale: float, mask: Tensor | None, out: Tensor, d_out: Tensor) -> None:
    """Attention and its tangent for a block of (cell, head) slices ``[m, n, dh]``, written
    into ``out`` and ``d_out``.

    With P = softmax(S), dS = dq·kᵀ + q·dkᵀ (scaled) and r = rowsum(P∘dS), the tangent of
    P·V is (P∘dS)·V − r∘(P·V) + P·dV: three products beside the primal two.
    """
    scores = torch.bmm(q, k.transpose(1, 2)).mul_(scale)
    if mask is not None:
        scores = scores.masked_fill_(~mask, float("-inf"))
    p = torch.softmax(scores, dim=-1)
    pd = torch.bmm(dq, k.transpose(1, 2)).baddbmm_(q, dk.transpose(1, 2)).mul_(p).mul_(scale)  # P∘dS
    torch.bmm(p, v, out=out)
    torch.bmm(p, dv, out=d_out)
    d_out.baddbmm_(pd, v).addcmul_(pd.sum(-1, keepdim=True), out, value=-1.0)


def _attention(att: SelfAttention, x: Dual, attn_mask: Tensor | None) -> Dual:
    b, n, d = x[0].shape
    h = att.nhead
    heads = lambda t: t.view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4).reshape(3, b * h, n, d // h)  # noqa: E731
    q, k, v = heads(F.linear(x[0], att.in_proj_weight, att.in_proj_bias))
    dq, dk, dv = heads(F.linear(x[1], att.in_proj_weight))
    mask = None if attn_mask is None else attn_mask.expand(b, h, n, n).reshape(b * h, n, n)
    scale = 1.0 / math.sqrt(d // h)
    out, d_out = torch.empty_like(q), torch.empty_like(q)
    step = max(1, ATTENTION_BLOCK_ELEMENTS // (n * n))  # the [m, n, n] temporaries stay small: memory-bound ops run in cache
    for i in range(0, b * h, step):
        s = slice(i, i + step)
        _attention_block(q[s], k[s], v[s], dq[s], dk[s], dv[s], scale, None if mask is None else mask[s], out[s], d_out[s])
    merge = lambda t: t.view(b, h, n, d // h).transpose(1, 2).reshape(b, n, d)  # noqa: E731
    return _linear((merge(out), merge(d_out)), att.out_proj)


def _add(a: Dual, b: Dual) -> Dual:
    return a[0] + b[0], a[1] + b[1]


def _feed_forward(layer: EncoderLayer, x: Dual) -> Dual:
    return _linear(_relu(_linear(x, layer.linear1)), layer.linear2)


def _encoder_layer(layer: EncoderLayer, x: Dual, attn_mask: Tensor | None) -> Dual:
    if layer.pre_norm:
        x = _layer_norm(x, layer.norm1)
        x = _add(x, _attention(layer.self_attn, x, attn_mask))
        x = _layer_norm(x, layer.norm2)
        return _add(x, _feed_forward(layer, x))
    x = _layer_norm(_add(x, _attention(layer.self_attn, x, attn_mask)), layer.norm1)
    return _layer_norm(_add(x, _feed_forward(layer, x)), layer.norm2)


def _decoder(dec: ExprDecoder, x: Dual) -> Dual:
    for m in dec.fc:
        if isinstance(m, torch.nn.Linear):
            x = _linear(x, m)
        else:
            x = _relu(x, m.negative_slope)
    return x[0].squeeze(-1), x[1].squeeze(-1)


@torch.no_grad()
def forward_with_tangent(model: ScGPTModel, gene_ids: Tensor, values: Tensor, d_values: Tensor) -> Dual:
    """``(model(gene_ids, values), ∂model/∂values · d_values)``, shapes ``[batch, seq]``.

    Equal to ``torch.func.jvp(lambda v: model(gene_ids, v), (values,), (d_values,))`` up to
    rounding; the model must be in eval mode (dropout off).
    """
    if model.training:
        raise RuntimeError("forward_with_tangent needs the model in eval mode (dropout off).")
    emb = model.encoder(gene_ids)
    v_primal, v_tangent = _value_encoder(model.value_encoder, values, d_values)
    x = (emb + v_primal, v_tangent)
    attn_mask = model.attention_mask(values)
    for layer in model.transformer_encoder.layers:
        x = _encoder_layer(layer, x, attn_mask)
    out, d_out = _decoder(model.decoder, x)
    if model.cfg.gene_affine:
        scale = model.ugrn_gene_scale[gene_ids]
        out, d_out = model.ugrn_gene_mean[gene_ids] + scale * out, scale * d_out
    return out, d_out

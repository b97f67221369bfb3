"""The scGPT forward pass carrying a tangent: output and its directional derivative at once.

The Gradient Trajectory needs ∂M(cell)/∂v along one input direction per cell. Generic
forward-mode autodiff (``torch.func.jvp``) wraps every tensor in a dual number, cannot use
fused attention, and costs 7-13 forwards per cell here. Written out by hand, each layer's
rule is a few matrix products beside the primal ones (linear: W·dx; LayerNorm and softmax:
their closed-form Jacobian-vector products; attention: dS = dq·kᵀ + q·dkᵀ, d(PV) = dP·V + P·dV),
so the pair costs about what its matrix products cost, 2-3 forwards.

GT's first layer costs less again: its tangent sits on one token per cell (attention's tangent
then needs one row and one column of P), and the cells of one source in one context differ only in
that value, so the first layer's attention is computed once per context and
each cell's from it in O(n·d) (``_attention_shared_context``).

On a GPU the eager blocks are memory-bound (the n × n arrays), so there attention and its
tangent run in one fused Triton kernel (:mod:`.attention_jvp_triton`) where it applies.

Dropout is the identity (frozen models are in eval mode). Tests compare every rule against
``torch.func.jvp`` on random models of each variant (post/pre-norm, hidden masked keys,
gene affine).
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor

from .scgpt import ContinuousValueEncoder, EncoderLayer, ExprDecoder, ScGPTModel, SelfAttention

Dual = tuple[Tensor, Tensor]


def _linear(x: Dual, layer: torch.nn.Linear) -> Dual:
    return F.linear(x[0], layer.weight, layer.bias), F.linear(x[1], layer.weight)


def _layer_norm(x: Dual, norm: torch.nn.LayerNorm) -> Dual:
    """LayerNorm's Jacobian is symmetric, so its JVP is its VJP: torch's fused backward
    kernel applied to the tangent (one pass instead of eight elementwise ones)."""
    primal, tangent = x
    dtype = torch.promote_types(primal.dtype, tangent.dtype)
    if dtype in (torch.bfloat16, torch.float16):  # under autocast, LayerNorm runs in fp32 (as torch's own does)
        dtype = torch.float32
    primal, tangent = primal.to(dtype), tangent.to(dtype)
    shape = primal.shape[-1:]
    out, mean, rstd = torch.ops.aten.native_layer_norm(primal, shape, norm.weight, norm.bias, norm.eps)
    d_xhat = torch.ops.aten.native_layer_norm_backward(tangent, primal, shape, mean, rstd, None, None,
                                                       [True, False, False])[0]
    return out, d_xhat.mul_(norm.weight)  # d_xhat is fresh: no new [b, n, d] tensor


def _leaky_relu(x: Dual, slope: float) -> Dual:
    return F.leaky_relu(x[0], slope), torch.where(x[0] > 0, x[1], slope * x[1])


def _relu_(x: Dual) -> Dual:
    """ReLU and its tangent (where the unit is on) in place, for a linear layer's fresh output
    (no new [b, n, d_hid] tensors)."""
    out = x[0].relu_()
    return out, torch.ops.aten.threshold_backward.grad_input(x[1], out, 0, grad_input=x[1])


class _Buffers:
    """Tensors a pass reuses from layer to layer. A fresh tensor over glibc's 32 MB mmap limit
    comes from the system as pages it must fault in (filling a fresh [8, 1201, 1536] projection
    took 33 ms on a 2-core VM, a reused one 3 ms); with the q/k/v projections reused and the
    feed-forward's ReLU in place, GT's pass at scGPT size (8 cells) went from 379 k to 134 k
    page faults and from 1.3 s to 0.5 s of system time."""

    def __init__(self) -> None:
        self._store: dict[str, Tensor] = {}

    def take(self, name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
        size = math.prod(shape)
        buf = self._store.get(name)
        if buf is None or buf.numel() < size or buf.dtype != like.dtype or buf.device != like.device:
            buf = self._store[name] = like.new_empty(size)
        return buf[:size].view(shape)


def _projection(x: Tensor, weight: Tensor, bias: Tensor | None, buffers: _Buffers, name: str) -> Tensor:
    """``F.linear(x, weight, bias)`` written into the pass's buffer ``name`` (a fresh tensor
    under autocast, which does not cast ``out=`` products)."""
    if torch.is_autocast_enabled(x.device.type) or x.dtype != weight.dtype:
        return F.linear(x, weight, bias)
    rows = x.reshape(-1, x.shape[-1])
    out = buffers.take(name, (rows.shape[0], weight.shape[0]), x)
    if bias is None:
        torch.mm(rows, weight.t(), out=out)
    else:
        torch.addmm(bias, rows, weight.t(), out=out)
    return out.view(*x.shape[:-1], weight.shape[0])


def _value_encoder(enc: ContinuousValueEncoder, values: Tensor, d_values: Tensor) -> Dual:
    kept = values <= enc.max_value  # clamp passes the derivative where it does not clip
    x = (torch.clamp(values, max=enc.max_value).unsqueeze(-1), (d_values * kept).unsqueeze(-1))
    return _layer_norm(_linear(_relu_(_linear(x, enc.linear1)), enc.linear2), enc.norm)


# Score elements per block of [m, n, n] slices. On a CPU, blocks that stay in cache keep the
# memory-bound ops fast; a GPU needs big blocks instead, or it waits on kernel launches (one
# slice at a time ran GT at 1.4% of an H200's matmul ceiling at scGPT size).
ATTENTION_BLOCK_ELEMENTS = {"cpu": 1 << 20, "cuda": 1 << 28}


def _block_slices(n: int, device: torch.device) -> int:
    """(cell, head) slices per block: as many [n, n] temporaries as fit the device's budget."""
    return max(1, ATTENTION_BLOCK_ELEMENTS.get(device.type, ATTENTION_BLOCK_ELEMENTS["cpu"]) // (n * n))


def _blocks(slices: int, n: int, device: torch.device):
    """Slices of the (cell, head) axis whose [m, n, n] temporaries fit the device's budget."""
    step = _block_slices(n, device)
    return [slice(i, i + step) for i in range(0, slices, step)]


def _head_mask(attn_mask: Tensor | None, b: int, h: int, n: int) -> Tensor | None:
    """The attention mask per (cell, head) slice, ``[b * h, n, n]``."""
    return None if attn_mask is None else attn_mask.expand(b, h, n, n).reshape(b * h, n, n)


def _merge_heads(t: Tensor, b: int, h: int, n: int) -> Tensor:
    """``[b * h, n, dh] -> [b, n, h * dh]``."""
    return t.view(b, h, n, -1).transpose(1, 2).reshape(b, n, -1)


def _softmax_(scores: Tensor) -> Tensor:
    """Softmax over the last axis, in place for fp32/fp64 scores (a fresh [n, n] array is a
    sixth of a head's working set: 0.82 against 1.06 ms a head at 1,201 tokens on a CPU);
    16-bit scores are computed in fp32 (as autocast does) and returned in their dtype."""
    if scores.dtype in (torch.bfloat16, torch.float16):
        return torch.softmax(scores, dim=-1, dtype=torch.float32).to(scores.dtype)
    return torch.ops.aten._softmax.out(scores, -1, False, out=scores)


def _without_autocast(device: torch.device):
    """The attention blocks run in their inputs' one dtype: under autocast, CUDA would run softmax
    and sums in fp32, and the ``out=`` and in-place products that follow do not cast."""
    if not torch.is_autocast_enabled(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device.type, enabled=False)


def _attention_block(q, k, v, dv, qd, kd, mask: Tensor | None, out: Tensor, d_out: Tensor) -> None:
    """Attention and its tangent for a block of (cell, head) slices ``[m, n, dh]``, written
    into ``out`` and ``d_out``.

    With P = softmax(S), dS = dq·kᵀ + q·dkᵀ (scaled) and r = rowsum(P∘dS), the tangent of
    P·V is (P∘dS)·V − r∘(P·V) + P·dV. The [n, n] arrays cost memory passes, so they are
    touched as few times as possible: the scale sits in the small inputs (``q`` and
    ``qd = [dq, q]`` arrive scaled) and dS is one product of ``qd`` with ``kd = [k, dk]``.
    """
    scores = torch.bmm(q, k.transpose(1, 2))
    if mask is not None:
        scores = scores.masked_fill_(~mask, float("-inf"))
    p = _softmax_(scores)
    pd = torch.bmm(qd, kd.transpose(1, 2)).mul_(p)  # P∘dS
    torch.bmm(p, v, out=out)
    torch.bmm(p, dv, out=d_out)
    d_out.baddbmm_(pd, v).addcmul_(pd.sum(-1, keepdim=True), out, value=-1.0)


def _scaled_in_proj(att: SelfAttention) -> tuple[Tensor, Tensor | None]:
    """The q/k/v projection with attention's 1/√dh in its q rows: q and dq then arrive scaled
    (see :func:`_attention_block`), for less than a pass over either."""
    d = att.in_proj_weight.shape[1]
    rows_scale = torch.ones(3 * d, 1, dtype=att.in_proj_weight.dtype, device=att.in_proj_weight.device)
    rows_scale[:d] = 1.0 / math.sqrt(d // att.nhead)
    bias = None if att.in_proj_bias is None else att.in_proj_bias * rows_scale[:, 0]
    return att.in_proj_weight * rows_scale, bias


def _qkv_heads(x: Tensor, weight: Tensor, bias: Tensor | None, h: int) -> Tensor:
    """The q/k/v projection of ``[b, n, d]`` split per (cell, head), ``[3, b * h, n, dh]``; of
    one row per cell, ``[b, d]``, ``[3, b * h, dh]``."""
    rows = x.dim() == 2
    x = x.unsqueeze(1) if rows else x
    b, n, d = x.shape
    t = F.linear(x, weight, bias).view(b, n, 3, h, d // h).permute(2, 0, 3, 1, 4).reshape(3, b * h, n, d // h)
    return t.squeeze(2) if rows else t


# Where the fused kernel of :mod:`.attention_jvp_triton` runs: "cuda" (where Triton compiles
# and the eager blocks are memory-bound), "always" (wherever Triton imports: its interpreter on
# a CPU, for tests) or "never"; the environment's UGRN_FUSED_ATTENTION sets it for a run. A
# kernel that fails once is not tried again in the process.
FUSED_ATTENTION_CHOICES = ("cuda", "always", "never")
FUSED_ATTENTION = os.environ.get("UGRN_FUSED_ATTENTION", "cuda")
_fused_failed: list[str] = []


def _fused_wanted(device: torch.device) -> bool:
    """Whether FUSED_ATTENTION asks for the fused kernel on ``device`` (a bad value is refused)."""
    if FUSED_ATTENTION not in FUSED_ATTENTION_CHOICES:
        raise ValueError(f"UGRN_FUSED_ATTENTION / tangent.FUSED_ATTENTION is {FUSED_ATTENTION!r}; "
                         "use 'cuda' (the default), 'always' or 'never'.")
    return FUSED_ATTENTION == "always" or (FUSED_ATTENTION == "cuda" and device.type == "cuda")


def attention_path(device: torch.device | str) -> str:
    """Which attention GT's pass takes on ``device``, in words (for benchmarks and checks)."""
    device = torch.device(device)
    if _fused_failed:
        return f"eager blocks (the fused kernel failed: {_fused_failed[0]})"
    if not _fused_wanted(device):
        return f"eager blocks (FUSED_ATTENTION={FUSED_ATTENTION!r})"
    from . import attention_jvp_triton as fused

    if not fused.available():
        return "eager blocks (Triton does not import here)"
    return f"fused Triton kernel (triton {fused.triton.__version__}; unmasked keys, heads of 16, 32, 64 or 128)"


def _attention_fused(qkv: Tensor, d_qkv: Tensor, attn_mask: Tensor | None) -> Dual | None:
    """Attention and its tangent ``[b, n, h, dh]`` by the fused kernel from the scaled q/k/v
    projections ``[b, n, 3, h, dh]``, or None where it does not apply."""
    if _fused_failed or attn_mask is not None or not _fused_wanted(qkv.device):
        return None  # decided before Triton is imported: a CPU pass never loads it
    from . import attention_jvp_triton as fused

    if not fused.available() or not fused.supports(qkv.shape[-1], qkv.dtype) or d_qkv.dtype != qkv.dtype:
        return None  # fp64, odd heads: the eager blocks
    try:  # q and dq arrive scaled: the kernel's scale is 1
        return fused.attention_with_tangent(*(qkv[:, :, i] for i in range(3)), *(d_qkv[:, :, i] for i in range(3)),
                                            scale=1.0)
    except Exception as err:  # noqa: BLE001 - a kernel that does not compile here: the eager blocks
        _fused_failed.append(repr(err))
        warnings.warn(f"The fused attention kernel failed ({err!r}); GT continues with the eager pass.", stacklevel=2)
        return None


def _attention(att: SelfAttention, x: Dual, attn_mask: Tensor | None, buffers: _Buffers) -> Dual:
    b, n, d = x[0].shape
    h, dh = att.nhead, d // att.nhead
    weight, bias = _scaled_in_proj(att)
    qkv = _projection(x[0], weight, bias, buffers, "qkv").view(b, n, 3, h, dh)
    d_qkv = _projection(x[1], weight, None, buffers, "d_qkv").view(b, n, 3, h, dh)
    per_block = _block_slices(n, x[0].device)
    heads = _attention_fused(qkv, d_qkv, attn_mask)
    if heads is not None:
        out, d_out = (t.view(b, n, d) for t in heads)
    elif per_block <= h:
        # Long sequences: a block holds at most one cell's heads anyway, so it reads strided views
        # and copies nothing (5 % faster at 1,201 tokens on a CPU). Short ones keep whole-batch
        # blocks: per-cell blocks of a 101-token panel were 15 % slower, level at 301 tokens.
        out, d_out = _attention_within_cells(qkv, d_qkv, attn_mask, per_block)
    else:
        out, d_out = _attention_across_cells(qkv, d_qkv, attn_mask)
    return _linear((out, d_out), att.out_proj)


def _attention_across_cells(qkv: Tensor, d_qkv: Tensor, attn_mask: Tensor | None) -> Dual:
    """Attention and its tangent ``[b, n, d]`` from the q/k/v projections ``[b, n, 3, h, dh]``,
    in blocks of (cell, head) slices across the batch (the head split's one copy)."""
    b, n, _, h, dh = qkv.shape
    flat = lambda t: t.reshape(b * h, n, t.shape[-1])  # noqa: E731
    q, k, v = qkv.permute(2, 0, 3, 1, 4)  # [b, h, n, dh] views
    dq, dk, dv = d_qkv.permute(2, 0, 3, 1, 4)
    qd = flat(torch.cat([dq, q], dim=-1))
    kd = flat(torch.cat([k, dk], dim=-1))
    qs, k, v, dv = flat(q), flat(k), flat(v), flat(dv)
    mask = _head_mask(attn_mask, b, h, n)
    out, d_out = torch.empty_like(qs), torch.empty_like(qs)
    with _without_autocast(qkv.device):
        for s in _blocks(b * h, n, qkv.device):
            _attention_block(qs[s], k[s], v[s], dv[s], qd[s], kd[s], None if mask is None else mask[s], out[s], d_out[s])
    return _merge_heads(out, b, h, n), _merge_heads(d_out, b, h, n)


def _attention_within_cells(qkv: Tensor, d_qkv: Tensor, attn_mask: Tensor | None, heads_per_block: int) -> Dual:
    """:func:`_attention_across_cells` with blocks of at most one cell's heads.

    Each block reads strided views of the projections and writes into the merged [cell, token,
    head] layout, so splitting and merging the heads copies nothing.
    """
    b, n, _, h, dh = qkv.shape
    out = qkv.new_empty(b, n, h, dh)
    d_out = torch.empty_like(out)
    with _without_autocast(qkv.device):
        for c in range(b):
            mask = None if attn_mask is None else attn_mask[c]  # [1, 1, n]: broadcast over heads and rows
            for h0 in range(0, h, heads_per_block):
                hs = slice(h0, h0 + heads_per_block)
                q, k, v = (qkv[c, :, i, hs].transpose(0, 1) for i in range(3))  # [heads, n, dh] views
                dq, dk, dv = (d_qkv[c, :, i, hs].transpose(0, 1) for i in range(3))
                _attention_block(q, k, v, dv, torch.cat([dq, q], dim=-1), torch.cat([k, dk], dim=-1), mask,
                                 out[c, :, hs].transpose(0, 1), d_out[c, :, hs].transpose(0, 1))
    return out.view(b, n, h * dh), d_out.view(b, n, h * dh)


def _one_hot_tangent(col, row, a, c, v, dv_s, pos, out: Tensor, d_out: Tensor) -> None:
    """Attention's tangent when the input's tangent sits on one token per cell (``pos``).

    Then dS is row ``pos`` (a_j = dq_s·k_j) plus column ``pos`` (c_i = q_i·dk_s), and
    P∘dS, its row sums and both products with V need only P's column ``col = P[:, s]`` and
    row ``row = P[s, :]``: O(n·dh) per slice instead of O(n²·dh). ``a``, ``c``: scaled, [m, n].
    """
    idx = pos.view(-1, 1, 1).expand(-1, 1, v.shape[2])
    v_s = v.gather(1, idx)  # [m, 1, dh]
    cw = (col * c).unsqueeze(2)  # column s of P∘dS
    # P·dV (dV is dv_s at row s) + the column part of (P∘dS)·V − r∘out
    torch.addcmul(cw * (v_s - out), col.unsqueeze(2), dv_s.unsqueeze(1), out=d_out)
    e = row * a  # row s of P∘dS, without the (s, s) entry's column part (already above)
    extra = torch.bmm(e.unsqueeze(1), v) - e.sum(1).view(-1, 1, 1) * out.gather(1, idx)
    d_out.scatter_add_(1, idx, extra)


def _attention_one_hot_block(q, k, v, a, c, dv_s, pos, mask: Tensor | None, out: Tensor, d_out: Tensor) -> None:
    """A block of slices: the primal with an explicit softmax, whose row and column ``pos``
    then give the tangent (:func:`_one_hot_tangent`)."""
    scores = torch.bmm(q, k.transpose(1, 2))  # q is pre-scaled
    if mask is not None:
        scores = scores.masked_fill_(~mask, float("-inf"))
    p = _softmax_(scores)
    torch.bmm(p, v, out=out)
    idx = pos.view(-1, 1, 1)
    col = p.gather(2, idx.expand(-1, p.shape[1], 1)).squeeze(2)  # P[:, s]
    row = p.gather(1, idx.expand(-1, 1, p.shape[2])).squeeze(1)  # P[s, :]
    _one_hot_tangent(col, row, a, c, v, dv_s, pos, out, d_out)


def _attention_one_hot(att: SelfAttention, x0: Tensor, t_rows: Tensor, pos: Tensor, attn_mask: Tensor | None) -> Dual:
    """:func:`_attention` for a tangent that is ``t_rows[i]`` at token ``pos[i]`` of cell i and 0 elsewhere."""
    b, n, d = x0.shape
    h = att.nhead
    weight, bias = _scaled_in_proj(att)
    q, k, v = _qkv_heads(x0, weight, bias, h)
    dq_s, dk_s, dv_s = _qkv_heads(t_rows, weight, None, h)
    a = torch.bmm(k, dq_s.unsqueeze(2)).squeeze(2)  # [m, n]: dq_s·k_j (dq carries the scale)
    c = torch.bmm(q, dk_s.unsqueeze(2)).squeeze(2)  # q_i·dk_s (q carries the scale)
    pos_m = pos.repeat_interleave(h)
    mask = _head_mask(attn_mask, b, h, n)
    out, d_out = torch.empty_like(q), torch.empty_like(q)
    with _without_autocast(x0.device):
        for s in _blocks(b * h, n, x0.device):
            _attention_one_hot_block(q[s], k[s], v[s], a[s], c[s], dv_s[s], pos_m[s],
                                     None if mask is None else mask[s], out[s], d_out[s])
    return _linear((_merge_heads(out, b, h, n), _merge_heads(d_out, b, h, n)), att.out_proj)


# A row's normaliser after its source's key changes, as a share of its base row's: below this,
# the update below would divide rounding error by a small number; the batch then takes the
# whole computation (fp32 keeps ~16 x its epsilon, ~1e-6 relative).
SHARED_CONTEXT_MIN_MASS = 1.0 / 16


def _shared_context_groups(gene_ids: Tensor, values: Tensor, pos: Tensor) -> Tensor | None:
    """Each cell's group of cells that hold the same source and equal genes and values on every
    other token (a GT batch: one source at several values in one context), as ``[b]`` group
    indices; None when fewer than half the cells share a group (sharing would not pay)."""
    rows = torch.arange(len(values), device=values.device)
    key = values.clone()
    key[rows, pos] = 0.0
    parts = [key, pos[:, None].to(key.dtype)]
    if gene_ids.dim() == 2:
        parts.append(gene_ids.to(key.dtype))
    groups, index = torch.unique(torch.cat(parts, dim=1), dim=0, return_inverse=True)
    return index if 2 * len(groups) <= len(values) else None


def _attention_with_lse(q: Tensor, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Softmax attention ``[m, n, dh]`` (q pre-scaled) and each row's log-sum-exp ``[m, n]``."""
    out, lse = torch.empty_like(q), q.new_empty(q.shape[:2])
    for s in _blocks(q.shape[0], q.shape[1], q.device):
        e = torch.bmm(q[s], k[s].transpose(1, 2))
        top = e.amax(-1, keepdim=True)
        z = e.sub_(top).exp_().sum(-1, keepdim=True)
        torch.bmm(e, v[s], out=out[s]).div_(z)
        lse[s] = (top + z.log()).squeeze(-1)
    return out, lse


def _attention_shared_context(att: SelfAttention, x0: Tensor, t_rows: Tensor, pos: Tensor, groups: Tensor) -> Dual | None:
    """:func:`_attention_one_hot` for cells that equal their group's first cell on every token but
    the source: that cell's attention is computed once, and each cell's from it in O(n·dh).

    A row i ≠ s of a cell differs from the base row only in the score of key s, so with the base's
    output O_i, log-sum-exp L_i and old weight p_i = exp(q_i·k_s − L_i), the new weight
    w_i = exp(q_i·k'_s − L_i) gives O'_i = (O_i − p_i v_s + w_i v'_s) / (1 − p_i + w_i); row s
    (a new query) is one softmax over n keys. None where a row loses nearly all its mass (see
    ``SHARED_CONTEXT_MIN_MASS``): the caller then takes the whole computation.
    """
    b, n, _ = x0.shape
    h = att.nhead
    weight, bias = _scaled_in_proj(att)  # q, dq and every score arrive scaled
    first = torch.full((int(groups.max()) + 1,), b, device=groups.device).scatter_reduce_(
        0, groups, torch.arange(b, device=groups.device), "amin")
    qb, kb, vb = _qkv_heads(x0[first], weight, bias, h)
    ob, lse = _attention_with_lse(qb, kb, vb)
    qs, ks, vs = _qkv_heads(x0[torch.arange(b, device=x0.device), pos], weight, bias, h)
    dqs, dks, dvs = _qkv_heads(t_rows, weight, None, h)
    base = (groups[:, None] * h + torch.arange(h, device=groups.device)).reshape(-1)  # each (cell, head)'s base slice
    q, k, v, out, lse = qb[base], kb[base], vb[base], ob[base], lse[base]
    m = torch.arange(b * h, device=x0.device)
    pos_m = pos.repeat_interleave(h)
    p_old = torch.bmm(q, k[m, pos_m].unsqueeze(2)).squeeze(2).sub_(lse).exp_()  # [m, n]: base weight of key s
    w = torch.bmm(q, ks.unsqueeze(2)).squeeze(2).sub_(lse).exp_()  # the new key's weight
    mass = 1.0 - p_old + w
    mass[m, pos_m] = 1.0  # row s is computed whole below
    if not bool(torch.isfinite(w).all()) or float(mass.min()) < SHARED_CONTEXT_MIN_MASS:
        return None
    out.sub_(p_old.unsqueeze(2) * v[m, pos_m].unsqueeze(1)).addcmul_(w.unsqueeze(2), vs.unsqueeze(1)).div_(mass.unsqueeze(2))
    col = w.div_(mass)  # P'[:, s]
    q[m, pos_m], k[m, pos_m], v[m, pos_m] = qs, ks, vs  # the cell's own q, k, v
    row = torch.softmax(torch.bmm(k, qs.unsqueeze(2)).squeeze(2), dim=-1)  # P'[s, :]
    out[m, pos_m] = torch.bmm(row.unsqueeze(1), v).squeeze(1)
    col[m, pos_m] = row[m, pos_m]
    a = torch.bmm(k, dqs.unsqueeze(2)).squeeze(2)  # dq_s·k_j (scaled)
    c = torch.bmm(q, dks.unsqueeze(2)).squeeze(2)  # q_i·dk_s (q carries the scale)
    d_out = torch.empty_like(out)
    _one_hot_tangent(col, row, a, c, v, dvs, pos_m, out, d_out)
    return _linear((_merge_heads(out, b, h, n), _merge_heads(d_out, b, h, n)), att.out_proj)


def _one_hot_rows(tangent: Tensor) -> Tensor | None:
    """Each cell's one token with a nonzero tangent (``[b]``), or None if some cell has more."""
    nonzero = tangent.ne(0)  # [b, n]
    if bool((nonzero.sum(1) > 1).any()):
        return None
    return nonzero.float().argmax(1)


def _add(x: Dual, branch: Dual) -> Dual:
    """``x + branch``, written into the branch's output (a fresh tensor no one else reads):
    a new [b, n, d] tensor per add costs the system's page faults on every layer. Out of place
    where the sum would widen the branch's dtype (a bf16 branch under autocast)."""
    def add(a: Tensor, b: Tensor) -> Tensor:
        return b.add_(a) if torch.promote_types(a.dtype, b.dtype) == b.dtype else a + b
    return add(x[0], branch[0]), add(x[1], branch[1])


def _feed_forward(layer: EncoderLayer, x: Dual) -> Dual:
    return _linear(_relu_(_linear(x, layer.linear1)), layer.linear2)


def _encoder_layer(layer: EncoderLayer, x: Dual, attn_mask: Tensor | None, buffers: _Buffers,
                   one_hot: Tensor | None = None, groups: Tensor | None = None) -> Dual:
    """One layer; ``one_hot``: the token holding each cell's tangent, when only one does (the
    first layer of a GT pass), so attention's tangent is computed from that row alone;
    ``groups``: cells that share all but their source token, whose attention is computed once."""

    def attention(x: Dual) -> Dual:
        if one_hot is None:
            return _attention(layer.self_attn, x, attn_mask, buffers)
        rows = x[1][torch.arange(len(one_hot), device=one_hot.device), one_hot]
        shared = None if groups is None else _attention_shared_context(layer.self_attn, x[0], rows, one_hot, groups)
        return shared if shared is not None else _attention_one_hot(layer.self_attn, x[0], rows, one_hot, attn_mask)

    if layer.pre_norm:
        x = _layer_norm(x, layer.norm1)
        x = _add(x, attention(x))
        x = _layer_norm(x, layer.norm2)
        return _add(x, _feed_forward(layer, x))
    x = _layer_norm(_add(x, attention(x)), layer.norm1)
    return _layer_norm(_add(x, _feed_forward(layer, x)), layer.norm2)


def _decoder(dec: ExprDecoder, x: Dual) -> Dual:
    for m in dec.fc:
        if isinstance(m, torch.nn.Linear):
            x = _linear(x, m)
        else:
            x = _leaky_relu(x, m.negative_slope)
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
    one_hot = _one_hot_rows(d_values)  # a GT pass: each cell's tangent on its source alone
    groups = None
    if (one_hot is not None and attn_mask is None and x[0].dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled(x[0].device.type)):  # 16-bit rounding would not survive its subtraction
        groups = _shared_context_groups(gene_ids, values, one_hot)
    buffers = _Buffers()
    for i, layer in enumerate(model.transformer_encoder.layers):
        x = _encoder_layer(layer, x, attn_mask, buffers, one_hot if i == 0 else None, groups if i == 0 else None)
    out, d_out = _decoder(model.decoder, x)
    if model.cfg.linear_rank:
        out = out + model.linear_path(gene_ids, values)
        d_out = d_out + model.linear_path(gene_ids, values, tangent=d_values)
    if model.cfg.gene_affine:
        scale = model.ugrn_gene_scale[gene_ids]
        out, d_out = model.ugrn_gene_mean[gene_ids] + scale * out, scale * d_out
    return out, d_out

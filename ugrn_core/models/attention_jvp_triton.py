"""Attention and its forward-mode tangent in one fused GPU kernel (Triton).

On a GPU the eager tangent pass (:mod:`.tangent`) writes the n × n scores, P and P∘dS to
memory and reads them back; at 1,201 tokens those passes, not the products, set its speed
(GT at 9.45× VVP per virtual cell on an H200, where VVP's flash attention writes none of
them). This kernel is flash attention carrying the tangent: per block of query rows it
streams the keys once, keeps an online softmax (running max m, row sums l), and accumulates

    E·V,   E·dV,   (E∘dS)·V,   rowsum(E∘dS)          with E = exp(S − m),

rescaling all four when m grows; the n × n arrays never leave the chip. At the end
out = E·V / l and d_out = (E·dV + (E∘dS)·V) / l − (rowsum(E∘dS) / l) · out, the same
formula as :func:`.tangent._attention_block`.

Used on CUDA when Triton imports, the head size is a power of two from 16 to 128 and no key
is masked; any other case, and any failure to compile, takes the eager blocks. Tested on a CPU
through Triton's interpreter (``TRITON_INTERPRET=1``) against the eager pass.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

try:  # an optional dependency: CUDA builds of torch bring it, CPU builds do not
    import triton
    import triton.language as tl
except Exception:  # noqa: BLE001 - absent, or installed but broken: the eager blocks serve  # pragma: no cover
    triton = None


def available() -> bool:
    """Whether Triton imported (absent or broken, GT keeps its eager attention)."""
    return triton is not None


def supports(head_size: int, dtype: torch.dtype) -> bool:
    """Head sizes Triton's ``dot`` takes (powers of two, 16 to 128: the accumulators must fit
    registers) and the dtypes it multiplies."""
    return 16 <= head_size <= 128 and head_size & (head_size - 1) == 0 and dtype in (torch.float32, torch.bfloat16, torch.float16)


if triton is not None:

    @triton.jit
    def _jvp_attention_kernel(Q, K, V, DQ, DK, DV, O, DO, n, heads, scale_log2e, scale,
                              stride_b, stride_n, stride_h, out_stride_b, out_stride_n, out_stride_h,
                              IEEE: tl.constexpr, HEAD: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
        rows = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        cell = tl.program_id(1).to(tl.int64) // heads
        head = tl.program_id(1).to(tl.int64) % heads
        slice_offset = cell * stride_b + head * stride_h
        cols = tl.arange(0, HEAD)
        row_ok = rows < n
        q_at = slice_offset + rows[:, None] * stride_n + cols[None, :]
        q = tl.load(Q + q_at, mask=row_ok[:, None], other=0.0)
        dq = tl.load(DQ + q_at, mask=row_ok[:, None], other=0.0)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        r_i = tl.zeros([BLOCK_M], tl.float32)
        acc_o = tl.zeros([BLOCK_M, HEAD], tl.float32)
        acc_dv = tl.zeros([BLOCK_M, HEAD], tl.float32)
        acc_ed = tl.zeros([BLOCK_M, HEAD], tl.float32)
        for start in range(0, n, BLOCK_N):
            keys = start + tl.arange(0, BLOCK_N)
            key_ok = keys < n
            kv_at = slice_offset + keys[:, None] * stride_n + cols[None, :]
            k = tl.load(K + kv_at, mask=key_ok[:, None], other=0.0)
            dk = tl.load(DK + kv_at, mask=key_ok[:, None], other=0.0)
            v = tl.load(V + kv_at, mask=key_ok[:, None], other=0.0)
            dv = tl.load(DV + kv_at, mask=key_ok[:, None], other=0.0)
            if IEEE:  # fp32 inputs: full-precision products, not TF32
                s = tl.dot(q, tl.trans(k), input_precision="ieee")
                ds = tl.dot(dq, tl.trans(k), input_precision="ieee") + tl.dot(q, tl.trans(dk), input_precision="ieee")
            else:
                s = tl.dot(q, tl.trans(k))
                ds = tl.dot(dq, tl.trans(k)) + tl.dot(q, tl.trans(dk))
            s = tl.where(key_ok[None, :], s * scale_log2e, float("-inf"))  # base 2: exp2 is the cheap exp
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp2(m_i - m_new)
            e = tl.exp2(s - m_new[:, None])
            ed = e * (ds * scale)
            l_i = l_i * alpha + tl.sum(e, 1)
            r_i = r_i * alpha + tl.sum(ed, 1)
            if IEEE:
                acc_o = acc_o * alpha[:, None] + tl.dot(e, v, input_precision="ieee")
                acc_dv = acc_dv * alpha[:, None] + tl.dot(e, dv, input_precision="ieee")
                acc_ed = acc_ed * alpha[:, None] + tl.dot(ed, v, input_precision="ieee")
            else:
                acc_o = acc_o * alpha[:, None] + tl.dot(e.to(v.dtype), v)
                acc_dv = acc_dv * alpha[:, None] + tl.dot(e.to(dv.dtype), dv)
                acc_ed = acc_ed * alpha[:, None] + tl.dot(ed.to(v.dtype), v)
            m_i = m_new
        out = acc_o / l_i[:, None]
        d_out = (acc_dv + acc_ed) / l_i[:, None] - (r_i / l_i)[:, None] * out
        o_at = cell * out_stride_b + head * out_stride_h + rows[:, None] * out_stride_n + cols[None, :]
        tl.store(O + o_at, out.to(O.dtype.element_ty), mask=row_ok[:, None])
        tl.store(DO + o_at, d_out.to(DO.dtype.element_ty), mask=row_ok[:, None])


def reference_with_tangent(q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor,
                           scale: float) -> tuple[Tensor, Tensor]:
    """What :func:`attention_with_tangent` computes, by ``torch.func.jvp`` of plain softmax
    attention in float64 (same layout ``[cells, n, heads, dh]``): the kernel's yardstick in the
    tests and in ``bench/gpu_check.py``."""
    def attention(q, k, v):
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        return (torch.softmax(q @ k.transpose(-1, -2) * scale, -1) @ v).transpose(1, 2)

    return torch.func.jvp(attention, tuple(t.double() for t in (q, k, v)), tuple(t.double() for t in (dq, dk, dv)))


def _launch_shape(head_size: int) -> tuple[int, int, int]:
    """(query rows, keys) per block and warps per program. Six [rows, keys] or [rows, head]
    tiles live at once (three accumulators, scores, their tangent, E); beyond a head of 32,
    narrower key blocks and 8 warps keep them in registers. A first guess, not yet tuned on a GPU."""
    return (64, 64, 4) if head_size <= 32 else (64, 32, 8)


def attention_with_tangent(q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor, scale: float,
                           block_m: int | None = None, block_n: int | None = None) -> tuple[Tensor, Tensor]:
    """``(softmax(q·kᵀ·scale)·v, its tangent)`` per (cell, head) for inputs in scGPT's layout
    ``[cells, n, heads, dh]`` (views of one q/k/v projection are fine: all six need the same
    strides and a unit last stride). Both outputs are ``[cells, n, heads, dh]`` contiguous in
    the inputs' dtype, i.e. ``[cells, n, d]`` with the heads merged."""
    if triton is None:
        raise RuntimeError("attention_with_tangent needs Triton (pip install triton).")
    tensors = (q, k, v, dq, dk, dv)
    if q.stride(-1) != 1 or len({t.stride() for t in tensors}) != 1:
        tensors = tuple(t.contiguous() for t in tensors)
    q, k, v, dq, dk, dv = tensors
    b, n, h, dh = q.shape
    out = torch.empty(b, n, h, dh, dtype=q.dtype, device=q.device)
    d_out = torch.empty_like(out)
    rows, keys, warps = _launch_shape(dh)
    block_m, block_n = block_m or rows, block_n or keys
    grid = (triton.cdiv(n, block_m), b * h)
    _jvp_attention_kernel[grid](q, k, v, dq, dk, dv, out, d_out, n, h, scale / math.log(2.0), scale,
                                q.stride(0), q.stride(1), q.stride(2), out.stride(0), out.stride(1), out.stride(2),
                                IEEE=q.dtype == torch.float32, HEAD=dh, BLOCK_M=block_m, BLOCK_N=block_n,
                                num_warps=warps)
    return out, d_out

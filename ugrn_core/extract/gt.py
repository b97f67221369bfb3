"""Gradient Trajectory: the local slope ∂M(cell)_j/∂v_i at T source values.

For each source i and value v_t (others as the context says; see ``ExtractionContext``)
one forward-mode product
(jvp) with the tangent e_i gives the whole Jacobian column — every target at once. The
batch holds different (source, value) cells with their own one-hot tangents; cells are
independent in the model, so one pass over the batch computes all of them. The pass is
the hand-written forward-mode rule of :mod:`ugrn_core.models.tangent` (about 2-3 forwards'
cost; ``torch.func.jvp`` cost 7-13 and could not use fused attention).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ExtractionContext, Progress, run_in_batches


def gt_features(ctx: ExtractionContext, source_pos: np.ndarray, values: np.ndarray, progress: Progress, done0: int = 0,
                total: int = 0, with_curves: bool = False):
    """``[S, T_targets, T_values]`` slopes; with ``with_curves`` also the pass's primal output,
    the response curves ``[S, T_values, T_targets]`` VVP reads at the same values."""
    model = ctx.model
    T = len(values)
    pos = torch.as_tensor(np.repeat(source_pos, T), device=model.device)
    vals = torch.as_tensor(np.tile(values, len(source_pos)), dtype=model.dtype, device=model.device)
    n = ctx.n_genes

    def batch(start: int, stop: int) -> torch.Tensor:
        p = pos[start:stop]
        cells = ctx.virtual_cells(p, vals[start:stop])  # [b * K, n]
        tangent = torch.zeros_like(cells)
        tangent[torch.arange(len(cells), device=cells.device), p.repeat_interleave(ctx.n_copies)] = 1.0
        value, slope = model.predict_with_tangent(ctx.gene_ids, cells, tangent)
        slope = ctx.read_targets(slope)
        return torch.cat([slope, ctx.read_targets(value)], dim=1) if with_curves else slope

    out = run_in_batches(batch, len(pos), ctx, progress, done0, total)  # [S*T, n] (or [S*T, 2n])
    slopes = out[:, :n].reshape(len(source_pos), T, n).permute(0, 2, 1).contiguous().numpy()
    if with_curves:
        return slopes, out[:, n:].reshape(len(source_pos), T, n)
    return slopes

"""Virtual Value Perturbation: a response curve of target j as source i is dialled up.

Virtual cell: the source gene at a value, the other genes as the context says (see
``ExtractionContext``: the paper's background value, masked, or a partition of masked
folds). For each source i and each of M values v_m:
e_ij[m] = M(cell with i <- v_m)_j − M(cell with i <- v_b)_j. With the background context
the reference cell (i at v_b) is the background cell itself, so one forward serves every
source's baseline and the cost is N·M + 1 forwards for N sources, each giving all targets;
the other contexts need one reference per source and K copies per cell.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ExtractionContext, Progress, run_in_batches


def reference_outputs(ctx: ExtractionContext, source_pos: np.ndarray) -> torch.Tensor:
    """M(cell with i at its reference value) per source (one row for the shared background cell)."""
    src = torch.as_tensor(source_pos, device=ctx.model.device)
    ref_src = src[:1] if ctx.shared_reference else src  # the background cell is every source's reference
    with torch.no_grad():
        cells = ctx.virtual_cells(ref_src, ctx.visible[ref_src])
        return ctx.read_targets(ctx.model.predict(ctx.gene_ids, cells)).float().cpu()


def vvp_from_curves(ctx: ExtractionContext, source_pos: np.ndarray, curves: torch.Tensor) -> np.ndarray:
    """e_ij[m] from the response curves ``[S, M, T]`` (M(cell: i <- v_m)_j): minus each
    source's reference output. GT's pass computes the same curves as its primal output."""
    base = reference_outputs(ctx, source_pos)
    out = curves.float() - base.view(len(base), 1, -1)
    return out.permute(0, 2, 1).contiguous().numpy()


@torch.no_grad()
def vvp_features(ctx: ExtractionContext, source_pos: np.ndarray, values: np.ndarray, progress: Progress, done0: int = 0, total: int = 0) -> np.ndarray:
    model = ctx.model
    M = len(values)
    dev, dt = model.device, model.dtype
    pos = torch.as_tensor(np.repeat(source_pos, M), device=dev)
    vals = torch.as_tensor(np.tile(values, len(source_pos)), dtype=dt, device=dev)

    def batch(start: int, stop: int) -> torch.Tensor:
        cells = ctx.virtual_cells(pos[start:stop], vals[start:stop])
        return ctx.read_targets(model.predict(ctx.gene_ids, cells))

    curves = run_in_batches(batch, len(pos), ctx, progress, done0, total).view(len(source_pos), M, -1)  # [S, M, T]
    return vvp_from_curves(ctx, source_pos, curves)

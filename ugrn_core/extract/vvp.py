"""Virtual Value Perturbation: a response curve of target j as source i is dialled up.

Virtual cell: every panel gene at the background value v_b. For each source i and each of
M values v_m: e_ij[m] = M(cell with i <- v_m)_j − M(cell with i <- v_b)_j. The reference
cell (i at v_b) is the background cell itself, so one forward serves every source's
baseline and the cost is N·M + 1 forwards for N sources, each giving all targets.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ExtractionContext, Progress, cells_with_source_at, run_in_batches


@torch.no_grad()
def vvp_features(ctx: ExtractionContext, source_pos: np.ndarray, values: np.ndarray, progress: Progress, done0: int = 0, total: int = 0) -> np.ndarray:
    model = ctx.model
    bg = ctx.background_cell()
    base = model.predict(ctx.gene_ids, bg[None])[0]
    M = len(values)
    pos = torch.as_tensor(np.repeat(source_pos, M), device=model.device)
    vals = torch.as_tensor(np.tile(values, len(source_pos)), dtype=model.dtype, device=model.device)

    def batch(start: int, stop: int) -> torch.Tensor:
        cells = cells_with_source_at(bg, pos[start:stop], vals[start:stop])
        return model.predict(ctx.gene_ids, cells) - base[None]

    out = run_in_batches(batch, len(pos), ctx, progress, done0, total)  # [S*M, T]
    return out.view(len(source_pos), M, -1).permute(0, 2, 1).contiguous().numpy()

"""Perturbation (baseline): e_ij = M(x̄)_j − M(x̄ with gene i set to 0)_j on the real mean cell.

Scalar per pair. Its size scales with gene i's own mean expression, which is why the
paper finds it hard to compare across genes and datasets.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ExtractionContext, Progress, cells_with_source_at, run_in_batches

N_FORWARDS_PER_SOURCE = 1


@torch.no_grad()
def perturbation_features(ctx: ExtractionContext, source_pos: np.ndarray, progress: Progress, done0: int = 0, total: int = 0) -> np.ndarray:
    if ctx.mean_values is None:
        raise ValueError("Perturbation needs the dataset's mean expression (ctx.mean_values).")
    model = ctx.model
    mean = torch.as_tensor(ctx.mean_values, dtype=model.dtype, device=model.device)
    base = model.predict(ctx.gene_ids, mean[None])[0]
    pos = torch.as_tensor(source_pos, device=model.device)

    def batch(start: int, stop: int) -> torch.Tensor:
        p = pos[start:stop]
        cells = cells_with_source_at(mean, p, torch.zeros(len(p), dtype=model.dtype, device=model.device))
        return base[None] - model.predict(ctx.gene_ids, cells)

    out = run_in_batches(batch, len(pos), ctx, progress, done0, total)
    return out.numpy()[:, :, None]

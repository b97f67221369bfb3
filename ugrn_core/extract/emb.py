"""Embedding (baseline): gene-token embeddings, summed (E_i + E_j) or concatenated [E_i; E_j].

The sum is the paper's form and cannot tell direction; the concatenation keeps it.
No forward pass and no data: embeddings are properties of the model alone.
"""

from __future__ import annotations

import numpy as np
import torch

from .base import ExtractionContext

MODES = ("sum", "concat")


def embedding_features(ctx: ExtractionContext, source_pos: np.ndarray, mode: str = "sum") -> np.ndarray:
    if mode not in MODES:
        raise ValueError(f"embedding mode must be one of {MODES}, not {mode!r}")
    E = ctx.model.gene_embeddings(ctx.gene_ids)  # [T, D]
    Es = E[torch.as_tensor(source_pos, device=E.device)]  # [S, D]
    if mode == "sum":
        out = Es[:, None, :] + E[None, :, :]
    else:
        out = torch.cat([Es[:, None, :].expand(-1, len(E), -1), E[None].expand(len(Es), -1, -1)], dim=-1)
    return out.cpu().numpy()


"""Embedding (baseline): gene-token embeddings, summed (E_i + E_j) or concatenated [E_i; E_j].

The sum is the paper's form and cannot tell direction; the concatenation keeps it.
No forward pass and no data: embeddings are properties of the model alone. The pair
features are never materialised as ``[S, T, D]`` (2.9 GB for 1,200 genes at d = 512):
:class:`PairEmbedding` keeps the source and target rows and builds e_ij for the pairs asked.
"""

from __future__ import annotations

import numpy as np

from .base import ExtractionContext

MODES = ("sum", "concat")


class PairEmbedding:
    """``[S, T, D]`` pair features ``E_i + E_j`` (or ``[E_i; E_j]``) read lazily.

    Indexes like the array it stands for (``f[si, ti]`` with paired index arrays, ``f[i]``,
    ``f[i, :]``, slices); ``np.asarray(f)`` materialises it, for small panels only.
    """

    ndim = 3

    def __init__(self, source_rows: np.ndarray, target_rows: np.ndarray, mode: str = "sum"):
        if mode not in MODES:
            raise ValueError(f"embedding mode must be one of {MODES}, not {mode!r}")
        self.source_rows = np.asarray(source_rows, dtype=np.float32)
        self.target_rows = np.asarray(target_rows, dtype=np.float32)
        self.mode = mode

    @property
    def shape(self) -> tuple[int, int, int]:
        d = self.source_rows.shape[1] * (1 if self.mode == "sum" else 2)
        return (len(self.source_rows), len(self.target_rows), d)

    @property
    def dtype(self):
        return self.source_rows.dtype

    def __len__(self) -> int:
        return len(self.source_rows)

    def __getitem__(self, key) -> np.ndarray:
        si, ti = key if isinstance(key, tuple) else (key, slice(None))
        s = np.arange(len(self.source_rows))[si]
        t = np.arange(len(self.target_rows))[ti]
        if isinstance(si, slice) or isinstance(ti, slice):  # numpy: a slice makes the product of the two
            s = s[:, None] if np.ndim(s) == 1 and np.ndim(t) == 1 else s
        s, t = np.broadcast_arrays(s, t)
        a, b = self.source_rows[s], self.target_rows[t]
        return a + b if self.mode == "sum" else np.concatenate([a, b], axis=-1)

    def __array__(self, dtype=None, copy=None):
        full = self[:, :]
        return full if dtype is None else full.astype(dtype)

    def astype(self, dtype) -> np.ndarray:
        return np.asarray(self, dtype=dtype)


def embedding_features(ctx: ExtractionContext, source_pos: np.ndarray, mode: str = "sum") -> PairEmbedding:
    if mode not in MODES:
        raise ValueError(f"embedding mode must be one of {MODES}, not {mode!r}")
    E = ctx.model.gene_embeddings(ctx.gene_ids).float().cpu().numpy()  # [T, D]
    return PairEmbedding(E[np.asarray(source_pos)], E, mode)

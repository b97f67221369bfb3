"""Shared machinery for the gene-pair extractors: results, virtual cells, batching.

Every extractor answers the same question for a set of source genes and all target genes
of a panel: a feature vector e_ij per ordered pair, returned as ``[n_sources, n_targets,
dim]``. The panel is also the virtual cell's context: one forward of a virtual cell gives
the model's prediction for every target at once, so work scales with sources, not pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol

import numpy as np
import pandas as pd
import torch

from ..models.foundation import FoundationModel

Progress = Callable[[int, int], None]


def no_progress(done: int, total: int) -> None:  # noqa: ARG001 - callback signature
    return None


@dataclass
class PairFeatures:
    """Features for ordered pairs (source -> target): ``features[i, j]`` is e_ij."""

    method: str
    features: np.ndarray
    sources: list[str]
    targets: list[str]
    score: np.ndarray | None = None  # untrained edge score [S, T] (the paper's 'origin' use)
    params: dict = field(default_factory=dict)

    def to_frame(self, column: str | None = None, drop_self: bool = True) -> pd.DataFrame:
        """Tidy table ``source, target, <column>`` of the untrained score."""
        s = self.score
        src = np.repeat(np.asarray(self.sources, dtype=object), len(self.targets))
        tgt = np.tile(np.asarray(self.targets, dtype=object), len(self.sources))
        df = pd.DataFrame({"source": src, "target": tgt, column or self.method: s.ravel()})
        if drop_self:
            df = df[df.source != df.target]
        return df.reset_index(drop=True)

    def save_npz(self, path) -> None:
        np.savez_compressed(
            path,
            features=self.features.astype(np.float32),
            sources=np.asarray(self.sources, dtype=str),
            targets=np.asarray(self.targets, dtype=str),
            score=self.score.astype(np.float32),
        )

    @classmethod
    def load_npz(cls, path, method: str) -> "PairFeatures":
        with np.load(path, allow_pickle=False) as npz:
            return cls(method, npz["features"], list(npz["sources"]), list(npz["targets"]), npz["score"])


@dataclass
class ExtractionContext:
    """What every extractor needs: the model, the panel and the virtual-cell background."""

    model: FoundationModel
    genes: list[str]
    background: float
    mean_values: np.ndarray | None = None  # dataset mean in model units (Perturbation)
    batch_size: int = 64

    def __post_init__(self) -> None:
        self.gene_ids = self.model.token_ids(self.genes)
        self.index = {g: i for i, g in enumerate(self.genes)}

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    def background_cell(self) -> torch.Tensor:
        return torch.full((self.n_genes,), float(self.background), dtype=self.model.dtype, device=self.model.device)


class BatchFn(Protocol):
    def __call__(self, start: int, stop: int) -> torch.Tensor: ...


def run_in_batches(fn: BatchFn, n: int, ctx: ExtractionContext, progress: Progress, done0: int, total: int) -> torch.Tensor:
    """Evaluate ``fn`` over ``range(n)`` in batches; halve the batch on CUDA out-of-memory."""
    outputs, start, bs = [], 0, max(1, ctx.batch_size)
    while start < n:
        stop = min(n, start + bs)
        try:
            outputs.append(fn(start, stop).detach().float().cpu())
        except torch.cuda.OutOfMemoryError:
            if bs == 1:
                raise
            torch.cuda.empty_cache()
            bs = max(1, bs // 2)
            ctx.batch_size = bs
            continue
        start = stop
        progress(done0 + start, total)
    return torch.cat(outputs) if outputs else torch.empty(0)


def cells_with_source_at(base: torch.Tensor, positions: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A batch of copies of ``base`` with ``cell[k, positions[k]] = values[k]``."""
    cells = base.expand(len(positions), -1).clone()
    cells[torch.arange(len(positions), device=base.device), positions] = values
    return cells

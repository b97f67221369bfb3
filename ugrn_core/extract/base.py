"""Shared machinery for the gene-pair extractors: results, virtual cells, batching.

Every extractor answers the same question for a set of source genes and all target genes
of a panel: a feature vector e_ij per ordered pair, returned as ``[n_sources, n_targets,
dim]``. The panel is also the virtual cell's context: one forward of a virtual cell gives
the model's prediction for every target at once, so work scales with sources, not pairs.
"""

from __future__ import annotations

import json
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
    score_sd: np.ndarray | None = None  # [S, T] spread of the score between draws of real cells (n_cell_samples > 1)

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
        """Features, genes, score and the parameters (value grid included) in one ``.npz``."""
        extra = {} if self.score_sd is None else {"score_sd": self.score_sd.astype(np.float32)}
        extra.update(feature_arrays(self.features))
        np.savez_compressed(
            path,
            sources=np.asarray(self.sources, dtype=str),
            targets=np.asarray(self.targets, dtype=str),
            score=self.score.astype(np.float32),
            params=np.asarray(json.dumps(self.params, default=json_value)),
            **extra,
        )

    @classmethod
    def load_npz(cls, path, method: str) -> "PairFeatures":
        with np.load(path, allow_pickle=False) as npz:
            params = json.loads(str(npz["params"])) if "params" in npz.files else {}
            sd = npz["score_sd"] if "score_sd" in npz.files else None
            features = features_from_arrays({k: npz[k] for k in npz.files if k in FEATURE_KEYS})
            return cls(method, features, list(npz["sources"]), list(npz["targets"]), npz["score"], params, sd)


FEATURE_KEYS = ("features", "source_rows", "target_rows", "emb_mode")


def feature_arrays(features) -> dict[str, np.ndarray]:
    """How pair features are stored: the array, or an embedding's two row sets (never [S, T, D])."""
    from .emb import PairEmbedding

    if isinstance(features, PairEmbedding):
        return {"source_rows": features.source_rows, "target_rows": features.target_rows,
                "emb_mode": np.asarray(features.mode)}
    return {"features": np.asarray(features, dtype=np.float32)}


def features_from_arrays(arrays: dict[str, np.ndarray]):
    """The inverse of :func:`feature_arrays`."""
    from .emb import PairEmbedding

    if "source_rows" in arrays:
        return PairEmbedding(arrays["source_rows"], arrays["target_rows"], str(arrays["emb_mode"]))
    return arrays["features"]


def json_value(o):
    """``json.dumps(..., default=json_value)``: numpy scalars and arrays, sets and tuples as JSON; anything else as text."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


CONTEXTS = ("background", "masked", "partition", "cells")


@dataclass
class ExtractionContext:
    """What every extractor needs: the model, the panel and the virtual cells' context.

    The context is what the non-source genes of a VVP/GT virtual cell hold:

    - ``background``: every other gene at ``background`` (the paper's design). The outputs
      read at those positions are ones masked-value training never scored.
    - ``masked``: every other gene hidden (mask value): each target is predicted from the
      source alone, as trained, but with far more genes hidden than in training.
    - ``partition``: the genes are split into ``folds`` fixed groups; copy k hides group k
      and shows the rest at ``background``, and each target is read from the copy that
      hides it. Every read is a trained masked prediction, made with most of the panel
      visible (1/folds hidden, near the training mask ratio), at ``folds`` x the cost.
    - ``cells``: the other genes hold a real cell's values; each virtual cell is made in
      every one of the ``cells`` (a fixed sample of the dataset) and each target's output is
      averaged over them. The inputs look like the cells the model was trained on, at
      ``len(cells)`` x the cost; the source's reference value is its dataset mean.
    """

    model: FoundationModel
    genes: list[str]
    background: float
    mean_values: np.ndarray | None = None  # dataset mean in model units (Perturbation)
    batch_size: int = 64
    context: str = "background"
    folds: int = 3
    fill: str = "constant"  # visible context genes: the constant ``background``, or the dataset's mean cell
    cells: np.ndarray | None = None  # [C, n] real cells in model units (the ``cells`` context)

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(f"Unknown virtual-cell context {self.context!r}; choose from {', '.join(CONTEXTS)}.")
        self.gene_ids = self.model.token_ids(self.genes)
        self.index = {g: i for i, g in enumerate(self.genes)}
        n, dev, dt = self.n_genes, self.model.device, self.model.dtype
        mask = float(self.model.value_spec.mask_value)
        if self.context == "cells":
            if self.cells is None or len(self.cells) == 0:
                raise ValueError("The 'cells' virtual-cell context needs the dataset's cells: pass cell_values "
                                 "(cells x genes, model units), or choose another context, e.g. context='background'.")
            cells = np.asarray(self.cells, dtype=np.float64)
            visible = cells.mean(axis=0) if self.mean_values is None else np.asarray(self.mean_values, dtype=np.float64)
        elif self.fill == "mean":
            if self.mean_values is None:
                raise ValueError("fill='mean' needs the dataset's mean values (mean_values).")
            visible = np.asarray(self.mean_values, dtype=np.float64)
        elif self.fill == "constant":
            visible = np.full(n, float(self.background))
        else:
            raise ValueError(f"Unknown fill {self.fill!r}; choose 'constant' or 'mean'.")
        if self.context == "partition":
            k = max(2, min(int(self.folds), n))
            fold = np.random.default_rng(0).permutation(n) % k  # fixed, so results are reproducible
            bases = np.where(fold[None, :] == np.arange(k)[:, None], mask, visible[None, :])
        else:
            fold = np.zeros(n, dtype=np.int64)
            if self.context == "cells":
                bases = cells
            elif self.context == "masked":
                bases = np.full((1, n), mask)
            else:
                bases = visible[None, :]
        self.visible = torch.as_tensor(visible, dtype=dt, device=dev)  # [n]: a source's reference value
        self.n_copies = len(bases)
        self.bases = torch.as_tensor(bases, dtype=dt, device=dev)  # [K, n]
        self.fold_of = torch.as_tensor(fold, dtype=torch.long, device=dev)  # [n]

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    @property
    def shared_reference(self) -> bool:
        """Whether the reference cell (source at its visible value) is one cell for every source."""
        return self.context == "background"

    def virtual_cells(self, positions: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """``[b * K, n]``: the K context copies of each virtual cell, source k set to value k."""
        b = len(positions)
        cells = self.bases.expand(b, -1, -1).clone()
        cells[torch.arange(b, device=cells.device), :, positions] = values[:, None]
        return cells.reshape(b * self.n_copies, self.n_genes)

    def read_targets(self, out: torch.Tensor) -> torch.Tensor:
        """``[b * K, n] -> [b, n]``: each target from the copy whose context hides it, or
        (``cells``) averaged over the real cells."""
        out = out.reshape(-1, self.n_copies, self.n_genes)
        if self.context == "cells":
            return out.mean(dim=1)
        return out.gather(1, self.fold_of.expand(len(out), 1, -1)).squeeze(1)


class BatchFn(Protocol):
    def __call__(self, start: int, stop: int) -> torch.Tensor: ...


def run_in_batches(fn: BatchFn, n: int, ctx: ExtractionContext, progress: Progress, done0: int, total: int) -> torch.Tensor:
    """Evaluate ``fn`` over ``range(n)`` in batches; halve the batch on CUDA out-of-memory."""
    copies = ctx.n_copies  # each item is that many cells
    outputs, start, bs = [], 0, max(1, ctx.batch_size // copies)
    while start < n:
        stop = min(n, start + bs)
        try:
            outputs.append(fn(start, stop).detach().float().cpu())
        except torch.cuda.OutOfMemoryError:
            if bs == 1:
                raise
            torch.cuda.empty_cache()
            bs = max(1, bs // 2)
            ctx.batch_size = bs * copies
            continue
        start = stop
        progress(done0 + start * copies, total)
    return torch.cat(outputs) if outputs else torch.empty(0)


def cells_with_source_at(base: torch.Tensor, positions: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """A batch of copies of ``base`` with ``cell[k, positions[k]] = values[k]``."""
    cells = base.expand(len(positions), -1).clone()
    cells[torch.arange(len(positions), device=base.device), positions] = values
    return cells

"""Gene-pair feature extraction from a frozen model: Perturbation, Embedding, VVP, GT.

:func:`extract_features` is the one entry point. It splits the sources into chunks, reads
finished chunks from the content-keyed cache, computes the rest (so an interrupted run
resumes where it stopped) and reports progress in virtual-cell forwards.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .. import __version__
from ..errors import GeneNotFoundError
from ..models.foundation import FoundationModel
from .base import ExtractionContext, PairFeatures, Progress, no_progress
from .cache import FeatureCache, content_key
from .emb import embedding_features
from .engines import ChunkJob, ChunkWork, make_engine
from .gt import gt_features
from .pert import perturbation_features
from .scale import SCALED_METHODS, SCALES, SPREAD_CELLS, target_spread
from .vvp import vvp_features, vvp_from_curves

METHODS = ("pert", "emb", "vvp", "gt")
METHOD_LABELS = {
    "pert": "Perturbation",
    "emb": "Embedding",
    "vvp": "Virtual Value Perturbation",
    "gt": "Gradient Trajectory",
}
# Bump when a method's numbers change, so old cache entries are not reused.
FEATURE_VERSION = {"pert": 1, "emb": 1, "vvp": 1, "gt": 1}


def _mean_abs(features: np.ndarray) -> np.ndarray:
    return np.abs(features).mean(axis=-1)


def _cosine(E_s: np.ndarray, E_t: np.ndarray) -> np.ndarray:
    a = E_s / np.linalg.norm(E_s, axis=1, keepdims=True).clip(1e-12)
    b = E_t / np.linalg.norm(E_t, axis=1, keepdims=True).clip(1e-12)
    return a @ b.T


SCORE_HELP = {
    "pert": "|e_ij|: size of target j's change when source i is zeroed in the mean cell",
    "emb": "cosine similarity of the gene-token embeddings E_i and E_j (symmetric)",
    "vvp": "mean over the M virtual values of |e_ij[m]| (response-curve magnitude)",
    "gt": "mean over the T source values of |dM_j/dv_i| (average local slope)",
}


@dataclass
class ExtractionParams:
    """Virtual-cell settings. ``None`` means: take it from the model's ValueSpec.

    background: value of every non-source gene in a VVP/GT virtual cell.
    context / mask_folds / n_cells: what the other genes of a VVP/GT virtual cell hold:
        "background" (the paper's design), "masked", "partition" into ``mask_folds`` masked
        folds, or "cells": ``n_cells`` real cells of the dataset, outputs averaged over them
        (see ``ExtractionContext``).
    fill: the visible context genes' value: "constant" (``background``) or "mean" (the
        dataset's mean cell; needs mean_values).
    vvp_values / gt_values: M and T, the number of source values swept over the model's
        input range (paper: 8 each); ``value_grid`` overrides both with explicit values.
    cell_seed / n_cell_samples: the ``cells`` context's sample of real cells is drawn with
        ``cell_seed``; with ``n_cell_samples`` > 1 it is drawn that many times (seeds
        ``cell_seed``, ``cell_seed + 1``, ...), the features average over every draw and each
        score's spread between draws is kept (``PairFeatures.score_sd``): how much an edge
        moves with the cells drawn. Costs ``n_cell_samples`` x.
    scale: divide each target's response (pert, vvp, gt) by a spread of that target, so
        scores compare across targets: "output_sd" (the model's prediction spread over real
        cells), "data_sd" (the target's spread in the data) or "none" (raw; see ``scale.py``).
    """

    background: float | None = None
    context: str = "cells"
    mask_folds: int = 3
    n_cells: int = 8
    cell_seed: int = 0
    n_cell_samples: int = 1
    fill: str = "constant"
    vvp_values: int = 8
    gt_values: int = 8
    value_grid: tuple[float, ...] | None = None
    emb_mode: str = "sum"
    scale: str = "output_sd"
    batch_size: int = 64
    chunk_sources: int = 32

    def grid(self, model: FoundationModel, method: str) -> np.ndarray:
        if self.value_grid is not None:
            return np.asarray(self.value_grid, dtype=np.float32)
        return model.value_spec.grid(self.vvp_values if method == "vvp" else self.gt_values)

    def resolved_background(self, model: FoundationModel) -> float:
        return float(model.value_spec.background if self.background is None else self.background)

    @property
    def draws(self) -> int:
        """Samples of real cells a VVP/GT extraction reads (the ``cells`` context only)."""
        return max(1, int(self.n_cell_samples)) if self.context == "cells" else 1

    @property
    def copies(self) -> int:
        """Model inputs per virtual cell (the partition context's masked folds, the cells context's cells)."""
        if self.context == "partition":
            return max(2, self.mask_folds)
        return max(1, self.n_cells) if self.context == "cells" else 1


def sample_cells(cell_values: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """A fixed sample of ``n`` cells (rows), so a rerun reads the same cells and hits the cache."""
    cell_values = np.asarray(cell_values, dtype=np.float32)
    if len(cell_values) <= n:
        return cell_values
    rows = np.sort(np.random.default_rng(seed).choice(len(cell_values), n, replace=False))
    return cell_values[rows]


def forwards_needed(method: str, n_sources: int, params: ExtractionParams | None = None) -> int:
    """Virtual-cell forwards an extraction costs (GT's jvp counts as one, ~2-3x a forward)."""
    params = params or ExtractionParams()
    if method in ("pert", "emb"):
        return n_sources + 1 if method == "pert" else 0
    per_source = (params.vvp_values if method == "vvp" else params.gt_values) * params.copies
    if method == "gt":
        return n_sources * per_source * params.draws
    return n_sources * per_source * params.draws + reference_forwards(n_sources, params)


def reference_forwards(n_sources: int, params: ExtractionParams) -> int:
    """VVP's reference cells: one shared background cell, or one per source (its copies, each draw)."""
    if params.context == "background":
        return 1
    return n_sources * params.copies * params.draws


def extraction_order(methods) -> list[str]:
    """``methods`` with GT before VVP: GT's pass leaves VVP's chunks in the cache."""
    methods = list(methods)
    if "gt" in methods and "vvp" in methods and methods.index("vvp") < methods.index("gt"):
        methods.remove("gt")
        methods.insert(methods.index("vvp"), "gt")
    return methods


def compute_gt_and_vvp(ctx: ExtractionContext, pos: np.ndarray, grid, progress, done0, total) -> tuple[np.ndarray, np.ndarray]:
    """GT's slopes and, from the same pass's primal output, VVP's features at the same values."""
    slopes, curves = gt_features(ctx, pos, grid, progress, done0, total, with_curves=True)
    return slopes, vvp_from_curves(ctx, pos, curves)


def compute_method(method: str, ctx: ExtractionContext, pos: np.ndarray, grid, progress, done0, total):
    """One chunk of sources' features by a chunked method (no cache: see ``engines.run_chunk``;
    embeddings are a lookup and never chunked)."""
    if method == "pert":
        return perturbation_features(ctx, pos, progress, done0, total)
    if method == "vvp":
        return vvp_features(ctx, pos, grid, progress, done0, total)
    if method == "gt":
        return gt_features(ctx, pos, grid, progress, done0, total)
    raise ValueError(f"Unknown method {method!r}; choose from {', '.join(METHODS)}")


def _target_spread(kind: str, model: FoundationModel, genes: list[str], cell_values, cache: FeatureCache | None) -> np.ndarray:
    """The per-target spread, from the cache when the same model, panel and cells made it before."""
    cells = None if cell_values is None else sample_cells(cell_values, SPREAD_CELLS, seed=1)
    if kind != "output_sd" or cache is None:
        return target_spread(kind, model, genes, cell_values, cells)
    key = content_key("target_spread", kind, __version__, model.digest, model.precision, genes, cells)
    return cache.get_or_compute(key, lambda: {"spread": target_spread(kind, model, genes, cell_values, cells)})["spread"]


def _chunked(method, model, genes, params, cache, progress, engine, cell_values, mean_values, background, grid,
             pos_all, draws, per_draw, total) -> list[np.ndarray]:
    """Each draw's ``[S, T, dim]`` features of a virtual-cell or perturbation method, computed
    chunk by chunk on ``engine`` and cached per chunk."""
    virtual = method in ("vvp", "gt")
    reads_cells = virtual and params.context == "cells"
    chunks = [pos_all[i:i + params.chunk_sources] for i in range(0, len(pos_all), params.chunk_sources)]
    per_source = max(per_draw // max(len(pos_all), 1), 0)
    work = ChunkWork(method, genes, background, mean_values, params.batch_size,
                     params.context if virtual else "background", params.mask_folds,
                     params.fill if virtual else "constant", grid)
    # GT's pass computes VVP's response curves as its primal output: with a cache and the same
    # value grid, each GT chunk also stores its VVP chunk (a reference forward per source more),
    # so a VVP extraction after it is read from the cache (run_extraction orders GT first)
    share_vvp = method == "gt" and cache is not None and np.array_equal(grid, params.grid(model, "vvp"))
    jobs, sizes = [], []
    for draw in range(draws):
        cells = (sample_cells(cell_values, params.n_cells, seed=params.cell_seed + draw)
                 if reads_cells and cell_values is not None else None)

        def key_parts(m: str) -> list:
            return [
                m, FEATURE_VERSION[m], __version__, model.digest, model.precision, genes,
                background if virtual else None,
                None if not virtual or params.context == "background" else (params.context, params.copies),
                np.asarray(mean_values, dtype=np.float32) if virtual and params.fill == "mean" else None,
                (cells, None if mean_values is None else np.asarray(mean_values, dtype=np.float32)) if reads_cells else None,
                grid, None,  # None: the embedding mode's place (emb is no longer chunked); keys stay as they were
                np.asarray(mean_values, dtype=np.float32) if m == "pert" else None,
            ]

        own, vvp = key_parts(method), key_parts("vvp") if share_vvp else None
        done = draw * per_draw
        for chunk in chunks:
            jobs.append(ChunkJob(content_key(*own, chunk), chunk, cells, done,
                                 content_key(*vvp, chunk) if share_vvp else None))
            sizes.append(per_source * len(chunk))
            done += sizes[-1]
    arrays = make_engine(engine).run(work, model, jobs, cache, progress, total, sizes)
    empty = np.zeros((0, len(genes), 1), np.float32)
    return [np.concatenate(arrays[d * len(chunks):(d + 1) * len(chunks)]) if chunks else empty for d in range(draws)]


def extract_features(
    method: str,
    model: FoundationModel,
    genes: list[str],
    sources: list[str] | None = None,
    mean_values: np.ndarray | None = None,
    params: ExtractionParams | None = None,
    cache: FeatureCache | None = None,
    progress: Progress | None = None,
    cell_values: np.ndarray | None = None,
    spread_values: np.ndarray | None = None,
    engine=None,
) -> PairFeatures:
    """Features for every ordered pair (source -> target) among ``genes``.

    genes: the panel (targets and the virtual cell's context), all in the model's vocabulary.
    sources: subset of ``genes`` to use as sources (default: all).
    mean_values: the dataset's mean expression in model units, aligned to ``genes``
        (needed by ``pert``; the ``cells`` context's reference values).
    cell_values: the dataset's cells in model units (cells x ``genes``), needed by the
        ``cells`` context, which reads a fixed sample of ``params.n_cells`` of them.
    spread_values: the cells per-target spreads (``params.scale``) are read from (default
        ``cell_values``); one group of cells passes the whole dataset's, so groups compare.
    engine: where the chunks run: ``"local"`` (default, this process), ``"ray"`` or an
        engine object (``engines.RayEngine(address=..., gpus_per_task=...)``).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method {method!r}; choose from {', '.join(METHODS)}")
    params = params or ExtractionParams()
    if params.scale not in SCALES:
        raise ValueError(f"Unknown target scale {params.scale!r}; choose from {', '.join(SCALES)}.")
    progress = progress or no_progress
    genes = list(genes)
    sources = genes if sources is None else list(sources)
    panel = set(genes)
    missing = [s for s in sources if s not in panel]
    if missing:
        raise GeneNotFoundError(
            f"Source gene(s) {missing[:10]} are not in the gene panel. Add them to the panel "
            "(always-include genes) or pick sources from it."
        )
    background = params.resolved_background(model)
    virtual = method in ("vvp", "gt")  # the methods that build virtual cells in a context
    reads_cells = virtual and params.context == "cells"
    grid = params.grid(model, method) if virtual else None
    index = {g: i for i, g in enumerate(genes)}
    pos_all = np.array([index[s] for s in sources], dtype=np.int64)
    draws = params.draws if reads_cells else 1
    per_draw = forwards_needed(method, len(sources), params) // draws
    total = per_draw * draws

    if method == "emb":  # a lookup, no forward pass: no chunks, no cache, never [S, T, D] in memory
        ctx = ExtractionContext(model, genes, background, mean_values, params.batch_size)
        drawn = [embedding_features(ctx, pos_all, params.emb_mode)]
    else:
        drawn = _chunked(method, model, genes, params, cache, progress, engine, cell_values, mean_values,
                         background, grid, pos_all, draws, per_draw, total)
    progress(total, total)
    spread = None
    if method in SCALED_METHODS and params.scale != "none":
        spread = _target_spread(params.scale, model, genes, cell_values if spread_values is None else spread_values, cache)
        drawn = [(f / spread[None, :, None]).astype(np.float32) for f in drawn]
    # several draws: the features average over all their cells; the score's spread is between draws
    features = drawn[0] if draws == 1 else np.mean(drawn, axis=0).astype(np.float32)
    score_sd = np.std([_mean_abs(f) for f in drawn], axis=0, ddof=1).astype(np.float32) if draws > 1 else None
    info = {k: v for k, v in asdict(params).items() if k not in ("batch_size", "chunk_sources")}
    info.update(background=background, value_grid=None if grid is None else grid.tolist())
    if spread is not None:
        info["target_spread"] = spread.tolist()
    else:
        info["scale"] = "none"
    if not reads_cells:
        info.pop("cell_seed"), info.pop("n_cell_samples")  # only the cells context draws cells
    if method == "emb":
        # E_i + E_j alone gives no pair score; the untrained use of embeddings is cosine similarity.
        E = features.target_rows
        score = _cosine(E[pos_all], E)
    else:
        score = _mean_abs(features)
    return PairFeatures(method, features, sources, genes, score.astype(np.float32), info, score_sd)


__all__ = [
    "METHODS", "METHOD_LABELS", "SCORE_HELP", "ExtractionParams", "PairFeatures",
    "FeatureCache", "extract_features", "extraction_order", "forwards_needed", "reference_forwards", "sample_cells",
]

"""The extraction pipeline as the CLI and the app run it: data -> panel -> features -> edges.

Each step returns a report a person can read (preprocessing, vocabulary coverage, panel),
so problems surface before minutes of compute are spent.
"""

from __future__ import annotations

from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd

from .data.gene_ids import VocabMapping, map_to_vocab, symbol_names
from .data.io import read_dataset
from .data.preprocess import PreprocessReport, dense_matrix, preprocess, select_panel
from .extract import METHODS, ExtractionParams, FeatureCache, PairFeatures, extract_features
from .models.foundation import FoundationModel
from .models.values import to_model_values


@dataclass
class PreparedData:
    """A dataset made ready for one model: log-normalised, mapped, panel chosen."""

    adata: ad.AnnData
    report: PreprocessReport
    mapping: VocabMapping
    panel: list[str]
    model_values: np.ndarray  # cells x panel, in the model's input units

    @property
    def mean_values(self) -> np.ndarray:
        return self.model_values.mean(axis=0)


def _use_symbols(adata: ad.AnnData) -> ad.AnnData:
    names = symbol_names(adata)
    if names != list(adata.var_names):
        adata = adata.copy()
        adata.var["original_id"] = adata.var_names
        adata.var_names = names
        adata.var_names_make_unique()
    return adata


def prepare_data(
    data: str | ad.AnnData,
    model: FoundationModel,
    n_genes: int = 300,
    keep_genes: list[str] | None = None,
    min_coverage: float = 0.5,
    restrict_to: set[str] | None = None,
) -> PreparedData:
    """Load (if a path or ``"demo"``), normalise, map to the vocabulary, choose the panel.

    restrict_to: upper-case symbols the panel must come from (e.g. a reference network's genes).
    """
    hint = data if isinstance(data, str) else "PATH"
    adata = read_dataset(data) if isinstance(data, str) else data
    adata, report = preprocess(_use_symbols(adata))
    mapping = map_to_vocab(list(adata.var_names), model.vocab, min_coverage, data_hint=hint)
    keep = [str(g) for g in (keep_genes or [])]
    candidates = mapping.known
    if restrict_to is not None:
        candidates = [g for g in candidates if g.upper() in restrict_to]
    panel = select_panel(adata, n_genes, keep=keep, candidates=candidates)
    values = to_model_values(dense_matrix(adata, panel), model.value_spec)
    return PreparedData(adata, report, mapping, panel, values)


def run_extraction(
    prepared: PreparedData,
    model: FoundationModel,
    methods=METHODS,
    sources: list[str] | None = None,
    params: ExtractionParams | None = None,
    cache: FeatureCache | None = None,
    progress=None,
) -> dict[str, PairFeatures]:
    """Extract each method's features; ``progress(method, done, total)`` if given."""
    out = {}
    for method in methods:
        cb = (lambda d, t, m=method: progress(m, d, t)) if progress else None
        out[method] = extract_features(
            method, model, prepared.panel, sources, prepared.mean_values, params, cache, cb,
            cell_values=prepared.model_values,
        )
    return out


def edges_table(results: dict[str, PairFeatures]) -> pd.DataFrame:
    """Wide table ``source, target, <method>…`` of untrained scores (self-pairs dropped)."""
    frame = None
    for method, feats in results.items():
        df = feats.to_frame(method)
        frame = df if frame is None else frame.merge(df, on=["source", "target"], how="outer")
    return frame if frame is not None else pd.DataFrame(columns=["source", "target"])


__all__ = ["PreparedData", "prepare_data", "run_extraction", "edges_table"]

"""The extraction pipeline as the CLI and the app run it: data -> panel -> features -> edges.

Each step returns a report a person can read (preprocessing, vocabulary coverage, panel),
so problems surface before minutes of compute are spent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anndata as ad
import numpy as np
import pandas as pd

from .data.gene_ids import VocabMapping, map_to_vocab, symbol_names
from .data.io import SUBSAMPLE_NOTE, read_dataset
from .data.matrix import use_matrix
from .data.preprocess import PreprocessReport, dense_matrix, preprocess, select_panel, variability_order
from .data.regulators import MAX_REGULATORS, MIN_CELLS, MIN_DETECTED, PANEL_MODES, expressed_regulators
from .extract import METHODS, ExtractionParams, FeatureCache, PairFeatures, extract_features, extraction_order
from .models.foundation import FoundationModel
from .models.values import to_model_values

log = logging.getLogger(__name__)
COVERAGE_GENES = 1000  # vocabulary coverage is judged on this many most variable genes (or the panel size, if larger)


@dataclass
class PreparedData:
    """A dataset made ready for one model: log-normalised, mapped, panel chosen."""

    adata: ad.AnnData
    report: PreprocessReport
    mapping: VocabMapping
    panel: list[str]
    model_values: np.ndarray  # cells x panel, in the model's input units
    regulators: list[str] = field(default_factory=list)  # the panel's expressed regulators (regulators+hvg)
    panel_mode: str = "hvg"
    group: dict | None = None  # {"groupby", "group", "n_cells"} when these are one group's cells
    reference_values: np.ndarray | None = None  # the whole dataset's model_values, for a group (shared scaling)

    def subset(self, mask: np.ndarray, groupby: str, group: str) -> "PreparedData":
        """The cells of one group, same panel (so two groups' pairs line up). A group keeps the
        whole dataset's cells as its ``reference_values``: per-target spreads come from them,
        so the groups' scores share one scale."""
        mask = np.asarray(mask, dtype=bool)
        return PreparedData(self.adata[mask].copy(), self.report, self.mapping, self.panel, self.model_values[mask],
                            self.regulators, self.panel_mode, {"groupby": groupby, "group": group, "n_cells": int(mask.sum())},
                            self.model_values if self.reference_values is None else self.reference_values)

    def panel_summary(self) -> str:
        if self.panel_mode == "hvg":
            return f"{len(self.panel)} genes: the most variable genes known to the model"
        if not self.regulators:  # e.g. simulated gene names: "0 expressed regulators" would read as a fault
            return (f"{len(self.panel)} genes: the most variable genes known to the model (none of them is on the "
                    "shipped human/mouse transcription-factor lists)")
        return (f"{len(self.panel)} genes: {len(self.regulators)} expressed regulators (transcription factors "
                f"detected in at least {MIN_DETECTED:.0%} of cells and {MIN_CELLS} cells) + the "
                f"{len(self.panel) - len(self.regulators)} most variable other genes")

    @property
    def mean_values(self) -> np.ndarray:
        return self.model_values.mean(axis=0)

    @property
    def expression(self) -> np.ndarray:
        """Cells x panel, log-normalised (what correlation and the tree baselines read)."""
        return dense_matrix(self.adata, self.panel)


@dataclass
class PanelData:
    """What a benchmark needs of a dataset when only a saved result is at hand: the panel,
    its expression and mean model input. Without ``model_values`` nothing new can be
    extracted (the virtual cells are made from them)."""

    panel: list[str]
    expression: np.ndarray
    mean_values: np.ndarray
    model_values: np.ndarray | None = None


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
    min_coverage: float = 0.5,  # of the dataset's COVERAGE_GENES most variable genes
    restrict_to: set[str] | None = None,
    panel: str = "regulators+hvg",
    network_regulators: set[str] | None = None,
    layer: str | None = None,
    use_raw: bool = False,
) -> PreparedData:
    """Load (if a path or ``"demo"``), normalise, map to the vocabulary, choose the panel.

    panel: ``regulators+hvg`` (the expressed regulators of the shipped transcription-factor
    lists and of ``network_regulators``, upper-case symbols, plus the ``n_genes`` most
    variable other genes) or ``hvg`` (the ``n_genes`` most variable genes).
    restrict_to: upper-case symbols the panel must come from (e.g. a reference network's genes).
    layer / use_raw: read the expression from ``adata.layers[layer]`` or ``adata.raw`` instead
    of ``adata.X`` (e.g. counts kept beside a scaled X).
    """
    if panel not in PANEL_MODES:
        raise ValueError(f"panel must be one of {PANEL_MODES}, not {panel!r}")
    hint = data if isinstance(data, str) else "PATH"
    adata = read_dataset(data) if isinstance(data, str) else data
    adata, report = preprocess(_use_symbols(use_matrix(adata, layer, use_raw)))
    # coverage is judged on the genes a panel is drawn from: the most variable ones
    judged = variability_order(adata, list(adata.var_names))[: max(COVERAGE_GENES, n_genes)]
    mapping = map_to_vocab(list(adata.var_names), model.vocab, min_coverage, data_hint=hint, judged_on=judged)
    for note in [adata.uns.get(SUBSAMPLE_NOTE), *mapping.notes()]:
        if note:
            log.warning(note)  # the app shows these itself; scripts and notebooks see them here
    log.info("%s; %s", report.summary(), mapping.summary())
    keep = [str(g) for g in (keep_genes or [])]
    candidates = mapping.known
    if restrict_to is not None:
        candidates = [g for g in candidates if g.upper() in restrict_to]
    regs = expressed_regulators(adata, candidates, network_regulators) if panel == "regulators+hvg" else []
    genes = select_panel(adata, n_genes, keep=keep, candidates=candidates, regulators=regs, max_regulators=MAX_REGULATORS)
    values = to_model_values(dense_matrix(adata, genes), model.value_spec)
    in_panel = set(genes)
    return PreparedData(adata, report, mapping, genes, values, [g for g in regs if g in in_panel], panel)


def run_extraction(
    prepared: PreparedData,
    model: FoundationModel,
    methods=METHODS,
    sources: list[str] | None = None,
    params: ExtractionParams | None = None,
    cache: FeatureCache | None = None,
    progress=None,
    engine=None,
) -> dict[str, PairFeatures]:
    """Extract each method's features; ``progress(method, done, total)`` if given; ``engine``:
    ``"local"`` (default), ``"ray"`` or an engine object (:mod:`ugrn_core.extract.engines`)."""
    out = {}
    for method in extraction_order(methods):  # GT first: its pass leaves VVP's chunks in the cache
        cb = (lambda d, t, m=method: progress(m, d, t)) if progress else None
        out[method] = extract_features(
            method, model, prepared.panel, sources, prepared.mean_values, params, cache, cb,
            cell_values=prepared.model_values, spread_values=prepared.reference_values, engine=engine,
        )
    return {method: out[method] for method in methods}


SPREAD_SUFFIX = "_sd"


def edges_table(results: dict[str, PairFeatures]) -> pd.DataFrame:
    """Wide table ``source, target, <method>…`` of untrained scores (self-pairs dropped), and
    ``<method>_sd``, the score's spread between draws of real cells, where it was measured."""
    frame = None
    for method, feats in results.items():
        df = feats.to_frame(method)
        if feats.score_sd is not None:
            spread = PairFeatures(method, feats.features, feats.sources, feats.targets, feats.score_sd)
            df = df.merge(spread.to_frame(f"{method}{SPREAD_SUFFIX}"), on=["source", "target"])
        frame = df if frame is None else frame.merge(df, on=["source", "target"], how="outer")
    return frame if frame is not None else pd.DataFrame(columns=["source", "target"])


__all__ = ["PreparedData", "PanelData", "prepare_data", "run_extraction", "edges_table"]

"""One analysis as the dashboard browses it: scores per pair, rankings, pair curves.

An :class:`Analysis` bundles what one extraction run produced (model, prepared data,
features per method, an optional reference network and translator) and answers the
questions a biologist asks of it: *which genes does X regulate?*, *who regulates Y?*,
*how does Y respond as X is dialled up?* Everything returns tidy pandas tables.

Score columns: ``pert``, ``emb``, ``vvp``, ``gt`` are the extractors' untrained scores;
``<method>_prob`` a translator's edge probability; ``ensemble`` the mean of the VVP and GT
translators' logits; ``pearson`` |Pearson r| over cells (model-free baseline).

Translator probabilities come out of fold (:meth:`Analysis.fit_out_of_fold`, the default
way): each pair is scored by a translator that never saw either gene (``fold_pair`` says
which). A translator trained elsewhere can be attached instead; then ``seen_in_training``
flags the pairs with a gene it trained on, and views that judge recovery leave them out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .baselines import correlation_scores
from .crossfit import CrossFit, cross_fit
from .data.networks import NetworkMatch
from .data.preprocess import dense_matrix
from .errors import GeneNotFoundError
from .extract import METHOD_LABELS, ExtractionParams, PairFeatures
from .models.foundation import FoundationModel
from .pipeline import PreparedData, edges_table
from .signs import network_signs, predicted_pair_signs, sign_word
from .splits import pair_universe
from .translator import ENSEMBLE, TranslatorConfig, TranslatorSet

PROB = "_prob"
SCORE_LABELS = {
    **METHOD_LABELS,
    **{f"{m}{PROB}": f"{label} (translator)" for m, label in METHOD_LABELS.items()},
    ENSEMBLE: "Ensemble (VVP+GT translators)",
    "pearson": "|Pearson r| (baseline)",
}
ID_COLUMNS = ("source", "target", "known", "sign", "predicted_sign", "fold_pair", "seen_in_training")


def score_label(column: str) -> str:
    return SCORE_LABELS.get(column, column)


@dataclass
class Analysis:
    """The result of one extraction run, plus what the user attached to it."""

    model: FoundationModel
    prepared: PreparedData
    results: dict[str, PairFeatures]
    params: ExtractionParams = field(default_factory=ExtractionParams)
    network: NetworkMatch | None = None
    translators: TranslatorSet | None = None  # trained elsewhere: pairs it saw are flagged
    crossfit: CrossFit | None = None  # out-of-fold probabilities on this analysis's network
    data_label: str = "data"
    timings: dict = field(default_factory=dict)
    _edges: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def panel(self) -> list[str]:
        return self.prepared.panel

    @property
    def known_pairs(self) -> set[tuple[str, str]]:
        if self.network is None:
            return set()
        return set(zip(self.network.edges.source, self.network.edges.target))

    def regulators_first(self) -> list[str]:
        """Panel genes with the reference network's regulators first (the useful sources)."""
        regs = [g for g in (self.network.regulators if self.network else []) if g in set(self.panel)]
        return regs + [g for g in self.panel if g not in set(regs)]

    def attach(self, network: NetworkMatch | None = None, translators: TranslatorSet | None = None,
               crossfit: CrossFit | None = None) -> "Analysis":
        """Set the reference network, a translator trained elsewhere, or out-of-fold
        probabilities (each of the last two replaces the other; a new network drops both,
        since they learnt from the old one). The score table is rebuilt now, so a translator
        that does not fit these features fails here and changes nothing."""
        before = (self.network, self.translators, self.crossfit, self._edges)
        if network is not None:
            self.network = network
            self.translators = self.crossfit = None
        if translators is not None:
            self.translators, self.crossfit = translators, None
        if crossfit is not None:
            self.crossfit, self.translators = crossfit, None
        self._edges = None
        try:
            self.edges()
        except Exception:
            self.network, self.translators, self.crossfit, self._edges = before
            raise
        return self

    def fit_out_of_fold(self, k: int = 5, seed: int = 0, progress=None, config: TranslatorConfig | None = None) -> "Analysis":
        """Translators cross-fitted over ``k`` gene folds on the attached network; every pair's
        probability then comes from a translator that never saw either of its genes."""
        if self.network is None:
            raise ValueError("Out-of-fold translators need a reference network; attach one first.")
        sources = set.intersection(*(set(f.sources) for f in self.results.values()))
        labelled = pair_universe(self.network.edges, self.panel, [g for g in self.network.regulators if g in sources])
        pairs = edges_table(self.results)[["source", "target"]]
        cf = cross_fit(self.results, labelled, pairs, k, seed, config, info={
            "trained_on": self.data_label, "model": self.model.name, "model_digest": self.model.digest}, progress=progress)
        return self.attach(crossfit=cf)

    def recovery_pairs(self, edges: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``edges`` that may judge recovery: all but pairs a translator trained on."""
        return edges[~edges.seen_in_training] if "seen_in_training" in edges else edges

    def edges(self) -> pd.DataFrame:
        """Every ordered panel pair with every available score (built once, then reused)."""
        if self._edges is None:
            self._edges = score_table(self.prepared, self.results, self.network, self.translators,
                                      model_digest=self.model.digest, crossfit=self.crossfit)
        return self._edges

    def score_columns(self) -> list[str]:
        return score_columns(self.edges())

    def response_reference(self, source: str) -> tuple[float | None, str]:
        """The source value VVP's response curve is measured from, and where the virtual
        cells were made (for the curve's caption)."""
        feats = self.results.get("vvp") or self.results.get("gt")
        params = feats.params if feats is not None else {}
        if params.get("context") == "cells":
            value = float(self.prepared.mean_values[self.panel.index(source)])
            return value, f"in {params.get('n_cells', 8)} real cells of the dataset (averaged), from the source at its mean"
        return params.get("background"), "in a virtual cell with every other gene at the background value"


def score_columns(edges: pd.DataFrame) -> list[str]:
    return [c for c in edges.columns if c not in ID_COLUMNS]


def default_score(columns: list[str]) -> str:
    """What to rank by unless told: the ensemble when a translator is attached, else VVP."""
    return next((c for c in (ENSEMBLE, "vvp") if c in columns), columns[0])


def score_table(
    prepared: PreparedData,
    results: dict[str, PairFeatures],
    network: NetworkMatch | None = None,
    translators: TranslatorSet | None = None,
    correlation: bool = True,
    model_digest: str | None = None,
    crossfit: CrossFit | None = None,
) -> pd.DataFrame:
    """``source, target, <scores>…, predicted_sign, known, sign`` for every ordered pair of the panel.

    ``predicted_sign`` is VVP and GT's agreed sign (see :func:`.signs.predicted_pair_signs`);
    ``sign`` the reference network's (0 = unsigned or not an edge).

    With ``crossfit``, out-of-fold probabilities and their ``fold_pair``; with
    ``translators`` (trained elsewhere), their probabilities and ``seen_in_training``. A
    translator trained on another model's features or other extraction settings is refused
    (:class:`~ugrn_core.errors.TranslatorMismatchError`), never silently applied.
    """
    edges = edges_table(results)
    pred = None
    if crossfit is not None:
        pred = edges[["source", "target"]].merge(crossfit.predictions, on=["source", "target"], how="left")
        edges["fold_pair"] = pred["fold_pair"].to_numpy()
    elif translators is not None:
        pred = translators.predict(results, edges[["source", "target"]], model_digest)
        seen = translators.training_genes
        # a translator file that does not list its training genes may have seen any pair
        edges["seen_in_training"] = (edges.source.isin(seen) | edges.target.isin(seen)).to_numpy() if seen else True
    if pred is not None:
        for name in results:
            if name in pred:  # the MLP translators; logistic regressions are a sanity check only
                edges[f"{name}{PROB}"] = pred[name].to_numpy()
        if ENSEMBLE in pred:
            edges[ENSEMBLE] = pred[ENSEMBLE].to_numpy()
    if correlation:
        edges["pearson"] = correlation_scores(dense_matrix(prepared.adata, prepared.panel), prepared.panel, edges)
    edges["predicted_sign"] = predicted_pair_signs(results, edges)
    if network is not None:
        edges["known"], edges["sign"] = network_signs(network.edges, edges)
    return edges


def _check_genes(edges: pd.DataFrame, genes: list[str], column: str) -> None:
    present = set(edges[column])
    missing = [g for g in genes if g not in present]
    if missing:
        raise GeneNotFoundError(f"Gene(s) {missing[:10]} are not in the gene panel; pick genes from it, or add them as always-include genes.")


def ranked_targets(edges: pd.DataFrame, sources: list[str], by: str) -> pd.DataFrame:
    """Targets of each source, best first by ``by``, with a ``rank`` (1 = best) per source."""
    _check_genes(edges, sources, "source")
    out = edges[edges.source.isin(sources)].sort_values(["source", by], ascending=[True, False], kind="stable")
    out.insert(0, "rank", out.groupby("source").cumcount() + 1)
    return out.reset_index(drop=True)


def ranked_regulators(edges: pd.DataFrame, target: str, by: str) -> pd.DataFrame:
    """Regulators of ``target``, best first by ``by`` (the reverse view)."""
    _check_genes(edges, [target], "target")
    out = edges[edges.target == target].sort_values(by, ascending=False, kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def pair_response(results: dict[str, PairFeatures], source: str, target: str) -> pd.DataFrame:
    """How ``target`` responds as ``source`` is set along the value grid.

    Tidy ``method, quantity, value, response``: VVP's response curve (change of the target's
    prediction from the reference cell), GT's local slope dM_j/dv_i and the trajectory it
    implies (the slope integrated along the grid from its first value, trapezoid rule).
    """
    rows = []
    for method, quantity in (("vvp", "response"), ("gt", "slope")):
        feats = results.get(method)
        if feats is None:
            continue
        if source not in feats.sources or target not in feats.targets:
            raise GeneNotFoundError(f"No {method} features for {source} -> {target}; both must be in the panel.")
        grid = np.asarray(feats.params.get("value_grid") or np.arange(feats.features.shape[-1]), dtype=float)
        y = feats.features[feats.sources.index(source), feats.targets.index(target)].astype(float)
        rows.append(pd.DataFrame({"method": method, "quantity": quantity, "value": grid, "response": y}))
        if method == "gt":
            steps = np.diff(grid) * (y[1:] + y[:-1]) / 2
            traj = np.concatenate([[0.0], np.cumsum(steps)])
            rows.append(pd.DataFrame({"method": method, "quantity": "trajectory", "value": grid, "response": traj}))
    if not rows:
        return pd.DataFrame(columns=["method", "quantity", "value", "response"])
    return pd.concat(rows, ignore_index=True)


def edge_descriptions(edges: pd.DataFrame, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """``"A -> B | vvp 0.12 · gt 0.034 · predicted: activates · known: activates"`` per pair:
    hover text for network edges."""
    cols = score_columns(edges)
    idx = edges.set_index(["source", "target"])
    out = {}
    for pair in pairs:
        if pair not in idx.index:
            continue
        row = idx.loc[pair]
        parts = [f"{c} {row[c]:.3g}" for c in cols if pd.notna(row[c])]
        if "predicted_sign" in row:
            parts.append(f"predicted: {sign_word(row['predicted_sign'])}")
        if bool(row.get("known", False)):
            parts.append("known" + (f": {sign_word(row['sign'])}" if row.get("sign", 0) else ""))
        out[pair] = f"{pair[0]} -> {pair[1]} | " + " · ".join(parts)
    return out


__all__ = [
    "Analysis", "edge_descriptions", "default_score", "SCORE_LABELS", "PROB", "score_label", "score_columns", "score_table",
    "ranked_targets", "ranked_regulators", "pair_response",
]

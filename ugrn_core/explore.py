"""Score tables and their views: scores per pair, rankings, pair curves.

The functions here turn a result's features into the tidy tables a biologist reads
(*which genes does X regulate?*, *who regulates Y?*, *how does Y respond as X is dialled
up?*); :class:`~ugrn_core.grn.GRN` holds the result and calls them.

Score columns: ``pert``, ``emb``, ``vvp``, ``gt`` are the extractors' untrained scores;
``<method>_prob`` a translator's edge probability; ``ensemble`` the mean of the VVP and GT
translators' logits; ``pearson`` |Pearson r| over cells (model-free baseline);
``<method>_sd`` (not a score) the spread of an untrained score between draws of real cells
(``ExtractionParams.n_cell_samples`` > 1).

Translator probabilities come out of fold (:meth:`~ugrn_core.grn.GRN.fit_out_of_fold`, the default
way): each pair is scored by a translator that never saw either gene (``fold_pair`` says
which). A translator trained elsewhere can be attached instead; then ``seen_in_training``
flags the pairs with a gene it trained on, and views that judge recovery leave them out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .baselines import lookup_pairs
from .crossfit import CrossFit
from .data.networks import NetworkMatch
from .errors import GeneNotFoundError
from .extract import METHOD_LABELS, PairFeatures
from .pipeline import SPREAD_SUFFIX, edges_table
from .signs import network_signs, predicted_pair_signs, sign_word
from .translator import ENSEMBLE, PROB, TranslatorSet

SCORE_LABELS = {
    **METHOD_LABELS,
    **{f"{m}{PROB}": f"{label} (translator)" for m, label in METHOD_LABELS.items()},
    ENSEMBLE: "Ensemble (VVP+GT translators)",
    "pearson": "|Pearson r| (baseline)",
}
SPREAD = SPREAD_SUFFIX
SCORE_LABELS.update({f"{m}{SPREAD}": f"{label}: spread between cell draws" for m, label in METHOD_LABELS.items()})
ID_COLUMNS = ("source", "target", "known", "sign", "predicted_sign", "fold_pair", "seen_in_training")


def score_label(column: str) -> str:
    return SCORE_LABELS.get(column, column)


def score_columns(edges: pd.DataFrame) -> list[str]:
    """The columns a view may rank by (not identifiers, not spreads)."""
    return [c for c in edges.columns if c not in ID_COLUMNS and not c.endswith(SPREAD)]


def default_score(columns: list[str]) -> str:
    """What to rank by unless told: the ensemble when a translator is attached, else VVP."""
    return next((c for c in (ENSEMBLE, "vvp") if c in columns), columns[0])


def score_table(
    panel: list[str],
    results: dict[str, PairFeatures],
    correlation: np.ndarray | None = None,
    network: NetworkMatch | None = None,
    translators: TranslatorSet | None = None,
    model_digest: str | None = None,
    crossfit: CrossFit | None = None,
) -> pd.DataFrame:
    """``source, target, <scores>…, predicted_sign, known, sign`` for every ordered pair of the panel.

    ``predicted_sign`` is VVP and GT's agreed sign (see :func:`.signs.predicted_pair_signs`);
    ``sign`` the reference network's (0 = unsigned or not an edge). ``correlation``: the
    panel's signed Pearson r matrix, read as the ``pearson`` column (|r|).

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
    if correlation is not None:
        edges["pearson"] = np.abs(lookup_pairs(edges, list(panel), correlation))
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
    "edge_descriptions", "default_score", "SCORE_LABELS", "PROB", "SPREAD", "score_label", "score_columns", "score_table",
    "ranked_targets", "ranked_regulators", "pair_response",
]

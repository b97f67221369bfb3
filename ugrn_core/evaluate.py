"""Edge-prediction metrics: AUROC, AUPRC, AUPRC ratio and BEELINE's early precision (ratio).

Definitions:
- ``auprc`` is scikit-learn's average precision (step-wise, no optimistic interpolation).
- ``auprc_pr`` is the area under the precision-recall curve as BEELINE's ``BLEval``
  (Pratapa et al. 2020) computes it: ``auc(recall, precision)`` over scikit-learn's
  ``precision_recall_curve``, i.e. trapezoids between curve points. It reads slightly
  higher than average precision; set it beside numbers from BEELINE's evaluator.
- AUPRC ratio = AUPRC / edge density of the evaluated pairs (what a random ranking scores).
- Early precision: precision among the top-k pairs, k = number of true edges; every pair
  tied with the k-th score is included (BEELINE takes ``score >= k-th score``), so ties
  cannot be broken in a method's favour by row order. EPR = early precision / edge density.
Scores are higher = more likely an edge; the caller turns signed scores into magnitudes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

METRIC_COLUMNS = ["auroc", "auprc", "auprc_ratio", "epr", "auprc_pr"]


def _clean(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).astype(bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    # A method that gives no score to a pair ranks it last, not first (finite for scikit-learn).
    lowest = np.finfo(np.float64).min
    return y, np.nan_to_num(s, nan=lowest, neginf=lowest)


def auroc(labels, scores) -> float:
    y, s = _clean(labels, scores)
    if y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, s))


def auprc(labels, scores) -> float:
    y, s = _clean(labels, scores)
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, s))


def auprc_pr(labels, scores) -> float:
    """BEELINE's AUPRC: trapezoidal area under the precision-recall curve."""
    y, s = _clean(labels, scores)
    if not y.any():
        return float("nan")
    precision, recall, _ = precision_recall_curve(y, s)
    return float(auc(recall, precision))


def edge_density(labels) -> float:
    y = np.asarray(labels).astype(bool)
    return float(y.mean()) if y.size else float("nan")


def early_precision(labels, scores, k: int | None = None) -> float:
    """Fraction of true edges among pairs scoring at least the k-th best score (ties kept)."""
    y, s = _clean(labels, scores)
    k = int(y.sum()) if k is None else int(k)
    if k <= 0 or y.size == 0:
        return float("nan")
    k = min(k, y.size)
    kth = np.sort(s)[::-1][k - 1]
    top = s >= kth
    return float(y[top].mean())


def early_precision_ratio(labels, scores) -> float:
    d = edge_density(labels)
    ep = early_precision(labels, scores)
    return ep / d if d and d > 0 else float("nan")


def score_metrics(labels, scores) -> dict:
    """All four metrics for one ranking, plus the pair counts behind them."""
    y = np.asarray(labels).astype(bool)
    d = edge_density(y)
    ap = auprc(y, scores)
    return {
        "auroc": auroc(y, scores),
        "auprc": ap,
        "auprc_ratio": ap / d if d and d > 0 else float("nan"),
        "epr": early_precision_ratio(y, scores),
        "auprc_pr": auprc_pr(y, scores),
        "n_pairs": int(y.size),
        "n_edges": int(y.sum()),
    }


def metrics_table(pairs: pd.DataFrame, methods: list[str], label: str = "label", **tags) -> pd.DataFrame:
    """One row per method over all of ``pairs``; ``tags`` (split=…, negatives=…) become columns."""
    rows = []
    for m in methods:
        rows.append({"method": m, **tags, **score_metrics(pairs[label].to_numpy(), pairs[m].to_numpy())})
    return pd.DataFrame(rows)


def per_source_metrics(pairs: pd.DataFrame, methods: list[str], label: str = "label", min_edges: int = 1) -> pd.DataFrame:
    """Metrics per source gene (its own targets ranked): which regulators a method gets right."""
    rows = []
    for source, group in pairs.groupby("source", sort=True):
        y = group[label].to_numpy().astype(bool)
        if y.sum() < min_edges or y.all():
            continue
        for m in methods:
            rows.append({"source": source, "method": m, **score_metrics(y, group[m].to_numpy())})
    return pd.DataFrame(rows, columns=["source", "method", *METRIC_COLUMNS, "n_pairs", "n_edges"])


__all__ = ["auroc", "auprc", "auprc_pr", "edge_density", "early_precision", "early_precision_ratio",
           "score_metrics", "metrics_table", "per_source_metrics", "METRIC_COLUMNS"]

"""Classical, model-free edge scores on the same pairs: what a biologist compares against.

- ``pearson`` / ``spearman``: |correlation| of source and target over cells (undirected).
- ``grnboost``: GRNBoost2-style importance. For each target, stochastic gradient-boosted
  trees regress its expression on the candidate regulators; a regulator's score is its
  share of the impurity reduction (scikit-learn; arboreto itself breaks with current dask).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

CLASSICAL = ("pearson", "spearman", "grnboost")


def _standardise(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(sd > 0, sd, np.inf)


def correlation_matrix(X: np.ndarray, method: str = "pearson") -> np.ndarray:
    """Gene x gene correlation over cells (genes with no variance correlate 0 with all)."""
    if method == "spearman":
        X = rankdata(X, axis=0)
    elif method != "pearson":
        raise ValueError(f"method must be pearson or spearman, not {method!r}")
    Z = _standardise(X)
    return (Z.T @ Z) / max(len(Z), 1)


def _lookup(pairs: pd.DataFrame, genes: list[str], matrix: np.ndarray, rows: list[str] | None = None) -> np.ndarray:
    col = {g: i for i, g in enumerate(genes)}
    row = col if rows is None else {g: i for i, g in enumerate(rows)}
    return matrix[pairs.source.map(row).to_numpy(), pairs.target.map(col).to_numpy()]


def correlation_scores(X: np.ndarray, genes: list[str], pairs: pd.DataFrame, method: str = "pearson",
                       signed: bool = False) -> np.ndarray:
    """|r| (or r, with ``signed``) for each (source, target) row of ``pairs``; X is cells x ``genes``."""
    r = _lookup(pairs, list(genes), correlation_matrix(X, method))
    return r if signed else np.abs(r)


def tree_importance_scores(
    X: np.ndarray,
    genes: list[str],
    pairs: pd.DataFrame,
    n_estimators: int = 100,
    max_cells: int = 1500,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """GRNBoost2-style importance of each pair's source for its target."""
    from sklearn.ensemble import GradientBoostingRegressor

    genes = list(genes)
    col = {g: i for i, g in enumerate(genes)}
    regulators = sorted(set(pairs.source))
    targets = sorted(set(pairs.target))
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X), size=min(max_cells, len(X)), replace=False) if len(X) > max_cells else np.arange(len(X))
    Xs = np.asarray(X, dtype=np.float32)[rows]
    R = Xs[:, [col[r] for r in regulators]]
    importance = np.zeros((len(regulators), len(targets)), dtype=np.float64)
    for j, target in enumerate(targets):
        use = [i for i, r in enumerate(regulators) if r != target]
        y = Xs[:, col[target]]
        if not use or np.ptp(y) == 0:
            continue
        gbm = GradientBoostingRegressor(
            n_estimators=n_estimators, learning_rate=0.1, max_depth=3, subsample=0.9,
            max_features=max(1, int(0.1 * len(use))) if len(use) > 10 else None, random_state=seed,
        )
        gbm.fit(R[:, use], y)
        importance[use, j] = gbm.feature_importances_
        if progress:
            progress(j + 1, len(targets))
    return _lookup(pairs, targets, importance, rows=regulators)


def classical_scores(X: np.ndarray, genes: list[str], pairs: pd.DataFrame, methods=CLASSICAL, seed: int = 0, progress=None) -> dict[str, np.ndarray]:
    out = {}
    for m in methods:
        if m in ("pearson", "spearman"):
            out[m] = correlation_scores(X, genes, pairs, m)
        elif m == "grnboost":
            out[m] = tree_importance_scores(X, genes, pairs, seed=seed, progress=progress)
        else:
            raise ValueError(f"unknown classical baseline {m!r}; choose from {CLASSICAL}")
    return out


__all__ = ["CLASSICAL", "correlation_matrix", "correlation_scores", "tree_importance_scores", "classical_scores"]

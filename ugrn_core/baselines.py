"""Classical, model-free edge scores on the same pairs: what a biologist compares against.

- ``pearson`` / ``spearman``: |correlation| of source and target over cells (undirected).
- ``grnboost``: GRNBoost2 (Moerman et al. 2019) with arboreto's settings. For each target,
  stochastic gradient boosting (learning rate 0.01, up to 5,000 depth-3 trees, 10 % of the
  regulators per split, 90 % of the cells per tree) regresses its expression on the
  regulators, stopping once the mean out-of-bag improvement over the last 25 trees turns
  negative; a regulator's score is its impurity importance times the number of trees fitted
  (arboreto's scaling, so targets the regulators explain well rank their edges higher).
- ``genie3``: GENIE3 (Huynh-Thu et al. 2010) as arboreto runs it: a random forest of 1,000
  trees, sqrt(regulators) candidates per split, importances as scikit-learn normalises them.

Why our own loop: arboreto's top-level API needs a dask cluster that current dask cannot
start; its per-target code (``arboreto.core``) still imports and is what the tests compare
against, pair for pair.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from scipy.stats import rankdata

CLASSICAL = ("pearson", "spearman", "grnboost", "genie3")
TREE_METHODS = ("grnboost", "genie3")

# arboreto.core's SGBM_KWARGS / RF_KWARGS and its early-stopping window.
GRNBOOST2_SETTINGS = {"learning_rate": 0.01, "n_estimators": 5000, "max_features": 0.1, "subsample": 0.9}
GENIE3_SETTINGS = {"n_estimators": 1000, "max_features": "sqrt"}
EARLY_STOP_WINDOW = 25


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


def lookup_pairs(pairs: pd.DataFrame, genes: list[str], matrix: np.ndarray, rows: list[str] | None = None) -> np.ndarray:
    """``matrix[source, target]`` for each row of ``pairs`` (rows and columns named by ``genes``)."""
    col = {g: i for i, g in enumerate(genes)}
    row = col if rows is None else {g: i for i, g in enumerate(rows)}
    return matrix[pairs.source.map(row).to_numpy(), pairs.target.map(col).to_numpy()]


def correlation_scores(X: np.ndarray, genes: list[str], pairs: pd.DataFrame, method: str = "pearson",
                       signed: bool = False) -> np.ndarray:
    """|r| (or r, with ``signed``) for each (source, target) row of ``pairs``; X is cells x ``genes``."""
    r = lookup_pairs(pairs, list(genes), correlation_matrix(X, method))
    return r if signed else np.abs(r)


class _OutOfBagStop:
    """Stop boosting once the mean out-of-bag improvement of the last ``window`` trees is negative."""

    def __init__(self, window: int = EARLY_STOP_WINDOW):
        self.window = window

    def __call__(self, i: int, regressor, _locals) -> bool:
        if i < self.window - 1:
            return False
        return bool(np.mean(regressor.oob_improvement_[i - self.window + 1: i + 1]) < 0)


def target_importances(method: str, R: np.ndarray, y: np.ndarray, seed: int = 0, **settings) -> np.ndarray:
    """One target's importance per regulator column of ``R`` (``settings`` override the defaults)."""
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor

    if method == "grnboost":
        kw = {**GRNBOOST2_SETTINGS, **settings}
        gbm = GradientBoostingRegressor(random_state=seed, **kw)
        early_stop = kw.get("subsample", 1.0) < 1.0  # the out-of-bag signal exists only when subsampling
        gbm.fit(R, y, monitor=_OutOfBagStop() if early_stop else None)
        return gbm.feature_importances_ * (len(gbm.estimators_) if early_stop else 1)
    if method == "genie3":
        rf = RandomForestRegressor(random_state=seed, n_jobs=1, **{**GENIE3_SETTINGS, **settings})
        return rf.fit(R, y).feature_importances_
    raise ValueError(f"tree method must be one of {TREE_METHODS}, not {method!r}")


def tree_importance_scores(
    X: np.ndarray,
    genes: list[str],
    pairs: pd.DataFrame,
    method: str = "grnboost",
    seed: int = 0,
    n_jobs: int = -1,
    progress: Callable[[int, int], None] | None = None,
    **settings,
) -> np.ndarray:
    """GRNBoost2 or GENIE3 importance of each pair's source for its target.

    Every cell is used. Regulators are the pairs' sources, as columns in ``genes`` order (as
    arboreto builds its TF matrix); a target that is also a regulator is left out of its own
    predictors. Targets run in parallel threads (``n_jobs``); results do not depend on it.
    """
    from joblib import Parallel, delayed

    genes = list(genes)
    col = {g: i for i, g in enumerate(genes)}
    wanted = set(pairs.source)
    regulators = [g for g in genes if g in wanted]
    targets = [g for g in dict.fromkeys(pairs.target)]
    Xf = np.asarray(X, dtype=np.float64)
    R = Xf[:, [col[r] for r in regulators]]

    def one(target: str):
        use = [i for i, r in enumerate(regulators) if r != target]
        y = Xf[:, col[target]]
        if not use or np.ptp(y) == 0:
            return use, None
        return use, target_importances(method, R[:, use], y, seed, **settings)

    importance = np.zeros((len(regulators), len(targets)), dtype=np.float64)
    jobs = Parallel(n_jobs=n_jobs, prefer="threads", return_as="generator")(delayed(one)(t) for t in targets)
    for j, (use, imp) in enumerate(jobs):
        if imp is not None:
            importance[use, j] = imp
        if progress:
            progress(j + 1, len(targets))
    return lookup_pairs(pairs, targets, importance, rows=regulators)


def classical_scores(X: np.ndarray, genes: list[str], pairs: pd.DataFrame, methods=CLASSICAL, seed: int = 0,
                     progress: Callable[[str, int, int], None] | None = None) -> dict[str, np.ndarray]:
    """Each baseline's score for ``pairs``; ``progress(method, done, total)`` for the tree methods."""
    out = {}
    for m in methods:
        if m in ("pearson", "spearman"):
            out[m] = correlation_scores(X, genes, pairs, m)
        elif m in TREE_METHODS:
            cb = (lambda d, t, m=m: progress(m, d, t)) if progress else None
            out[m] = tree_importance_scores(X, genes, pairs, m, seed=seed, progress=cb)
        else:
            raise ValueError(f"unknown classical baseline {m!r}; choose from {CLASSICAL}")
    return out


__all__ = [
    "CLASSICAL", "TREE_METHODS", "GRNBOOST2_SETTINGS", "GENIE3_SETTINGS", "correlation_matrix", "correlation_scores",
    "target_importances", "tree_importance_scores", "classical_scores",
]

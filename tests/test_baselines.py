"""Classical baselines agree with reference implementations and find a planted regulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr

from ugrn_core.baselines import correlation_scores, tree_importance_scores


def test_correlations_match_scipy():
    rng = np.random.default_rng(0)
    X = rng.gamma(1.0, 1.0, size=(200, 4))
    X[:, 1] = X[:, 0] * 2 + rng.normal(scale=0.3, size=200)
    X[:50, 3] = 0  # ties, as dropout gives
    genes = ["a", "b", "c", "d"]
    pairs = pd.DataFrame({"source": ["a", "a", "c"], "target": ["b", "d", "d"]})
    p = correlation_scores(X, genes, pairs, "pearson")
    s = correlation_scores(X, genes, pairs, "spearman")
    for k, (i, j) in enumerate([(0, 1), (0, 3), (2, 3)]):
        assert abs(p[k] - abs(pearsonr(X[:, i], X[:, j])[0])) < 1e-10
        assert abs(s[k] - abs(spearmanr(X[:, i], X[:, j])[0])) < 1e-10


def test_constant_gene_scores_zero_not_nan():
    X = np.c_[np.arange(10.0), np.ones(10)]
    s = correlation_scores(X, ["a", "b"], pd.DataFrame({"source": ["a"], "target": ["b"]}))
    assert s[0] == 0.0


def test_tree_importance_finds_the_planted_regulator():
    rng = np.random.default_rng(1)
    R = rng.normal(size=(400, 3))
    target = np.tanh(2 * R[:, 1]) + 0.1 * rng.normal(size=400)
    X = np.c_[R, target]
    genes = ["r0", "r1", "r2", "t"]
    pairs = pd.DataFrame({"source": ["r0", "r1", "r2"], "target": ["t", "t", "t"]})
    imp = tree_importance_scores(X, genes, pairs, n_estimators=50)
    assert imp.argmax() == 1 and imp[1] > 0.8

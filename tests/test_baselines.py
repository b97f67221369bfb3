"""Classical baselines agree with reference implementations and find a planted regulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
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


@pytest.mark.parametrize("method", ["grnboost", "genie3"])
def test_tree_importance_finds_the_planted_regulator(method):
    rng = np.random.default_rng(1)
    R = rng.normal(size=(400, 3))
    target = np.tanh(2 * R[:, 1]) + 0.1 * rng.normal(size=400)
    X = np.c_[R, target]
    genes = ["r0", "r1", "r2", "t"]
    pairs = pd.DataFrame({"source": ["r0", "r1", "r2"], "target": ["t", "t", "t"]})
    settings = {"n_estimators": 100} if method == "genie3" else {}
    imp = tree_importance_scores(X, genes, pairs, method, **settings)
    assert imp.argmax() == 1 and imp[1] > 0.8 * imp.sum()


def test_grnboost_scales_importances_by_trees_fitted():
    """arboreto's GRNBoost2 multiplies the normalised importances by the trees it kept, so a
    target that boosting keeps improving gets larger edge weights than a noise target."""
    rng = np.random.default_rng(2)
    R = rng.normal(size=(500, 4))
    X = np.c_[R, np.sin(2 * R[:, 0]) + 0.05 * rng.normal(size=500), rng.normal(size=500)]
    genes = ["r0", "r1", "r2", "r3", "signal", "noise"]
    pairs = pd.DataFrame([(r, t) for t in ("signal", "noise") for r in genes[:4]], columns=["source", "target"])
    imp = tree_importance_scores(X, genes, pairs, "grnboost")
    fitted = imp[:4].sum(), imp[4:].sum()  # each target's importances sum to the trees it kept
    assert np.allclose(fitted, np.round(fitted)) and fitted[1] == pytest.approx(25)  # noise: stops at the window
    assert fitted[0] > fitted[1]


def test_tree_methods_match_arboreto_pair_for_pair():
    """Our loop against arboreto's own per-target code (arboreto.core), same seed: identical."""
    core = pytest.importorskip("arboreto.core")
    rng = np.random.default_rng(0)
    R = rng.normal(size=(300, 6))
    X = np.c_[R, np.tanh(R[:, 1]) + 0.3 * R[:, 4] + 0.2 * rng.normal(size=300), R[:, 0] * R[:, 2]]
    genes = [f"r{i}" for i in range(6)] + ["t0", "t1"]
    regs = genes[:6]
    targets = ["t0", "t1", "r3"]  # r3 is a regulator too: left out of its own predictors
    pairs = pd.DataFrame([(r, t) for t in targets for r in regs if r != t], columns=["source", "target"])
    for method, kind, settings in (("grnboost", "GBM", core.SGBM_KWARGS), ("genie3", "RF", {**core.RF_KWARGS, "n_estimators": 200})):
        ours = tree_importance_scores(X, genes, pairs, method, seed=7, **({"n_estimators": 200} if method == "genie3" else {}))
        for t in targets:
            links = core.infer_partial_network(kind, settings, X[:, :6], regs, t, X[:, genes.index(t)], seed=7)
            theirs = dict(zip(links.TF, links.importance))
            rows = pairs.index[pairs.target == t]
            expected = [theirs.get(s, 0.0) for s in pairs.source[rows]]
            np.testing.assert_allclose(ours[rows], expected, rtol=1e-12, atol=1e-12, err_msg=f"{method} {t}")

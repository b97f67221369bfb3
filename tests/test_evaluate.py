"""Metrics against hand-computed cases, including ties and the early-precision cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ugrn_core.evaluate import (auprc, auprc_pr, auroc, early_precision, early_precision_ratio, metrics_table,
                                per_source_metrics, score_metrics)


def test_auroc_by_hand():
    # positives 0.9, 0.3; negatives 0.8, 0.1: 3 of 4 (pos, neg) comparisons won.
    assert auroc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == pytest.approx(0.75)
    # a tie between a positive and a negative counts one half
    assert auroc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]) == pytest.approx((0.5 + 1 + 1 + 1) / 4)


def test_auprc_is_average_precision_by_hand():
    # ranks: 1 (P=1, R=.5), 0, 1 (P=2/3, R=1), 0
    assert auprc([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_auprc_pr_is_beelines_trapezoid_by_hand():
    # BEELINE: auc(recall, precision) over the curve points (R, P) = (0, 1), (.5, 1), (.5, .5),
    # (1, 2/3): a rectangle up to recall .5, then a trapezoid from precision 1/2 to 2/3.
    assert auprc_pr([1, 0, 1, 0], [0.9, 0.8, 0.3, 0.1]) == pytest.approx(0.5 * 1 + 0.5 * (0.5 + 2 / 3) / 2)
    assert auprc_pr([1, 1, 0], [0.9, 0.8, 0.1]) == pytest.approx(1.0)
    assert np.isnan(auprc_pr([0, 0], [0.2, 0.3]))


def test_early_precision_top_k_without_ties():
    y = [1, 0, 1, 0, 0]
    s = [5, 4, 3, 2, 1]
    assert early_precision(y, s) == pytest.approx(0.5)  # k = 2: {1, 0}
    assert early_precision_ratio(y, s) == pytest.approx(0.5 / 0.4)


def test_early_precision_keeps_ties_at_the_cut_off():
    y = [1, 1, 0, 0, 0]
    s = [0.9, 0.5, 0.5, 0.5, 0.1]  # k = 2, the 2nd score 0.5 is shared by three pairs
    assert early_precision(y, s) == pytest.approx(2 / 4)
    # a ranking that wins only by row order among ties gains nothing
    assert early_precision([1, 0, 0, 1], [1, 1, 1, 1]) == pytest.approx(0.5)


def test_nan_scores_rank_last_and_degenerate_labels_are_nan():
    assert auroc([1, 0, 0], [np.nan, 0.2, 0.1]) == pytest.approx(0.0)
    assert np.isnan(auroc([1, 1], [0.2, 0.3]))
    assert np.isnan(auprc([0, 0], [0.2, 0.3]))


def test_random_scores_give_ratio_near_one():
    rng = np.random.default_rng(0)
    y = rng.random(20000) < 0.05
    m = score_metrics(y, rng.random(20000))
    assert m["auroc"] == pytest.approx(0.5, abs=0.02)
    assert m["auprc_ratio"] == pytest.approx(1.0, abs=0.15)
    assert m["epr"] == pytest.approx(1.0, abs=0.25)


def test_tables_overall_and_per_source():
    pairs = pd.DataFrame({
        "source": ["A", "A", "A", "B", "B", "B"],
        "target": ["x", "y", "z", "x", "y", "z"],
        "label": [1, 0, 0, 0, 1, 0],
        "good": [0.9, 0.1, 0.2, 0.3, 0.8, 0.1],
        "bad": [0.1, 0.9, 0.8, 0.9, 0.1, 0.7],
    })
    t = metrics_table(pairs, ["good", "bad"], split="genes", negatives="full")
    assert list(t.columns[:3]) == ["method", "split", "negatives"]
    assert t.set_index("method").loc["good", "auroc"] == 1.0
    assert t.set_index("method").loc["bad", "auroc"] == 0.0
    ps = per_source_metrics(pairs, ["good"])
    assert list(ps.source) == ["A", "B"] and (ps.auroc == 1.0).all()

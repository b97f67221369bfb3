"""Out-of-fold probabilities: no pair is scored by a translator that saw either gene."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ugrn_core.crossfit import cross_fit, edges_with_out_of_fold, gene_folds
from ugrn_core.errors import DataError
from ugrn_core.evaluate import auroc
from ugrn_core.extract.base import PairFeatures
from ugrn_core.splits import balanced_sample, pair_universe
from ugrn_core.translator import TranslatorConfig, TranslatorSet

GENES = [f"G{i}" for i in range(60)]
REGS = GENES[:12]
CONFIG = TranslatorConfig(epochs=60, patience=10)


def _world(planted: bool, seed: int = 0):
    """Features for every regulator -> gene pair; edges either follow feature 0 (learnable
    from any genes) or are drawn at random (only memorisable)."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(len(REGS), len(GENES), 4)).astype(np.float32)
    edge = f[:, :, 0] > 1.0 if planted else rng.random((len(REGS), len(GENES))) < 0.16
    net = pd.DataFrame([(REGS[i], GENES[j], 1) for i, j in zip(*np.nonzero(edge)) if REGS[i] != GENES[j]],
                       columns=["source", "target", "sign"])
    feats = {"vvp": PairFeatures("vvp", f, REGS, GENES, np.abs(f).mean(-1), {"value_grid": [0, 1, 2, 3]})}
    return feats, pair_universe(net, GENES), net


def test_gene_folds_spread_regulators_and_cover_every_gene():
    folds = gene_folds(GENES, REGS, k=5, seed=1)
    assert set(folds) == set(GENES) and set(folds.values()) == set(range(5))
    per_fold = pd.Series([folds[r] for r in REGS]).value_counts()
    assert per_fold.min() >= 2 and per_fold.max() <= 3  # 12 regulators dealt over 5 folds
    with pytest.raises(ValueError, match="at least 3"):
        gene_folds(GENES, REGS, k=2)


def test_no_pair_is_scored_by_a_translator_that_saw_its_genes():
    feats, labelled, net = _world(planted=True)
    cf = cross_fit(feats, labelled, labelled[["source", "target"]], k=4, config=CONFIG)
    assert len(cf.predictions) == len(labelled) and len(cf.translators) == 4 * 5 // 2
    for row in cf.predictions.itertuples():
        a, b = map(int, row.fold_pair.split("-"))
        seen = cf.translators[(a, b)].training_genes
        assert row.source not in seen and row.target not in seen
        assert sorted((cf.folds[row.source], cf.folds[row.target])) == [a, b]
    # a learnable rule is learnt from other genes: out-of-fold AUROC stays high
    assert auroc(labelled.label, cf.predictions["vvp"]) > 0.9
    table = edges_with_out_of_fold(feats, cf, net)
    assert {"vvp", "vvp_prob", "in_network", "sign", "predicted_sign", "fold_pair"} <= set(table.columns)
    assert table.in_network.sum() == labelled.label.sum() and set(table.sign) <= {0, 1}


def test_memorised_edges_read_as_chance_out_of_fold():
    """Random edges: a translator scoring its own training pairs looks good; out of fold it is chance."""
    feats, labelled, _ = _world(planted=False, seed=3)
    big = TranslatorConfig(hidden=(128, 64), epochs=300, patience=300, dropout=0.0)
    in_sample = TranslatorSet.fit(feats, balanced_sample(labelled, 0), None, big, kinds=("mlp",))
    assert auroc(labelled.label, in_sample.predict(feats, labelled)["vvp"]) > 0.7
    cf = cross_fit(feats, labelled, labelled[["source", "target"]], k=4, config=CONFIG)
    assert abs(auroc(labelled.label, cf.predictions["vvp"]) - 0.5) < 0.1


def test_too_few_edges_outside_a_fold_pair_is_a_clear_error():
    feats, labelled, _ = _world(planted=True)
    few = labelled.copy()
    few.loc[few.label.cumsum() > 3, "label"] = 0
    with pytest.raises(DataError, match="fewer folds"):
        cross_fit(feats, few, few[["source", "target"]], k=4, config=CONFIG)

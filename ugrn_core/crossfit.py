"""Out-of-fold translator probabilities: every pair scored by a translator that never saw its genes.

Why: a translator trained on a network's known regulations and then shown on those same
pairs reads them back from memory; a biologist browsing "predicted" regulators, or checking
them against pathways, would be checking the training set. Cross-fitting over genes fixes it:
the genes are split into ``k`` folds (regulators and other genes each spread evenly), and the
probability of pair (i, j) comes from the translator trained only on pairs whose two genes
lie outside both i's and j's fold. That is ``k (k + 1) / 2`` translator sets, one per
unordered fold pair; each one also early-stops on genes its training pairs avoid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations_with_replacement

import numpy as np
import pandas as pd

from .errors import DataError
from .extract.base import PairFeatures
from .splits import balanced_sample, validation_split
from .translator import TranslatorConfig, TranslatorSet


def gene_folds(genes: list[str], regulators: list[str], k: int = 5, seed: int = 0) -> dict[str, int]:
    """Gene -> fold in ``0..k-1``; regulators and the other genes are each dealt out evenly
    (seeded), so every fold holds regulators to learn from and to be tested on."""
    if k < 3:
        raise ValueError(f"Cross-fitting needs at least 3 gene folds (got {k}): with 2, nothing is left to train on.")
    rng = np.random.default_rng(seed)
    regs = [g for g in dict.fromkeys(genes) if g in set(regulators)]
    others = [g for g in dict.fromkeys(genes) if g not in set(regulators)]
    folds: dict[str, int] = {}
    for group in (regs, others):
        offset = int(rng.integers(k))
        for n, g in enumerate(rng.permutation(np.asarray(group, dtype=object))):
            folds[str(g)] = (n + offset) % k
    return folds


@dataclass
class CrossFit:
    """Out-of-fold probabilities for ``pairs``, and what made them."""

    predictions: pd.DataFrame  # source, target, <translator>..., ensemble, fold_pair
    folds: dict[str, int]
    k: int
    seed: int
    translators: dict[tuple[int, int], TranslatorSet] = field(default_factory=dict, repr=False)

    @property
    def probability_columns(self) -> list[str]:
        return [c for c in self.predictions.columns if c not in ("source", "target", "fold_pair")]


def cross_fit(
    features: dict[str, PairFeatures],
    labelled: pd.DataFrame,
    pairs: pd.DataFrame,
    k: int = 5,
    seed: int = 0,
    config: TranslatorConfig | None = None,
    kinds: tuple[str, ...] = ("mlp",),
    info: dict | None = None,
    progress=None,
) -> CrossFit:
    """Train one translator set per fold pair on ``labelled`` (source, target, label) and
    score each row of ``pairs`` (source, target) with the set that excluded both its genes.

    ``progress(done, total)`` after each fold pair.
    """
    genes = list(dict.fromkeys([*labelled.source, *labelled.target, *pairs.source, *pairs.target]))
    folds = gene_folds(genes, sorted(set(labelled.source)), k, seed)
    lf_s, lf_t = labelled.source.map(folds).to_numpy(), labelled.target.map(folds).to_numpy()
    pf_s, pf_t = pairs.source.map(folds).to_numpy(), pairs.target.map(folds).to_numpy()
    lo, hi = np.minimum(pf_s, pf_t), np.maximum(pf_s, pf_t)  # each pair's unordered fold pair
    fold_pairs = list(combinations_with_replacement(range(k), 2))
    parts, sets = [], {}
    for n, (a, b) in enumerate(fold_pairs, 1):
        train = labelled[~np.isin(lf_s, (a, b)) & ~np.isin(lf_t, (a, b))]
        if train.label.sum() < 4 or (train.label == 0).sum() < 4:
            raise DataError(
                f"Out-of-fold translators: without gene folds {a} and {b} only {int(train.label.sum())} known edges are "
                f"left to train on ({int(labelled.label.sum())} in all). Use a larger network or panel, or fewer folds."
            )
        fit, val = validation_split(train, seed)
        sets[(a, b)] = TranslatorSet.fit(
            features, balanced_sample(fit, seed), balanced_sample(val, seed), config, kinds,
            info={**dict(info or {}), "fold_pair": [a, b], "k": k, "seed": seed},
        )
        rows = pairs[(lo == a) & (hi == b)]
        if len(rows):
            pred = sets[(a, b)].predict(features, rows[["source", "target"]])
            pred["fold_pair"] = f"{a}-{b}"
            parts.append(pred.set_index(rows.index))
        if progress:
            progress(n, len(fold_pairs))
    predictions = pd.concat(parts).loc[pairs.index].reset_index(drop=True)
    return CrossFit(predictions, folds, k, seed, sets)


def edges_with_out_of_fold(features: dict[str, PairFeatures], cf: CrossFit, known: pd.DataFrame) -> pd.DataFrame:
    """The ``predict`` table: per pair each untrained score (``<m>``), each out-of-fold
    probability (``<m>_prob``, ``ensemble``), ``in_network``, the known ``sign`` (0 = unsigned
    or not an edge), the ``predicted_sign`` (VVP and GT agreeing, else the first signed feature
    type) and the ``fold_pair`` whose translator scored it."""
    from .signs import network_signs, predicted_pair_signs
    from .translator import ENSEMBLE, pair_scores

    pred = cf.predictions
    pairs = pred[["source", "target"]]
    out = pairs.copy()
    for method, feats in features.items():
        out[method] = pair_scores(feats, pairs)
    for name in features:
        if name in pred:
            out[f"{name}_prob"] = pred[name].to_numpy()
    if ENSEMBLE in pred:
        out[ENSEMBLE] = pred[ENSEMBLE].to_numpy()
    out["in_network"], out["sign"] = network_signs(known, pairs)
    out["predicted_sign"] = predicted_pair_signs(features, pairs)
    out["fold_pair"] = pred["fold_pair"].to_numpy()
    return out


__all__ = ["gene_folds", "CrossFit", "cross_fit", "edges_with_out_of_fold"]

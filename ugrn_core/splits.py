"""Labelled gene pairs and the splits that test generalisation to unseen genes.

The pair universe follows BEELINE's convention for real data: every ordered pair from a
regulator of the reference network to any of its genes, self-pairs excluded. Two negative
conventions are offered, and every output says which one it used:

- ``full``: the whole universe (random AUPRC = edge density, BEELINE);
- ``balanced``: all edges plus as many sampled non-edges (random AUPRC ~ 0.5, the UGRN
  paper's convention).

A gene-disjoint split holds out a set of genes; a training pair may not touch a held-out
gene and a test pair uses held-out genes only, so nothing about a test gene is seen in
training. Regulators and other genes are split separately so both sides keep regulators.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import DataError

def pair_universe(edges: pd.DataFrame, genes: list[str], regulators: list[str] | None = None) -> pd.DataFrame:
    """Ordered pairs ``regulator -> gene`` among ``genes`` with ``label`` 1 for known edges.

    regulators: candidate sources (default: the network's sources that are in ``genes``).
    """
    genes = list(dict.fromkeys(genes))
    gene_set = set(genes)
    if regulators is None:
        regulators = sorted(set(edges.source) & gene_set)
    regulators = [r for r in regulators if r in gene_set]
    src = np.repeat(np.asarray(regulators, dtype=object), len(genes))
    tgt = np.tile(np.asarray(genes, dtype=object), len(regulators))
    pairs = pd.DataFrame({"source": src, "target": tgt})
    pairs = pairs[pairs.source != pairs.target]
    known = pd.MultiIndex.from_frame(edges[["source", "target"]])
    pairs["label"] = pd.MultiIndex.from_frame(pairs[["source", "target"]]).isin(known).astype(int)
    return pairs.reset_index(drop=True)


def permuted_within_sources(pairs: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """The same pairs with each source's labels shuffled among its own candidate targets:
    a network that keeps every regulator's out-degree but points it at random genes (the
    ``*_permuted_network`` control; any method should read chance against it)."""
    rng = np.random.default_rng(seed)
    labels = pairs.label.to_numpy().copy()
    for rows in pairs.groupby("source", sort=False).indices.values():
        labels[rows] = labels[rng.permutation(rows)]
    return pairs.assign(label=labels)


def balanced_sample(pairs: pd.DataFrame, seed: int = 0, ratio: float = 1.0) -> pd.DataFrame:
    """All positives plus ``ratio`` x as many negatives drawn without replacement (seeded)."""
    pos = pairs[pairs.label == 1]
    neg = pairs[pairs.label == 0]
    n = min(len(neg), int(round(ratio * len(pos))))
    neg = neg.sample(n=n, random_state=seed) if n < len(neg) else neg
    return pd.concat([pos, neg]).sort_index()


@dataclass
class GeneSplit:
    train_genes: list[str]
    test_genes: list[str]

    def train_pairs(self, pairs: pd.DataFrame) -> pd.DataFrame:
        keep = set(self.train_genes)
        return pairs[pairs.source.isin(keep) & pairs.target.isin(keep)]

    def test_pairs(self, pairs: pd.DataFrame) -> pd.DataFrame:
        keep = set(self.test_genes)
        return pairs[pairs.source.isin(keep) & pairs.target.isin(keep)]


def _draw_genes(pairs: pd.DataFrame, fraction: float, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """Split the genes of ``pairs`` into (kept, drawn): ``fraction`` of the regulators and,
    separately, of the other genes are drawn, at least one and never all of a group of two or more."""
    regs = sorted(set(pairs.source))
    others = sorted((set(pairs.target) | set(pairs.source)) - set(regs))
    drawn: list[str] = []
    kept: list[str] = []
    for group in (regs, others):
        group = list(rng.permutation(np.asarray(group, dtype=object))) if group else []
        n = int(round(fraction * len(group)))
        if len(group) >= 2:
            n = min(max(n, 1), len(group) - 1)
        drawn += [str(g) for g in group[:n]]
        kept += [str(g) for g in group[n:]]
    return kept, drawn


def gene_split(pairs: pd.DataFrame, test_fraction: float = 0.5, seed: int = 0) -> GeneSplit:
    """Hold out ``test_fraction`` of the genes (regulators and the rest drawn separately)."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be between 0 and 1")
    train, test = _draw_genes(pairs, test_fraction, np.random.default_rng(seed))
    split = GeneSplit(sorted(train), sorted(test))
    for name, part in (("training", split.train_pairs(pairs)), ("held-out", split.test_pairs(pairs))):
        if part.label.sum() == 0:
            raise DataError(
                f"The {name} genes of a gene-disjoint split have no known edge among them "
                f"({pairs.source.nunique()} regulators, {int(pairs.label.sum())} edges in all). Use a larger "
                "network or panel, or a different --test-fraction / --seed."
            )
    return split


def validation_split(train_pairs: pd.DataFrame, seed: int, fraction: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Early-stopping pairs that mimic the test: they touch genes the fit pairs never touch.

    A fifth of the training genes is set aside; fit pairs avoid them, validation pairs
    involve at least one of them (requiring both would leave too few pairs to stop on).
    Falls back to random pairs when that leaves too few edges on either side.
    """
    _, held = _draw_genes(train_pairs, fraction, np.random.default_rng(seed + 1))
    touches = train_pairs.source.isin(held) | train_pairs.target.isin(held)
    fit, val = train_pairs[~touches], train_pairs[touches]
    if fit.label.sum() >= 5 and val.label.sum() >= 2 and (fit.label == 0).any() and (val.label == 0).any():
        return fit, val
    val = train_pairs.sample(frac=fraction, random_state=seed)
    return train_pairs.drop(val.index), val


__all__ = ["pair_universe", "permuted_within_sources", "balanced_sample", "GeneSplit", "gene_split", "validation_split"]

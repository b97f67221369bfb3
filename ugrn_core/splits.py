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

NEGATIVES = ("balanced", "full")


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


def balanced_sample(pairs: pd.DataFrame, seed: int = 0, ratio: float = 1.0) -> pd.DataFrame:
    """All positives plus ``ratio`` x as many negatives drawn without replacement (seeded)."""
    pos = pairs[pairs.label == 1]
    neg = pairs[pairs.label == 0]
    n = min(len(neg), int(round(ratio * len(pos))))
    neg = neg.sample(n=n, random_state=seed) if n < len(neg) else neg
    return pd.concat([pos, neg]).sort_index()


def with_negatives(pairs: pd.DataFrame, negatives: str, seed: int = 0) -> pd.DataFrame:
    if negatives == "full":
        return pairs
    if negatives == "balanced":
        return balanced_sample(pairs, seed)
    raise ValueError(f"negatives must be one of {NEGATIVES}, not {negatives!r}")


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


def gene_split(pairs: pd.DataFrame, test_fraction: float = 0.5, seed: int = 0) -> GeneSplit:
    """Hold out ``test_fraction`` of the genes (regulators and the rest drawn separately)."""
    if not 0 < test_fraction < 1:
        raise ValueError("test_fraction must be between 0 and 1")
    rng = np.random.default_rng(seed)
    regs = sorted(set(pairs.source))
    others = sorted((set(pairs.target) | set(pairs.source)) - set(regs))
    test: list[str] = []
    train: list[str] = []
    for group in (regs, others):
        group = list(rng.permutation(np.asarray(group, dtype=object))) if group else []
        n_test = int(round(test_fraction * len(group)))
        if len(group) >= 2:
            n_test = min(max(n_test, 1), len(group) - 1)
        test += [str(g) for g in group[:n_test]]
        train += [str(g) for g in group[n_test:]]
    split = GeneSplit(sorted(train), sorted(test))
    for name, part in (("training", split.train_pairs(pairs)), ("held-out", split.test_pairs(pairs))):
        if part.label.sum() == 0:
            raise DataError(
                f"The {name} genes of a gene-disjoint split have no known edge among them "
                f"({len(regs)} regulators, {int(pairs.label.sum())} edges in all). Use a larger "
                "network or panel, or a different --test-fraction / --seed."
            )
    return split


__all__ = ["NEGATIVES", "pair_universe", "balanced_sample", "with_negatives", "GeneSplit", "gene_split"]

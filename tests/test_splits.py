"""Pair universes, negatives and gene-disjoint splits."""

from __future__ import annotations

import pytest

from ugrn_core.data.networks import demo_network
from ugrn_core.splits import balanced_sample, gene_split, pair_universe, validation_split


@pytest.fixture(scope="module")
def universe():
    net = demo_network()
    genes = sorted(set(net.source) | set(net.target))
    return net, pair_universe(net, genes)


def test_universe_is_regulator_to_gene_without_self_pairs(universe):
    net, pairs = universe
    regs = set(net.source)
    assert set(pairs.source) == regs
    assert not (pairs.source == pairs.target).any()
    assert len(pairs) == len(regs) * (300 - 1)
    assert pairs.label.sum() == len(net)
    labelled = set(zip(pairs.source[pairs.label == 1], pairs.target[pairs.label == 1]))
    assert labelled == set(zip(net.source, net.target))


def test_gene_split_is_disjoint(universe):
    _, pairs = universe
    split = gene_split(pairs, test_fraction=0.5, seed=3)
    held = set(split.test_genes)
    assert not held & set(split.train_genes)
    train, test = split.train_pairs(pairs), split.test_pairs(pairs)
    assert not (train.source.isin(held) | train.target.isin(held)).any()
    assert (test.source.isin(held) & test.target.isin(held)).all()
    assert train.label.sum() > 0 and test.label.sum() > 0
    assert split.test_genes != gene_split(pairs, 0.5, seed=4).test_genes


def test_validation_pairs_touch_genes_the_fit_pairs_never_touch(universe):
    _, pairs = universe
    train = gene_split(pairs, 0.5, seed=0).train_pairs(pairs)
    fit, val = validation_split(train, seed=0)
    fit_genes = set(fit.source) | set(fit.target)
    assert len(fit) + len(val) == len(train)
    assert all((s not in fit_genes) or (t not in fit_genes) for s, t in zip(val.source, val.target))


def test_balanced_sample_is_seeded_and_balanced(universe):
    _, pairs = universe
    a, b = balanced_sample(pairs, seed=1), balanced_sample(pairs, seed=1)
    assert a.label.sum() == (a.label == 0).sum() == pairs.label.sum()
    assert a.index.equals(b.index)
    assert not a.index.equals(balanced_sample(pairs, seed=2).index)

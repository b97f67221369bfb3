"""The dashboard's tables: score table, rankings, pair curves (GT integrated against VVP)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ugrn_core.data.networks import match_network
from ugrn_core.errors import GeneNotFoundError, TranslatorMismatchError
from ugrn_core.explore import pair_response, ranked_regulators, ranked_targets
from ugrn_core.grn import GRN
from ugrn_core.extract import ExtractionParams
from ugrn_core.pipeline import prepare_data, run_extraction
from ugrn_core.translator import TranslatorConfig, TranslatorSet


@pytest.fixture(scope="module")
def prepared(default_model):
    return prepare_data("demo", default_model, n_genes=30)


@pytest.fixture(scope="module")
def analysis(default_model, prepared):
    results = run_extraction(prepared, default_model, ["pert", "vvp", "gt"])
    from ugrn_core.data.networks import demo_network

    net = match_network(demo_network(), prepared.panel)
    return GRN.from_extraction(default_model, prepared, results, data_label="demo").attach(network=net)


@pytest.fixture(scope="module")
def regulator_rich(default_model):
    """40 genes of which 22 are regulators: 15+ known edges outside every fold pair of a 5-fold cross-fit."""
    prepared = prepare_data("demo", default_model, n_genes=40, keep_genes=[f"TF{i:02d}" for i in range(1, 31)])
    results = run_extraction(prepared, default_model, ["pert", "vvp", "gt"])
    from ugrn_core.data.networks import demo_network

    return GRN.from_extraction(default_model, prepared, results, data_label="demo").attach(
        network=match_network(demo_network(), prepared.panel))


def test_score_table_has_every_pair_scores_and_known_flags(analysis, prepared):
    edges = analysis.edges()
    n = len(analysis.panel)
    assert len(edges) == n * (n - 1)
    assert {"pert", "vvp", "gt", "pearson", "known", "sign"} <= set(edges.columns)
    truth = analysis.known_pairs
    flagged = set(map(tuple, edges.loc[edges.known, ["source", "target"]].to_numpy()))
    assert flagged == truth and truth
    assert edges.pearson.between(0, 1).all()
    # pearson really is |r| of the two genes' expression over cells
    s, t = edges.source.iloc[5], edges.target.iloc[5]
    X = prepared.adata[:, [s, t]].X
    X = X.toarray() if hasattr(X, "toarray") else X
    assert edges.pearson.iloc[5] == pytest.approx(abs(np.corrcoef(X.T)[0, 1]), abs=1e-6)


def test_rankings_forward_and_reverse(analysis):
    edges = analysis.edges()
    src = analysis.regulators_first()[0]
    assert src in set(analysis.network.regulators)
    t = ranked_targets(edges, [src], "vvp")
    assert (t.source == src).all() and t["rank"].tolist() == list(range(1, len(t) + 1))
    assert t.vvp.is_monotonic_decreasing
    r = ranked_regulators(edges, t.target.iloc[0], "gt")
    assert (r.target == t.target.iloc[0]).all() and r["gt"].is_monotonic_decreasing
    with pytest.raises(GeneNotFoundError, match="not in the gene panel"):
        ranked_targets(edges, ["NOT_A_GENE"], "vvp")


def test_translator_adds_probabilities_and_ensemble(analysis):
    pairs = analysis.edges()[["source", "target"]].assign(label=analysis.edges().known.astype(int))
    ts = TranslatorSet.fit({m: analysis.features[m] for m in ("vvp", "gt")}, pairs, config=TranslatorConfig(epochs=3), kinds=("mlp",))
    analysis.attach(translators=ts)
    try:
        edges = analysis.edges()
        assert {"vvp_prob", "gt_prob", "ensemble"} <= set(edges.columns)
        assert edges.ensemble.between(0, 1).all()
        # it trained on every pair here: all are flagged, none may judge recovery
        assert edges.seen_in_training.all() and analysis.recovery_pairs(edges).empty
        assert "seen_in_training" not in analysis.score_columns()
    finally:
        analysis.translators, analysis._edges = None, None


def test_out_of_fold_probabilities_never_come_from_a_translator_that_saw_the_pair(regulator_rich):
    analysis = regulator_rich
    analysis.fit_out_of_fold(config=TranslatorConfig(epochs=40, patience=5))
    try:
        edges = analysis.edges()
        assert {"vvp_prob", "gt_prob", "pert_prob", "ensemble", "fold_pair"} <= set(edges.columns)
        assert "fold_pair" not in analysis.score_columns() and edges.ensemble.between(0, 1).all()
        assert len(analysis.recovery_pairs(edges)) == len(edges)
        cf = analysis.crossfit
        for row in edges.sample(200, random_state=0).itertuples():
            seen = cf.translators[tuple(map(int, row.fold_pair.split("-")))].training_genes
            assert row.source not in seen and row.target not in seen
        # a translator trained elsewhere replaces the out-of-fold one (and the other way round)
        pairs = edges[["source", "target"]].assign(label=edges.known.astype(int))
        some = pairs[pairs.source.isin(analysis.network.regulators[:4]) & pairs.target.isin(analysis.panel[:20])]
        ts = TranslatorSet.fit(analysis.features, some, config=TranslatorConfig(epochs=2), kinds=("mlp",))
        analysis.attach(translators=ts)
        assert analysis.crossfit is None and "fold_pair" not in analysis.edges()
        flagged = analysis.edges()
        trained = set(some.source) | set(some.target)
        assert 0 < flagged.seen_in_training.mean() < 1
        assert (flagged.seen_in_training == (flagged.source.isin(trained) | flagged.target.isin(trained))).all()
    finally:
        analysis.translators, analysis.crossfit, analysis._edges = None, None, None


def test_a_translator_that_does_not_fit_changes_nothing(analysis, prepared):
    pairs = analysis.edges()[["source", "target"]].assign(label=analysis.edges().known.astype(int))
    other = run_extraction(prepared, analysis.model, ["vvp"], params=ExtractionParams(vvp_values=4))
    ts = TranslatorSet.fit(other, pairs, config=TranslatorConfig(epochs=2), kinds=("mlp",))
    before = analysis.edges().columns.tolist()
    with pytest.raises(TranslatorMismatchError, match="vvp_values: trained with 4, given 8"):
        analysis.attach(translators=ts)
    assert analysis.translators is None and analysis.edges().columns.tolist() == before


def test_gt_trajectory_matches_vvp_response(default_model):
    """GT's slope integrated along the grid equals VVP's finite change (same virtual cell)."""
    prepared = prepare_data("demo", default_model, n_genes=12)
    grid = tuple(np.linspace(0.0, default_model.value_spec.value_range[1], 41).tolist())
    src, tgt = prepared.panel[0], prepared.panel[3]
    res = run_extraction(prepared, default_model, ["vvp", "gt"], sources=[src], params=ExtractionParams(value_grid=grid))
    curves = pair_response(res, src, tgt)
    vvp = curves[curves.quantity == "response"].response.to_numpy()
    traj = curves[curves.quantity == "trajectory"].response.to_numpy()
    assert curves[curves.quantity == "slope"].value.tolist() == pytest.approx(list(grid))
    change = vvp - vvp[0]
    scale = np.abs(change).max()
    assert scale > 0
    assert np.abs(traj - change).max() < 0.05 * scale + 1e-4
    with pytest.raises(GeneNotFoundError):
        pair_response(res, src, "NOPE")
    assert isinstance(curves, pd.DataFrame)


def test_response_curves_say_where_they_were_measured(analysis, prepared, default_model):
    src = analysis.panel[2]
    value, where = analysis.response_reference(src)  # the default: real cells, from the source's mean
    assert value == pytest.approx(float(prepared.mean_values[2])) and "real cells" in where
    bg = run_extraction(prepared, default_model, ["vvp"], sources=[src], params=ExtractionParams(context="background"))
    other = GRN.from_extraction(default_model, prepared, bg)
    value, where = other.response_reference(src)
    assert value == pytest.approx(default_model.value_spec.background) and "background" in where

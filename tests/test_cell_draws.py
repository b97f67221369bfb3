"""Several draws of real cells: the features average the single draws, the spread is theirs."""

from __future__ import annotations

import numpy as np
import pytest

from ugrn_core.extract import ExtractionParams, extract_features, forwards_needed


def _cells(genes, n=40):
    return np.random.default_rng(5).uniform(0.0, 4.0, size=(n, len(genes))).astype(np.float32)


@pytest.mark.parametrize("method", ["vvp", "gt"])
def test_draws_average_the_single_draws_and_keep_their_spread(tiny_model, genes, method):
    cells = _cells(genes)
    base = dict(vvp_values=3, gt_values=3, n_cells=4)
    singles = [extract_features(method, tiny_model, genes, mean_values=cells.mean(0), cell_values=cells,
                                params=ExtractionParams(cell_seed=7 + d, **base)) for d in range(3)]
    assert not np.allclose(singles[0].features, singles[1].features)  # the draws really differ
    many = extract_features(method, tiny_model, genes, mean_values=cells.mean(0), cell_values=cells,
                            params=ExtractionParams(cell_seed=7, n_cell_samples=3, **base))
    assert np.allclose(many.features, np.mean([s.features for s in singles], axis=0), atol=1e-6)
    assert np.allclose(many.score_sd, np.std([s.score for s in singles], axis=0, ddof=1), atol=1e-6)
    assert many.params["n_cell_samples"] == 3 and many.params["cell_seed"] == 7
    assert singles[0].score_sd is None


def test_draws_cost_and_only_where_cells_are_drawn(tiny_model, genes):
    p1, p3 = ExtractionParams(n_cells=4), ExtractionParams(n_cells=4, n_cell_samples=3)
    assert forwards_needed("vvp", 5, p3) == 3 * forwards_needed("vvp", 5, p1)
    assert forwards_needed("pert", 5, p3) == forwards_needed("pert", 5, p1)
    cells = _cells(genes)
    pert = extract_features("pert", tiny_model, genes, mean_values=cells.mean(0), cell_values=cells, params=p3)
    assert pert.score_sd is None and "n_cell_samples" not in pert.params
    bg = extract_features("vvp", tiny_model, genes, params=ExtractionParams(context="background", n_cell_samples=3, scale="none"))
    assert bg.score_sd is None


def test_spreads_reach_the_table_and_survive_saving(tmp_path):
    import ugrn_core as ug

    grn = ug.tl.extract(ug.datasets.demo(), methods=("pert", "vvp"), n_genes=15, key_added=None, progress=False,
                        params=ExtractionParams(n_cells=2, vvp_values=3, n_cell_samples=2))
    edges = grn.edges()
    assert "vvp_sd" in edges and "pert_sd" not in edges
    assert "vvp_sd" not in grn.score_columns()  # a spread is shown, never ranked by
    assert (edges.vvp_sd >= 0).all() and edges.vvp_sd.gt(0).any()
    back = ug.GRN.load(grn.save(tmp_path / "r"))
    assert np.array_equal(back.features["vvp"].score_sd, grn.features["vvp"].score_sd)
    path = tmp_path / "vvp.npz"
    grn.features["vvp"].save_npz(path)
    assert np.array_equal(type(grn.features["vvp"]).load_npz(path, "vvp").score_sd, grn.features["vvp"].score_sd)

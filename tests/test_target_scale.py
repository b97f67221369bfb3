"""Per-target scaling: a scaled response is the raw one over a spread computed the naive way."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features, sample_cells
from ugrn_core.extract.scale import FLOOR, SPREAD_CELLS, floored
from ugrn_core.translator import params_differences


def _cells(genes, n=90, seed=0):
    return np.random.default_rng(seed).uniform(0.0, 4.0, size=(n, len(genes))).astype(np.float32)


def _naive_output_sd(model, genes, cells):
    ids = model.token_ids(genes)
    with torch.no_grad():
        outs = np.stack([model.predict(ids, torch.as_tensor(c)[None])[0].numpy() for c in cells]).astype(np.float64)
    return outs.std(axis=0)


@pytest.mark.parametrize("method", ["pert", "vvp", "gt"])
def test_output_sd_divides_each_target_by_the_models_spread(tiny_model, genes, method, tmp_path):
    cells = _cells(genes)
    mean = cells.mean(axis=0)
    base = dict(vvp_values=3, gt_values=3, n_cells=4)
    raw = extract_features(method, tiny_model, genes, mean_values=mean, cell_values=cells,
                           params=ExtractionParams(scale="none", **base))
    cache = FeatureCache(tmp_path / "c")
    scaled = extract_features(method, tiny_model, genes, mean_values=mean, cell_values=cells,
                              params=ExtractionParams(scale="output_sd", **base), cache=cache)
    spread = floored(_naive_output_sd(tiny_model, genes, sample_cells(cells, SPREAD_CELLS, seed=1)))
    assert np.allclose(scaled.params["target_spread"], spread, rtol=1e-5)
    assert np.allclose(scaled.features * spread[None, :, None], raw.features, rtol=1e-4, atol=1e-6)
    assert np.allclose(scaled.score, np.abs(scaled.features).mean(-1), rtol=1e-6)
    assert scaled.params["scale"] == "output_sd" and raw.params["scale"] == "none"
    again = extract_features(method, tiny_model, genes, mean_values=mean, cell_values=cells,
                             params=ExtractionParams(scale="output_sd", **base), cache=cache)
    assert np.array_equal(again.features, scaled.features)  # the spread came back from the cache unchanged


def test_data_sd_and_the_floor(tiny_model, genes):
    cells = _cells(genes)
    cells[:, 2] = 1.0  # a gene that never varies: floored, not a division by zero
    feats = extract_features("vvp", tiny_model, genes, mean_values=cells.mean(0), cell_values=cells,
                             params=ExtractionParams(vvp_values=3, n_cells=4, scale="data_sd"))
    sd = cells.astype(np.float64).std(axis=0)
    spread = np.asarray(feats.params["target_spread"])
    assert spread[2] == pytest.approx(FLOOR * np.median(sd[sd > 0]))
    others = np.arange(len(genes)) != 2
    assert np.allclose(spread[others], np.maximum(sd[others], FLOOR * np.median(sd[sd > 0])))
    assert np.isfinite(feats.features).all()


def test_embeddings_are_never_scaled(tiny_model, genes):
    cells = _cells(genes)
    a = extract_features("emb", tiny_model, genes, cell_values=cells)
    b = extract_features("emb", tiny_model, genes, cell_values=cells, params=ExtractionParams(scale="output_sd"))
    assert np.array_equal(a.score, b.score) and b.params["scale"] == "none"


def test_bad_scale_settings_name_the_fix(tiny_model, genes):
    with pytest.raises(ValueError, match="choose from none, output_sd, data_sd"):
        extract_features("vvp", tiny_model, genes, params=ExtractionParams(scale="zscore", context="background"))
    with pytest.raises(ValueError, match="needs the dataset's cells"):
        extract_features("vvp", tiny_model, genes, params=ExtractionParams(scale="data_sd", context="background"))


def test_a_translator_trained_on_raw_responses_names_the_scaling():
    diffs = params_differences({"scale": "none"}, {"scale": "output_sd"})
    assert diffs == ["scale: trained with none, given output_sd"]


def test_cli_and_app_default_to_the_librarys_scaling():
    from ugrn_core.cli import _extraction_params, build_parser
    from ugrn_ui.state import Settings

    args = build_parser().parse_args(["extract", "--data", "demo", "--out", "x"])
    assert _extraction_params(args).scale == ExtractionParams().scale == Settings().params.scale
    args = build_parser().parse_args(["extract", "--data", "demo", "--out", "x", "--scale", "none"])
    assert _extraction_params(args).scale == "none"


def test_a_saved_result_keeps_its_scaling_and_old_results_read_as_raw(tmp_path):
    import json

    import ugrn_core as ug

    grn = ug.tl.extract(ug.datasets.demo(), methods=("vvp",), n_genes=20, key_added=None, progress=False,
                        params=ExtractionParams(scale="output_sd", n_cells=2, vvp_values=3))
    assert grn.response_units() == "target's model spread"
    back = ug.GRN.load(grn.save(tmp_path / "r"))
    assert back.params.scale == "output_sd" and back.response_units() == "target's model spread"
    assert np.array_equal(back.features["vvp"].score, grn.features["vvp"].score)
    meta_path = tmp_path / "r" / "grn.json"
    meta = json.loads(meta_path.read_text())
    meta["params"].pop("scale")  # as written before per-target scaling existed
    for f in meta["features"].values():
        f["params"].pop("scale", None), f["params"].pop("target_spread", None)
    meta_path.write_text(json.dumps(meta))
    old = ug.GRN.load(tmp_path / "r")
    assert old.params.scale == "none" and old.response_units() == "model units"


def test_on_the_demo_scaled_scores_no_longer_track_abundance():
    """The issue's bar with the app's panel: Spearman(target's mean VVP score, its mean expression) < 0.3."""
    from scipy.stats import spearmanr

    import ugrn_core as ug

    grn = ug.tl.extract(ug.datasets.demo(), methods=("vvp",), n_genes=100, key_added=None, progress=False)
    assert grn.params.scale == "output_sd"
    f = grn.features["vvp"]
    score = f.score.astype(float).copy()
    np.fill_diagonal(score, np.nan)
    rho = spearmanr(np.nanmean(score, axis=0), grn.expression.mean(axis=0)).statistic
    assert abs(rho) < 0.3, rho

"""The GRN result object: every view from one object, saved and read back whole (folder and
AnnData), opened without the model, and the scanpy-shaped API around it."""

from __future__ import annotations

import json
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import ugrn_core as ug
from ugrn_core.benchmark import make_benchmark_set, run_benchmark
from ugrn_core.data.networks import demo_network, match_network
from ugrn_core.errors import DataError, UGRNError
from ugrn_core.extract.base import PairFeatures
from ugrn_core.grn import GRN, ModelRecord, holds_result
from ugrn_core.translator import TranslatorConfig, TranslatorSet

FAST = TranslatorConfig(epochs=3, hidden=(8,))


@pytest.fixture(scope="module")
def demo():
    return ug.datasets.demo()


@pytest.fixture(scope="module")
def grn(demo, default_model):
    """40 genes, 30 regulators kept: enough known edges for a 3-fold cross-fit."""
    g = ug.tl.extract(demo, model=default_model, n_genes=40, methods=["pert", "vvp", "gt"], network="demo",
                      genes=[f"TF{i:02d}" for i in range(1, 31)], progress=False, cache=False)
    return g.fit_out_of_fold(k=3, config=FAST)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_api_names_lead_to_the_grn(demo):
    assert ug.GRN is GRN and callable(ug.tl.extract) and callable(ug.models.load) and callable(ug.pl.targets)
    assert "true_network" in demo.uns and demo.n_obs == 3000


def test_extract_stores_the_result_in_the_anndata(grn, demo):
    assert set(grn.features) == {"pert", "vvp", "gt"} and grn.crossfit is not None
    cols = set(grn.edges().columns)
    assert {"pert", "vvp", "gt", "pearson", "vvp_prob", "gt_prob", "ensemble", "fold_pair", "known"} <= cols
    assert isinstance(demo.uns["ugrn"]["meta"], str)  # extract stored it before the cross-fit ...
    before = GRN.from_anndata(demo)
    assert before.crossfit is None and "ensemble" not in before.edges()
    ug.tl.translate(demo, k=3)  # ... and translate updates it in place
    assert GRN.from_anndata(demo).crossfit is not None


def test_folder_round_trip_keeps_everything(grn, tmp_path):
    back = GRN.load(grn.save(tmp_path / "res"))
    _same(grn.edges(), back.edges())
    for m, f in grn.features.items():
        g = back.features[m]
        assert np.array_equal(f.features, g.features) and f.sources == g.sources and f.params == g.params
        assert g.params.get("value_grid") or m == "pert"
    assert back.network.summary() == grn.network.summary() and back.crossfit.folds == grn.crossfit.folds
    assert np.array_equal(back.expression, grn.expression.astype(np.float32)) and back.params == grn.params
    assert isinstance(back.model, ModelRecord) and back.model_digest == grn.model_digest
    # the views work on the loaded result: rankings, curves, graph, export
    src = grn.regulators_first()[0]
    _same(grn.targets(src, n=5), back.targets(src, n=5))
    _same(grn.response(src, grn.panel[-1]), back.response(src, grn.panel[-1]))
    assert back.subnetwork(src).n_nodes > 1 and "vis.Network" in back.to_html(src)
    files = back.export(tmp_path / "export")
    assert {"rankedEdges.csv", "edges_all_methods.csv", "network.graphml", "manifest.json"} <= {p.name for p in files.iterdir()}
    manifest = json.loads((files / "manifest.json").read_text())
    assert manifest["model"]["digest"] == grn.model_digest and manifest["out_of_fold"]["k"] == 3


def test_h5ad_round_trip_and_expression_remade(grn, demo, tmp_path):
    a = demo.copy()
    grn.to_anndata(a, "mine")
    path = tmp_path / "with_result.h5ad"
    a.write_h5ad(path)
    assert holds_result(path, "mine") and not holds_result(path, "other")
    back = GRN.from_anndata(ad.read_h5ad(path), "mine")
    _same(grn.edges(), back.edges())
    assert np.allclose(back.expression, grn.expression)  # remade from the AnnData, not copied into it
    assert "expression" not in a.uns["mine"]["arrays"]
    _same(GRN.load(path, key="mine").edges(), grn.edges())


def test_an_external_translator_travels_with_the_result(grn, tmp_path):
    edges = grn.edges()
    labelled = edges[["source", "target"]].assign(label=edges.known.astype(int))
    ts = TranslatorSet.fit(grn.features, labelled.sample(400, random_state=0), config=FAST, info={"trained_on": "elsewhere"})
    other = grn.detached().attach(network=grn.network).attach(translators=ts)
    assert other.edges().seen_in_training.any()
    back = GRN.load(other.save(tmp_path / "ext"))
    _same(other.edges(), back.edges())
    a = ad.AnnData(np.zeros((2, 2), dtype=np.float32))
    other.to_anndata(a)
    _same(other.edges(), GRN.from_anndata(a).edges())


def test_a_saved_result_benchmarks_without_its_model(grn, tmp_path):
    back = GRN.load(grn.save(tmp_path / "res"))
    bset = make_benchmark_set("saved", back.panel_data(), back.network, back.features)
    result = run_benchmark(bset, back.model, "genes", methods=list(back.features), classical=("pearson",),
                           translator_config=FAST)
    assert {"vvp_prob", "vvp", "pearson"} <= set(result.metrics.method)
    with pytest.raises(DataError, match="model itself"):
        back.model.randomised(0)


def test_clear_errors_for_what_is_not_a_result(tmp_path, demo):
    with pytest.raises(DataError, match="no grn.json"):
        GRN.load(tmp_path)
    with pytest.raises(DataError, match=r"uns\['nothing'\]"):
        GRN.from_anndata(demo, "nothing")
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("keep me")
    g = GRN({}, ["A"], np.eye(1), np.zeros(1))
    with pytest.raises(DataError, match="not a saved UGRN result"):
        g.save(tmp_path / "precious")
    assert (tmp_path / "precious" / "notes.txt").read_text() == "keep me"
    assert issubclass(DataError, UGRNError)


def test_features_npz_keeps_the_value_grid(tmp_path):
    f = PairFeatures("vvp", np.zeros((1, 2, 3), np.float32), ["A"], ["A", "B"], np.zeros((1, 2)), {"value_grid": [0.0, 1.0, 2.0]})
    f.save_npz(tmp_path / "vvp.npz")
    assert PairFeatures.load_npz(tmp_path / "vvp.npz", "vvp").params == {"value_grid": [0.0, 1.0, 2.0]}


def test_plots_read_a_result_or_its_anndata(grn, demo):
    src = grn.regulators_first()[0]
    fig = ug.pl.targets(grn, src, n=8)
    assert len(fig.data[0].y) == 8 and fig.data[0].y[0] == grn.targets(src, n=1).target.iloc[0]
    assert ug.pl.regulators(demo, grn.panel[-1], n=5).data[0].orientation == "h"
    assert len(ug.pl.response(grn, src, grn.panel[-1]).data) == 3
    assert ug.pl.rank_agreement(grn, ["vvp", "gt", "pearson"]).data
    view = ug.pl.subnetwork(grn, src)
    assert "<iframe srcdoc=" in view._repr_html_() and "vis.Network" in view.html


def test_cli_extract_writes_a_result_the_library_opens(tmp_path):
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "ugrn_core", "extract", "--data", "demo", "--n-genes", "20", "--methods", "pert,vvp",
                    "--context", "background", "--out", str(out)], check=True, capture_output=True, text=True)
    g = GRN.load(out / "grn")
    assert holds_result(out / "grn") and set(g.features) == {"pert", "vvp"}
    written = pd.read_csv(out / "edges.csv")
    _same(written[["source", "target"]], g.edges()[["source", "target"]])
    assert np.allclose(written.vvp, g.edges().vvp, rtol=1e-6)
    assert PairFeatures.load_npz(out / "features" / "vvp.npz", "vvp").params["context"] == "background"


def test_network_from_a_dataframe(grn):
    net = demo_network().head(20)
    m = match_network(net, grn.panel)
    g = grn.detached().attach(network=m)
    assert g.edges().known.sum() == len(m.edges)


def test_axis_writes_scores_latent_and_settings_into_the_anndata():
    from ugrn_core.axis.vae import VAEConfig
    from ugrn_core.data.simulate import simulate_demo

    a = simulate_demo(n_cells=400)[0]
    a.obs_names = [f"c{i}" for i in range(a.n_obs)]
    res = ug.tl.axis(a, "condition", "control", "perturbed", n_genes=60, config=VAEConfig(epochs=5, kl_warmup=2),
                     cache=False, progress=False)
    scored = a.var["ugrn_axis_score"].dropna()
    assert len(scored) == 60 and scored.index[np.argmax(scored.abs().to_numpy())] == res.scores.gene.iloc[0]
    assert a.obsm["X_ugrn_vae"].shape == (a.n_obs, res.latent.shape[1]) and a.uns["ugrn_axis"]["target"] == "perturbed"
    assert len(ug.pl.axis(a).data[0].x) == 60
    with pytest.raises(UGRNError, match="nope"):
        ug.tl.axis(a, "condition", "control", "nope", n_genes=60, config=VAEConfig(epochs=1), cache=False, progress=False)

"""Every page of the dashboard on the demo, without a browser (streamlit AppTest).

Widgets must change what is shown, and no page may show an exception element.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import started

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def no_exception(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.fixture
def at() -> AppTest:
    return started(no_exception(AppTest.from_file(APP, default_timeout=600).run()))


def goto(at: AppTest, page: str) -> AppTest:
    return no_exception(at.switch_page(f"pages/{page}.py").run())


def test_home_runs_the_demo_and_the_panel_slider_changes_the_panel(at):
    assert "9,900 ordered gene pairs" in at.success[0].value
    panel = [m for m in at.metric if m.label == "Panel genes"][0]
    assert panel.value == "100"
    at.sidebar.slider[0].set_value(30).run()
    no_exception(at)
    assert [m for m in at.metric if m.label == "Panel genes"][0].value == "30"
    assert "870 ordered gene pairs" in at.success[0].value
    assert len(at.dataframe) == 2  # cost estimate and strongest edges


def test_regulators_page_ranks_targets_and_reacts_to_widgets(at):
    goto(at, "1_Regulators")
    table = at.dataframe[0].value
    src = at.multiselect[0].value
    assert len(src) == 1 and src[0].startswith("TF")  # a known regulator by default
    assert (table.source == src[0]).all() and table.vvp.is_monotonic_decreasing
    assert {"pert", "emb", "vvp", "gt", "pearson", "known", "sign", "predicted_sign"} <= set(table.columns)
    assert set(table.predicted_sign) <= {-1, 0, 1} and (table.predicted_sign != 0).any()
    config = json.loads(at.dataframe[0].proto.columns)  # scores read as 3 significant digits, with a tooltip
    assert config["pert"]["type_config"]["format"] == "%.3g" and "zeroed" in config["pert"]["help"]
    two = at.multiselect[0].options[:2]
    at.multiselect[0].set_value(two).run()
    at.sidebar.selectbox[0].set_value("gt").run()
    no_exception(at)
    table = at.dataframe[0].value
    assert set(table.source) == set(two)
    for _, grp in table.groupby("source"):
        assert grp["gt"].is_monotonic_decreasing
    reverse = [d.value for d in at.dataframe if "rank" in d.value and d.value.target.nunique() == 1]
    assert reverse, "the reverse (regulators of a target) table is missing"
    assert len(at.get("plotly_chart")) >= 2  # rank agreement + pair response curves


def test_subnetwork_page_draws_and_widgets_change_the_graph(at):
    goto(at, "2_Subnetwork")
    frames = at.get("iframe")
    assert frames and "new vis.Network" in frames[0].proto.srcdoc
    html = frames[0].proto.srcdoc  # edges drawn by predicted sign: arrow heads, and bars for repression if any
    assert '"type": "arrow"' in html or '"type": "bar"' in html
    assert any("predicted repression" in m.value for m in at.markdown)
    edges = lambda: int([m for m in at.metric if m.label == "Edges"][0].value)  # noqa: E731
    genes = lambda: int([m for m in at.metric if m.label == "Genes"][0].value)  # noqa: E731
    e5, g5 = edges(), genes()
    at.sidebar.slider[0].set_value(10).run()
    assert edges() > e5
    at.sidebar.radio[0].set_value(2).run()
    no_exception(at)
    assert genes() > g5
    assert len(at.get("download_button")) == 3


def test_benchmark_then_out_of_fold_probabilities_the_other_pages_use(at):
    goto(at, "3_Benchmark")
    at.button[0].click().run()  # the form's "Train and evaluate"
    no_exception(at)
    metrics = at.dataframe[0].value
    assert {"ensemble", "vvp_prob", "gt_prob", "vvp", "pearson"} <= set(metrics.method)
    assert metrics.auroc.between(0, 1).all()
    assert any("Random baseline" in c.value for c in at.caption)
    assert {"Download metrics (CSV)", "Download held-out predictions (CSV)"} <= {b.label for b in at.get("download_button")}
    use = [b for b in at.button if "out of fold" in b.label][0]
    use.click().run()
    no_exception(at)
    assert any("out-of-fold probabilities" in s.value for s in at.success)
    goto(at, "1_Regulators")
    assert at.sidebar.selectbox[0].value == "ensemble"
    assert {"vvp_prob", "gt_prob", "ensemble"} <= set(at.dataframe[0].value.columns)
    assert any("out of fold" in c.value for c in at.caption)
    # no probability the pages show comes from a translator that trained on either gene of its pair
    analysis = at.session_state["analysis"][1]
    edges, cf = analysis.edges(), analysis.crossfit
    assert edges.fold_pair.notna().all()
    for (a, b), grp in edges.groupby(edges.fold_pair.map(lambda f: tuple(map(int, f.split("-"))))):
        seen = cf.translators[(a, b)].training_genes
        assert seen and not (grp.source.isin(seen) | grp.target.isin(seen)).any()


def test_compare_groups_page_finds_the_knocked_down_regulator(at):
    at = goto(at, "7_Compare_groups")
    by = [w for w in at.sidebar.selectbox if w.label == "Cells grouped by"][0]
    assert by.value == "condition"  # the annotation with the fewest groups comes first
    assert [w.value for w in at.sidebar.selectbox if w.label.startswith("Group")] == ["control", "perturbed"]
    if at.button:  # both networks cost minutes on this machine: one click extracts them
        no_exception(at.button[0].click().run())
    text = " ".join(m.value for m in at.markdown)
    assert "Largest fall: **TF16**" in text, text  # silenced in 'perturbed': zeroing it there changes little
    assert [w.value for w in at.sidebar.selectbox if w.label == "Score compared"] == ["pert"]
    [w for w in at.sidebar.selectbox if w.label == "Score compared"][0].set_value("vvp").run()
    no_exception(at)
    assert at.dataframe and any("differential.csv" in b.label for b in at.get("download_button"))
    [w for w in at.sidebar.selectbox if w.label == "Group B"][0].set_value("control").run()
    assert any("two different groups" in i.value for i in at.info)


def test_home_builds_one_groups_network(at):
    [m for m in at.sidebar.multiselect if m.label == "Methods"][0].set_value(["pert"]).run()  # keep it quick
    cells = [w for w in at.sidebar.selectbox if w.label == "Network of"][0]
    assert cells.value == ("", "")
    cells.set_value(("condition", "perturbed")).run()
    no_exception(at)
    assert [m for m in at.metric if m.label.startswith("Cells (condition = perturbed)")][0].value == "1,480"
    assert "from the condition = perturbed cells" in at.success[0].value  # the result says whose cells


def test_pathways_page_tests_top_targets_against_regulons(at):
    goto(at, "4_Pathways")
    t1 = at.dataframe[0].value
    assert {"gene_set", "overlap", "p_value", "fdr"} <= set(t1.columns) and len(t1)
    assert t1.p_value.is_monotonic_increasing
    at.selectbox[0].set_value(at.selectbox[0].options[1]).run()
    no_exception(at)
    assert not at.dataframe[0].value.equals(t1)


def test_export_page_offers_every_file(at):
    goto(at, "5_Export")
    labels = {b.label for b in at.get("download_button")}
    assert {"Download everything (.zip)", "rankedEdges.csv", "edges_all_methods.csv", "network.graphml",
            "network.sif", "regulon.csv", "manifest.json"} <= labels
    assert at.json  # the manifest shown


AXIS = str(ROOT / "pages" / "6_Perturbation_axis.py")


@pytest.fixture
def axis_at() -> AppTest:
    at = AppTest.from_file(AXIS, default_timeout=300)
    at.session_state["ax_epochs"] = 60  # the page fits the VAE by itself on the demo; fewer epochs for speed
    return no_exception(at.run())


def test_axis_page_ranks_the_knocked_down_regulator_and_follows_flows(axis_at):
    at = axis_at
    table = at.dataframe[0].value
    assert list(table.columns[:3]) == ["gene", "score", "baseline"]
    assert table.score.abs().is_monotonic_decreasing
    assert table.gene.iloc[0] == "TF16" and table.score.iloc[0] < 0  # the demo knocks TF16 down
    assert len(at.get("plotly_chart")) >= 3  # score scatter, flow map, flow effects (+ pathway bars)
    # knocking TF16 down from control cells moves its known targets the way their edges say
    from ugrn_core.data.networks import read_network

    truth = read_network("demo").query("source == 'TF16'").set_index("target").sign
    effects = at.dataframe[1].value.set_index("gene").log2fc
    assert effects["TF16"] < 0
    top = effects.head(10)
    assert top.index.isin(truth.index).sum() >= 8
    hits = top[top.index.isin(truth.index)]
    assert (np.sign(hits) == -truth[hits.index]).all()  # activated targets fall, repressed ones rise
    # the label head's flow carries control cells towards P(perturbed) = 1
    at.radio(key="ax_follow").set_value("label").run()
    no_exception(at)
    caption = [c.value for c in at.caption if "label head puts" in c.value][0]
    p0, p1 = (float(x) for x in re.findall(r"\d+\.\d+", caption)[:2])
    assert p1 > p0 + 0.5
    # pathways: TF16's regulon is the top set for both rankings
    subs = [s.value for s in at.subheader]
    assert subs == ["Gradient score", "Baseline"]
    for ora in at.dataframe[2:4]:
        assert ora.value.gene_set.iloc[0] == "TF16_TARGETS" and ora.value.fdr.iloc[0] < 1e-6
    # swapping the direction flips the sign
    at.selectbox(key="ax_from").set_value("perturbed").run()
    no_exception(at)
    flipped = at.dataframe[0].value.set_index("gene").score
    assert flipped["TF16"] > 0


def test_axis_page_explains_a_dataset_without_groups(tmp_path):
    from ugrn_ui.state import Settings

    X = np.random.default_rng(0).poisson(2, (60, 30)).astype(np.float32)
    a = ad.AnnData(X)
    a.var_names = [f"GENE{i}" for i in range(30)]
    path = tmp_path / "no_groups.h5ad"
    a.write_h5ad(path)
    at = AppTest.from_file(AXIS, default_timeout=120)
    at.session_state["settings"] = Settings(data=str(path), data_label="no groups")
    no_exception(at.run())
    assert any("2–50 groups" in w.value for w in at.warning)


def test_home_reports_regulators_and_reference_edges_before_extraction(tmp_path, shared_data):
    """Kang 2018 PBMCs with TRRUST: the default panel holds the expressed transcription
    factors, and the home page counts them and the reference edges before any extraction."""
    from conftest import make_module
    from ugrn_core.models.checkpoint import write_checkpoint
    from ugrn_core.models.values import ValueSpec

    kang = shared_data / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad"
    module, vocab = make_module(list(ad.read_h5ad(kang).var_names))
    ckpt = write_checkpoint(tmp_path / "kang_model", module, vocab, ValueSpec(value_range=(0.0, 4.0), background=1.0))
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["w_data_kind"] = "Path on this machine"
    at.session_state["w_data_path"] = str(kang)
    at.session_state["w_model_kind"] = "scGPT checkpoint folder"
    at.session_state["w_model_path"] = str(ckpt)
    at.session_state["w_net_kind"] = "Path on this machine"
    at.session_state["w_net_path"] = str(shared_data / "networks" / "trrust_rawdata.human.tsv")
    at.session_state["w_n_genes"] = 100
    no_exception(at.run())
    text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert re.search(r"106 genes: 6 expressed regulators", text), text[:2000]
    assert re.search(r"Reference network on this panel: \*\*9 known edges\*\* from \*\*4 regulators\*\*", text)
    at.session_state["w_panel"] = "hvg"
    no_exception(at.run())
    text = " ".join(m.value for m in [*at.markdown, *at.caption])
    assert "**2 known edges** from **2 regulators**" in text
    assert any("Expressed regulators + most variable genes" in i.value for i in at.info)  # the way forward


def test_scanpy_object_with_scaled_x_opens_on_its_counts_layer(tmp_path):
    """X scaled by sc.pp.scale, counts in layers['counts']: the home page picks the counts
    layer by itself and runs; choosing X shows the message that names the way out."""
    import scanpy as sc

    from ugrn_core.data.simulate import simulate_demo

    adata = simulate_demo(n_cells=300)[0]
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    sc.pp.scale(adata)
    path = tmp_path / "scaled.h5ad"
    adata.write_h5ad(path)
    at = AppTest.from_file(APP, default_timeout=600)
    at.session_state["w_data_kind"] = "Path on this machine"
    at.session_state["w_data_path"] = str(path)
    at.session_state["w_n_genes"] = 20
    at.session_state["w_methods"] = ["pert"]
    no_exception(at.run())
    chooser = [s for s in at.sidebar.selectbox if s.label == "Expression matrix"][0]
    assert chooser.value == "counts" and chooser.options == ["X", "layer 'counts'"]
    assert any("Raw counts detected" in i.value for i in at.info)
    chooser.set_value("X").run()
    assert not at.exception and any("--layer counts" in e.value for e in at.error)


@pytest.fixture(scope="module")
def saved_result(tmp_path_factory):
    """A result made in a notebook (ug.tl.extract), saved as a folder and inside an .h5ad."""
    import ugrn_core as ug
    from ugrn_core.extract import ExtractionParams

    folder = tmp_path_factory.mktemp("saved")
    adata = ug.datasets.demo()
    grn = ug.tl.extract(adata, n_genes=20, methods=["pert", "vvp"], network="demo", params=ExtractionParams(context="background"),
                        genes=[f"TF{i:02d}" for i in range(1, 16)], progress=False, cache=False)
    grn.save(folder / "grn")
    adata.write_h5ad(folder / "with_result.h5ad")
    return folder, grn


@pytest.mark.parametrize("name", ["grn", "with_result.h5ad"])
def test_a_saved_result_opens_and_every_page_renders_without_extracting(saved_result, name, monkeypatch):
    folder, grn = saved_result
    monkeypatch.setenv("UGRN_CACHE_DIR", str(folder / f"cache_{name}"))  # nothing extracted: this stays empty
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["w_data_kind"] = "Saved result"
    at.session_state["w_result_path"] = str(folder / name)
    no_exception(at.run())
    assert [m for m in at.metric if m.label == "Panel genes"][0].value == str(len(grn.panel))
    assert any("nothing is extracted again" in m.value for m in at.markdown)
    assert not at.sidebar.slider  # no panel settings for a saved result
    for page in ("1_Regulators", "2_Subnetwork", "4_Pathways", "5_Export", "3_Benchmark"):
        goto(at, page)
    assert any("needs a dataset" in i.value for i in goto(at, "7_Compare_groups").info)
    goto(at, "3_Benchmark")
    at.button(key="FormSubmitter:benchmark_form-Train and evaluate").click().run()
    no_exception(at)
    assert any("held-out genes" in s.value for s in at.success)
    assert not list((folder / f"cache_{name}").rglob("*.npz"))


def test_a_path_that_holds_no_result_says_what_would(tmp_path):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["w_data_kind"] = "Saved result"
    at.session_state["w_result_path"] = str(tmp_path)
    no_exception(at.run())
    assert any("holds no saved UGRN result" in e.value for e in at.error)


def test_pretraining_from_the_app_makes_a_model_that_extraction_then_uses(tmp_path, monkeypatch):
    """A dataset the built-in model does not know: pretrain here (tiny budget), see the check, extract."""
    import time

    from test_pretrain_job import unknown_genes_data

    monkeypatch.setenv("UGRN_QUICK_BUDGET_S", "5")
    path = tmp_path / "novel.h5ad"
    unknown_genes_data().write_h5ad(path)
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["w_data_kind"] = "Path on this machine"
    at.session_state["w_data_path"] = str(path)
    no_exception(at.run())
    assert any("known to the model" in e.value for e in at.error)
    button = [b for b in at.button if b.label == "Pretrain a model on this dataset"][0]
    no_exception(button.click().run())
    deadline = time.monotonic() + 240
    while not any("Model ready" in s.value for s in at.success) and time.monotonic() < deadline:
        time.sleep(2)
        no_exception(at.run())
    assert any("Model ready" in s.value for s in at.success)
    assert any("Model check" in c.value and "ridge" in c.value for c in at.caption)
    for _ in range(3):  # the finished job selects its model; the home page then extracts with it
        no_exception(at.run())
        if any("ordered gene pairs" in x.value for x in at.success):
            break
    assert any("ordered gene pairs" in x.value for x in at.success)
    assert [r for r in at.sidebar.radio if r.label == "Model"][0].value == "scGPT checkpoint folder"

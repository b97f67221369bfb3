"""Figures, the offline network HTML (escaped, physics frozen) and the export bundle."""

from __future__ import annotations

import io
import json
import re
import zipfile

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from ugrn_core.data.networks import demo_network, match_network
from ugrn_core.data.preprocess import qc_tables
from ugrn_core.grn import GRN
from ugrn_core.export import export_files, zip_bundle
from ugrn_core.graph import subnetwork
from ugrn_core.pathways import enrichment, regulon_gene_sets
from ugrn_core.pipeline import prepare_data, run_extraction
from ugrn_core.plot import enrichment_figure, network_html, pair_response_figure, qc_figure, rank_agreement_figure, roc_pr_figure


@pytest.fixture(scope="module")
def prepared(default_model):
    return prepare_data("demo", default_model, n_genes=25)


@pytest.fixture(scope="module")
def analysis(default_model, prepared):
    results = run_extraction(prepared, default_model, ["emb", "vvp", "gt"])
    net = match_network(demo_network(), prepared.panel)
    return GRN.from_extraction(default_model, prepared, results, data_label="demo", timings={"vvp": 1.0}).attach(network=net)


def test_network_html_is_offline_escaped_and_freezes_physics():
    evil = "<script>alert('x')</script>"
    edges = pd.DataFrame({"source": ["A", "A", evil], "target": [evil, "B", "B"], "s": [0.9, 0.5, 0.3]})
    sub = subnetwork(edges, ["A"], "s", top_k=5, hops=2, known={("A", "B")})
    page = network_html(sub)
    assert "<script>alert" not in page and "\\u003cscript\\u003ealert" in page
    assert not re.search(r"(src|href)=\"https?://", page)  # vis.js inlined, nothing fetched
    assert "new vis.Network" in page and "physics: false" in page
    assert page.count("stabilizationIterationsDone") >= 1


def test_figures_have_the_expected_traces(analysis, prepared):
    cells, genes = qc_tables(prepared.adata, analysis.panel)
    assert len(cells) == prepared.report.n_cells and genes.in_panel.sum() == len(analysis.panel)
    assert len(qc_figure(cells, genes).data) == 4
    edges = analysis.edges()
    from ugrn_core.graph import rank_agreement

    assert rank_agreement_figure(rank_agreement(edges, ["vvp", "gt", "pearson"])).data[0].z.shape == (3, 3)
    src, tgt = analysis.panel[0], analysis.panel[1]
    fig = pair_response_figure(analysis.response(src, tgt), src, tgt, 0.0)
    assert {t.name for t in fig.data} == {"VVP response", "GT slope", "GT trajectory (integrated slope)"}
    pairs = edges.assign(label=edges.known.astype(int))
    roc = roc_pr_figure(pairs, ["vvp", "pearson"])
    assert [t.name for t in roc.data].count("random") == 2 and len(roc.data) == 6
    reg = analysis.network.regulators[0]
    table = enrichment(edges[edges.source == reg].nlargest(10, "vvp").target.tolist(), analysis.panel, regulon_gene_sets(analysis.network.edges))
    assert len(enrichment_figure(table).data[0].y) == min(15, len(table))


def test_export_bundle_opens_in_other_tools(analysis):
    files = export_files(analysis, "vvp", n_edges=40)
    ranked = pd.read_csv(io.StringIO(files["rankedEdges.csv"]), sep="\t")  # as BEELINE's evaluator reads it
    assert list(ranked.columns) == ["Gene1", "Gene2", "EdgeWeight"] and ranked.EdgeWeight.is_monotonic_decreasing
    n = len(analysis.panel)
    assert len(ranked) == n * (n - 1)
    wide = pd.read_csv(io.StringIO(files["edges_all_methods.csv"]))
    assert {"emb", "vvp", "gt", "pearson", "known"} <= set(wide.columns)
    G = nx.read_graphml(io.BytesIO(files["network.graphml"].encode()))
    assert G.number_of_edges() == 40
    sif = [line.split("\t") for line in files["network.sif"].splitlines()]
    assert len(sif) == 40 and {i for _, i, _ in sif} <= {"activates", "represses", "regulates"}
    # the SIF's interaction is the table's predicted sign; the regulon's weight carries it too
    sign = wide.set_index(["source", "target"]).predicted_sign
    words = {1: "activates", -1: "represses", 0: "regulates"}
    assert all(words[sign[(a, b)]] == i for a, i, b in sif)
    regulon = pd.read_csv(io.StringIO(files["regulon.csv"]))
    assert list(regulon.columns) == ["source", "target", "weight"] and 0 < len(regulon) <= 40
    assert (np.sign(regulon.weight).to_numpy() == [sign[p] for p in zip(regulon.source, regulon.target)]).all()
    manifest = json.loads(files["manifest.json"])
    assert manifest["model"]["digest"] == analysis.model.digest
    assert manifest["packages"]["torch"] and manifest["data"]["panel"] == analysis.panel
    assert manifest["export"] == {"ranked_by": "vvp", "network_edges": 40}
    with zipfile.ZipFile(io.BytesIO(zip_bundle(files))) as zf:
        assert sorted(zf.namelist()) == sorted(files)


def test_spreadsheet_downloads_cannot_start_a_formula():
    import pandas as pd

    from ugrn_core.export import spreadsheet_csv

    df = pd.DataFrame({"source": ["=HYPERLINK(\"http://x\",\"y\")", "+1", "-A", "@SUM(A1)", "\tTAB", "STAT1", "IL-6"],
                       "score": [-0.5, 1.0, -2.0, 0.0, 3.0, 4.0, 5.0]})
    import csv
    import io

    rows = list(csv.reader(io.StringIO(spreadsheet_csv(df))))[1:]
    assert [r[0] for r in rows] == ["'=HYPERLINK(\"http://x\",\"y\")", "'+1", "'-A", "'@SUM(A1)", "'\tTAB", "STAT1", "IL-6"]
    assert [r[1] for r in rows][:3] == ["-0.5", "1.0", "-2.0"]  # numbers untouched
    assert df.source[0].startswith("=")  # the caller's table is not changed


def test_regulator_change_bars_are_log2_fold_changes():
    import numpy as np
    import pandas as pd

    from ugrn_core.plot import regulator_change_figure

    c = pd.DataFrame({"source": ["down", "same", "up"], "total_A": [1.0, 2.0, 0.5], "total_B": [0.125, 2.0, 4.0]})
    c["delta"] = c.total_B - c.total_A
    c["relative"] = c.delta / c.total_A
    bars = regulator_change_figure(c, ("ctrl", "stim")).data[0]
    assert list(bars.y) == ["down", "same", "up"] and np.allclose(bars.x, [-3.0, 0.0, 3.0])  # halvings and doublings alike

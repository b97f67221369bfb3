"""Export: ranked edges (BEELINE), every score, networks for Cytoscape, and the run manifest."""

from __future__ import annotations

import json

import streamlit as st

from ugrn_core.explore import default_score, score_label
from ugrn_core.export import export_files, zip_bundle
from ugrn_ui.nav import ICON
from ugrn_ui.state import page

analysis = page("Export", ICON["pages/5_Export.py"])
cols = analysis.score_columns()
default = default_score(cols)
c1, c2 = st.columns(2)
method = c1.selectbox("Rank edges by", cols, index=cols.index(default), format_func=score_label)
n_edges = c2.slider("Edges in the network files", 50, 5000, 500, step=50)

files = export_files(analysis, method, n_edges)
st.download_button("Download everything (.zip)", zip_bundle(files), "ugrn_export.zip", "application/zip", type="primary")
about = {
    "rankedEdges.csv": "BEELINE layout (tab-separated Gene1, Gene2, EdgeWeight), best first: every ordered pair of the panel.",
    "edges_all_methods.csv": "One row per pair, one column per score, plus known-edge flags: opens in any spreadsheet.",
    "network.graphml": "The top edges with score and known flags (Cytoscape: File > Import > Network from File).",
    "network.sif": "The same edges as Simple Interaction Format, each activates / represses by its predicted sign (regulates: no call).",
    "regulon.csv": "The same edges as a decoupler network (source, target, weight): weight = score x predicted sign; "
                   "edges without a sign call are left out.",
    "manifest.json": "Package versions, model checkpoint hash, data, panel, parameters, seeds and timings.",
}
mime = {"csv": "text/csv", "graphml": "application/xml", "sif": "text/plain", "json": "application/json"}
for name, text in files.items():
    a, b = st.columns([1, 3])
    a.download_button(name, text, name, mime[name.rsplit(".", 1)[1]], key=f"dl_{name}")
    b.caption(about[name])
with st.expander("Run manifest"):
    st.json(json.loads(files["manifest.json"]))

"""Subnetwork: the chosen genes' predicted neighbourhood as an interactive graph."""

from __future__ import annotations

import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.explore import default_score, edge_descriptions, score_label
from ugrn_core.export import spreadsheet_csv
from ugrn_core.graph import subnetwork, to_graphml, to_sif
from ugrn_core.plot import KNOWN_COLOR, NOVEL_COLOR, SEED_COLOR, network_html
from ugrn_ui.nav import ICON
from ugrn_ui.state import page
from ugrn_ui.tables import SCORE_FORMAT, score_help, sign_column_config

MAX_NODES = 300

analysis = page("Subnetwork", ICON["pages/2_Subnetwork.py"])
edges = analysis.edges()
cols = analysis.score_columns()
genes = analysis.regulators_first()
default = default_score(cols)

with st.sidebar:
    method = st.selectbox("Edges scored by", cols, index=cols.index(default), format_func=score_label)
    top_k = st.slider("Top edges per gene (in and out)", 1, 30, 5)
    hops = st.radio("Hops from the chosen genes", [1, 2], horizontal=True)
    pct = st.slider("Minimum score percentile", 0, 99, 0, help="Drop edges scoring below this percentile of all pairs' scores.")

seeds = st.multiselect("Genes to start from" + (" (known regulators first)" if analysis.network is not None else ""), genes, default=genes[:1])
if not seeds:
    st.info("Choose at least one gene.")
    st.stop()
threshold = float(edges[method].quantile(pct / 100)) if pct else None
try:
    sub = subnetwork(edges, seeds, method, top_k=top_k, hops=hops, threshold=threshold, max_nodes=MAX_NODES, known=analysis.known_pairs)
except UGRNError as exc:
    st.error(str(exc))
    st.stop()

n_known = sum(d["known"] for _, _, d in sub.graph.edges(data=True))
c1, c2, c3 = st.columns(3)
c1.metric("Genes", sub.n_nodes)
c2.metric("Edges", sub.graph.number_of_edges())
c3.metric("Known edges among them", n_known if analysis.network is not None else "—")
if sub.capped:
    st.warning(f"The neighbourhood is larger than {MAX_NODES} genes; only the first {MAX_NODES} are drawn. "
               "Lower the edges per gene, use one hop, or raise the score percentile.")
st.markdown(
    f"<span style='color:{SEED_COLOR}'>●</span> chosen gene &nbsp; "
    f"<span style='color:{KNOWN_COLOR}'>━</span> edge in the reference network &nbsp; "
    f"<span style='color:{NOVEL_COLOR}'>━</span> predicted only &nbsp; · → predicted activation, "
    "⊣ (dashed) predicted repression, ∘ no sign call (VVP and GT disagree) · width = score rank, node size = degree; "
    "drag nodes, scroll to zoom, hover for scores and known signs.", unsafe_allow_html=True)
titles = edge_descriptions(edges, list(sub.graph.edges()))
page = network_html(sub, height_px=620, edge_titles=titles)  # our own HTML, gene names escaped
if hasattr(st, "iframe"):
    st.iframe(page, height=640)
else:  # Streamlit < 1.52
    import streamlit.components.v1 as components

    components.html(page, height=640)

table = sub.edges_frame().sort_values("score", ascending=False)
with st.expander(f"Edges of this subnetwork ({len(table)})"):
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "score": st.column_config.NumberColumn(score_label(method), format=SCORE_FORMAT, help=score_help(method) or None),
        **sign_column_config(known="known_sign")})
d1, d2, d3 = st.columns(3)
d1.download_button("GraphML (Cytoscape)", to_graphml(sub.graph), "subnetwork.graphml", "application/xml")
d2.download_button("SIF (Cytoscape)", to_sif(sub.graph), "subnetwork.sif", "text/plain")
d3.download_button("Edges (CSV)", spreadsheet_csv(table), "subnetwork_edges.csv", "text/csv")

"""UGRN Explorer — Streamlit app (first cut: demo data, built-in model, ranked targets).

Run: streamlit run app.py. All computation lives in ugrn_core; this file only lays out
widgets and calls it.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.extract import METHOD_LABELS, SCORE_HELP, FeatureCache
from ugrn_core.models.foundation import load_model
from ugrn_core.pipeline import edges_table, prepare_data, run_extraction

st.set_page_config(page_title="UGRN Explorer", layout="wide")


@st.cache_resource(show_spinner="Loading model…")
def get_model(spec: str):
    return load_model(spec)


@st.cache_resource(show_spinner="Preparing data…")
def get_prepared(data: str, model_spec: str, n_genes: int):
    return prepare_data(data, get_model(model_spec), n_genes=n_genes)


st.title("UGRN Explorer")
st.caption("Gene regulatory networks read out of a frozen single-cell foundation model.")

with st.sidebar:
    data = st.text_input("Dataset (.h5ad path or 'demo')", "demo")
    model_spec = st.text_input("Model (scGPT checkpoint folder or 'default')", "default")
    n_genes = st.slider("Gene panel size", 20, 300, 100, step=10)
    methods = st.multiselect("Methods", list(METHOD_LABELS), default=list(METHOD_LABELS),
                             format_func=lambda m: METHOD_LABELS[m])

try:
    model = get_model(model_spec)
    prepared = get_prepared(data, model_spec, n_genes)
except UGRNError as exc:
    st.error(str(exc))
    st.stop()

c1, c2, c3 = st.columns(3)
c1.metric("Cells", prepared.report.n_cells)
c2.metric("Panel genes", len(prepared.panel))
c3.metric("Vocabulary coverage", f"{prepared.mapping.coverage:.0%}")
st.write(prepared.report.summary(), " ", prepared.mapping.summary())

if not methods:
    st.info("Choose at least one method in the sidebar.")
    st.stop()

bar = st.progress(0.0, text="Extracting gene-pair features…")


def progress(method: str, done: int, total: int) -> None:
    bar.progress(min(done / max(total, 1), 1.0), text=f"{METHOD_LABELS[method]}: {done}/{total} virtual cells")


results = run_extraction(prepared, model, methods, cache=FeatureCache(), progress=progress)
bar.empty()
edges = edges_table(results)
truth = prepared.adata.uns.get("true_network")
if isinstance(truth, pd.DataFrame):
    known = set(zip(truth.source, truth.target))
    edges["known"] = [(s, t) in known for s, t in zip(edges.source, edges.target)]

# Known regulators first: a target gene as the default source shows nothing worth seeing.
in_panel = set(prepared.panel)
regulators = [g for g in dict.fromkeys(truth.source) if g in in_panel] if isinstance(truth, pd.DataFrame) else []
first = set(regulators)
source = st.selectbox("Source gene (known regulators listed first)", regulators + [g for g in prepared.panel if g not in first])
rank_by = st.radio("Rank targets by", methods, horizontal=True, format_func=lambda m: METHOD_LABELS[m])
st.caption("Scores are untrained: " + "; ".join(f"**{m}** {SCORE_HELP[m]}" for m in methods))
table = edges[edges.source == source].sort_values(rank_by, ascending=False).reset_index(drop=True)
st.dataframe(table, use_container_width=True, height=420)
st.download_button("Download all edges (CSV)", edges.to_csv(index=False), "ugrn_edges.csv", "text/csv")

"""UGRN Explorer — home: choose data, model, reference network and gene panel; run extraction.

Run: ``streamlit run app.py``. All computation lives in ``ugrn_core``; this page lays out
widgets and calls it. The other pages (Regulators, Subnetwork, Benchmark, Pathways, Export)
browse the analysis made here.
"""

from __future__ import annotations

import os
import re

import streamlit as st

from ugrn_core.data.io import SUBSAMPLE_NOTE
from ugrn_core.data.networks import match_network
from ugrn_core.data.regulators import PANEL_LABELS, PANEL_MODES
from ugrn_core.data.preprocess import qc_tables
from ugrn_core.errors import UGRNError
from ugrn_core.extract import METHOD_LABELS, METHODS, SCORE_HELP, ExtractionParams
from ugrn_core.extract.cost import format_seconds
from ugrn_core.grn import holds_result
from ugrn_core.models.pretrain import format_metrics, learned_little, read_metrics, what_vvp_gt_read
from ugrn_core.plot import qc_figure
from ugrn_ui.state import (
    cached_cost, cached_matrices, cached_network, cached_prepared, current_analysis, load_prepared, settings, show_problem,
    update_settings,
)
from ugrn_ui.nav import APP_ICON, ICON, sidebar_nav
from ugrn_ui.paths import path_input, saved_upload, stop_on_bad_setup
from ugrn_ui.pretrain import apply_pending_model, pretrain_panel
from ugrn_ui.tables import score_column_config

st.set_page_config(page_title="UGRN Explorer", page_icon=APP_ICON, layout="wide")
sidebar_nav()
stop_on_bad_setup()

DATA_KINDS = ("Demo", "Upload a file", "Path on this machine", "Saved result")
OPENED = os.environ.get("UGRN_OPEN") or None  # `ugrn app PATH` opens PATH
OPENED_KIND = DATA_KINDS[0] if not OPENED else DATA_KINDS[3] if holds_result(OPENED) else DATA_KINDS[2]
MODEL_KINDS = ("Built-in default", "scGPT checkpoint folder")
NETWORK_KINDS = ("Automatic (the demo's truth; a saved result's own)", "None", "Upload a file", "Path on this machine")
N_CELLS = ExtractionParams().n_cells
LOW_EDGES, LOW_REGULATORS = 20, 3  # below these a reference network says little about a panel
CONTEXT_LABELS = {
    "cells": f"Real cells ({N_CELLS} cells of this dataset)",
    "background": f"One background value (the paper's design, ~{N_CELLS}x faster)",
}
CONTEXT_HELP = (f"What the genes other than the source hold in a VVP/GT virtual cell. **Real cells**: the values "
                f"of {N_CELLS} fixed cells of this dataset, the model's outputs averaged over them; on the demo this "
                "reads regulation clearly better (bench/results/recipes.md). **Background**: every other gene at one "
                f"typical value, as in the UGRN paper; {N_CELLS}x cheaper. The command line offers two more (masked, partition).")

SCALE_LABELS = {
    "output_sd": "In each target's own units (divided by the model's spread of that target)",
    "data_sd": "In each target's own units (divided by its spread in the data)",
    "none": "Raw model output units",
}
SCALE_HELP = ("A raw response is in the model's output units, so highly expressed targets move most and top every "
              "list whatever regulates them. Dividing each target's response by its spread makes scores compare "
              "across targets (bench/results/target_scale.md measures both). Embedding scores are never scaled.")


def bound(widget, label: str, key: str, default, **kwargs):
    """``widget(label, ...)`` whose value survives page changes: Streamlit drops the state of
    widgets a page does not draw, so the value is saved beside it and restored on return."""
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get("_saved_" + key, default)
    value = widget(label, key=key, **kwargs)
    st.session_state["_saved_" + key] = value
    return value


def _text(default: str):
    """The free path box of :func:`path_input`, its value kept across pages."""
    return lambda label, key: bound(st.text_input, label, key, default)


def data_controls() -> bool:
    """The dataset (or saved result) to open; True when a saved result is open."""
    kind = bound(st.radio, "Dataset", "w_data_kind", OPENED_KIND, options=DATA_KINDS,
                 help="**Saved result**: a folder written by `ugrn extract` or `GRN.save`, or an .h5ad on which "
                      "`ug.tl.extract` stored its result; every page opens it without extracting again.")
    if kind == DATA_KINDS[3]:
        return result_controls()
    update_settings(result="")
    if kind == "Demo":
        update_settings(data="demo", data_label="demo (simulated, 300 genes, known network)")
    elif kind == "Upload a file":
        up = st.file_uploader("Expression: .h5ad, or genes x cells .csv/.tsv (BEELINE)", type=["h5ad", "csv", "tsv", "txt", "gz"])
        path = saved_upload(up)
        if path:
            update_settings(data=path, data_label=up.name)
    else:
        path = path_input("Path to .h5ad, ExpressionData.csv or a BEELINE folder", "w_data_path", "dataset",
                          _text(OPENED or ""))
        if path:
            update_settings(data=path, data_label=path)
    matrix_control()
    return False


def result_controls() -> bool:
    up = st.file_uploader("A saved result: .h5ad with a stored UGRN result", type=["h5ad"], key="w_result_upload")
    path = path_input("…or its path: a result folder, or an .h5ad", "w_result_path", "result",
                      _text(OPENED if OPENED_KIND == DATA_KINDS[3] else ""))
    if up is not None:
        path = saved_upload(up) or ""
    if not path.strip():
        update_settings(result="")
        return True
    if not holds_result(path.strip()):
        st.error(f"{path.strip()} holds no saved UGRN result: give the folder `ugrn extract --out` wrote (it has a "
                 "grn/ folder inside), a folder GRN.save wrote, or an .h5ad after ug.tl.extract and write_h5ad.")
        update_settings(result="")
        return True
    update_settings(result=path.strip())
    return True


def matrix_control() -> None:
    """*Expression matrix*, shown when the file has more than X: defaults to the counts layer
    when X looks scaled, so a typical scanpy object opens as it is."""
    choices, suggested = cached_matrices(settings().data)
    if len(choices) < 2:
        update_settings(matrix="X")
        return
    key = f"w_matrix::{settings().data}"  # a new file starts from its own suggestion
    matrix = bound(st.selectbox, "Expression matrix", key, suggested, options=choices,
                   format_func=lambda c: {"X": "X", "raw": "raw (adata.raw)"}.get(c, f"layer '{c}'"),
                   help="Where the expression is: raw counts or log-normalised values. Scaled values (negative "
                        "numbers, as sc.pp.scale leaves X) cannot be used; pick the counts layer or raw.")
    update_settings(matrix=matrix)
    if matrix != "X" and suggested != "X":
        st.caption("X looks scaled (many negative values), so the expression is read from "
                   f"{'adata.raw' if matrix == 'raw' else f'the {matrix!r} layer'}.")


def model_controls() -> None:
    kind = bound(st.radio, "Model", "w_model_kind", MODEL_KINDS[0], options=MODEL_KINDS)
    if kind == MODEL_KINDS[0]:
        update_settings(model="default")
    else:
        folder = path_input("Checkpoint folder (args.json, vocab.json, best_model.pt)", "w_model_path", "model", _text(""))
        if folder:
            update_settings(model=folder)


def network_controls() -> None:
    kind = bound(st.radio, "Reference network (known regulations)", "w_net_kind", NETWORK_KINDS[0], options=NETWORK_KINDS)
    if kind == NETWORK_KINDS[0]:
        update_settings(network="auto")
    elif kind == "None":
        update_settings(network="none")
    elif kind == "Upload a file":
        up = st.file_uploader("source,target[,sign] CSV/TSV, or TRRUST", type=["csv", "tsv", "txt", "gz"], key="w_net_upload")
        path = saved_upload(up)
        if path:
            update_settings(network=path)
    else:
        path = path_input("Network file or BEELINE folder", "w_net_path", "network", _text(""))
        if path:
            update_settings(network=path)


def panel_controls() -> None:
    mode = bound(st.radio, "Gene panel", "w_panel", settings().panel, options=list(PANEL_MODES), format_func=PANEL_LABELS.get,
                 help="Expressed regulators: the transcription factors of a published census (Lambert 2018 for human, "
                      "MGI for mouse) detected in enough cells, on top of the most variable genes, so a reference network "
                      "has regulators to speak about (BEELINE's TFs+N panels).")
    add_net = bound(st.checkbox, "Also add the reference network's regulators", "w_net_regs", False,
                    disabled=mode == "hvg", help="Sources of the chosen reference network that are expressed here.")
    n = bound(st.slider, "Most variable genes", "w_n_genes", settings().n_genes, min_value=20, max_value=500,
              step=10, help="Every ordered pair of panel genes is scored. Cost grows with the square of the panel size.")
    keep_text = bound(st.text_input, "Always include these genes (comma or space separated)", "w_keep", "")
    methods = bound(st.multiselect, "Methods", "w_methods", list(METHODS), options=list(METHODS), format_func=lambda m: METHOD_LABELS[m])
    context = bound(st.radio, "Virtual cells (VVP and GT)", "w_context", settings().context, options=list(CONTEXT_LABELS),
                    format_func=CONTEXT_LABELS.get, help=CONTEXT_HELP)
    scale = bound(st.radio, "Pert, VVP and GT scores", "w_scale", settings().scale, options=list(SCALE_LABELS),
                  format_func=SCALE_LABELS.get, help=SCALE_HELP)
    draws = bound(st.number_input, "Cell draws (real-cell context)", "w_draws", settings().n_cell_samples, min_value=1,
                  max_value=5, step=1, disabled=context != "cells",
                  help=f"Draw the {N_CELLS} real cells this many times (different seeds): scores average over the "
                       "draws and each VVP/GT edge shows its spread between them — how much it moves with the cells "
                       "drawn. Costs that many times the extraction.")
    keep = tuple(g for g in re.split(r"[,\s]+", keep_text) if g)
    update_settings(n_genes=int(n), keep=keep, methods=tuple(m for m in METHODS if m in methods) or ("vvp",), context=context,
                    scale=scale, n_cell_samples=int(draws) if context == "cells" else 1, panel=mode,
                    network_regulators=bool(add_net))


ALL_CELLS = ("", "")  # (groupby, group): no grouping


def cells_controls() -> None:
    """Whose network: all cells, or one group of a cell annotation (its virtual cells and mean cell)."""
    from ugrn_core.groups import group_columns

    s = settings()
    try:
        obs = cached_prepared(*s.panel_key).adata.obs
    except UGRNError:
        return  # the page body says what is wrong with the data
    columns = group_columns(obs)
    options = [ALL_CELLS] + [(col, g) for col, counts in columns.items() for g in counts.index]
    labels = {(col, g): f"{col} = {g} ({n:,} cells)" for col, counts in columns.items() for g, n in counts.items()}
    current = (s.groupby, s.group)
    choice = bound(st.selectbox, "Network of", "w_cells", current if current in options else ALL_CELLS, options=options,
                   format_func=lambda o: labels.get(o, "All cells"),
                   help="One group's cells (a condition, a cell type): VVP/GT's real cells are drawn from them and Pert "
                        "zeroes sources in their mean cell. The gene panel stays the dataset's. The *Compare groups* "
                        "page sets two groups side by side.")
    if choice not in options:
        choice = ALL_CELLS  # a value kept from another dataset
    update_settings(groupby=choice[0], group=choice[1])


def panel_check(prepared) -> None:
    """Before any extraction: how many regulators and reference edges the panel holds, and a
    way forward when a network would have little to say about it."""
    s = settings()
    spec = s.network_spec()
    st.markdown(f"**Gene panel** — {prepared.panel_summary()}.")
    if spec is None:
        return
    try:
        match = match_network(cached_network(spec), prepared.panel, what="the gene panel")
    except UGRNError as exc:
        st.warning(f"Reference network: {exc}")
        return
    regs = len(match.regulators)
    n_edges = len(match.edges)
    st.caption(f"Reference network on this panel: **{n_edges:,} known edges** from **{regs} regulators** ({match.summary()}).")
    if n_edges < LOW_EDGES or regs < LOW_REGULATORS:
        tips = []
        if s.panel == "hvg":
            tips.append("choose *Expressed regulators + most variable genes*")
        elif not s.network_regulators:
            tips.append("tick *Also add the reference network's regulators*")
        tips.append("raise *Most variable genes*")
        st.info(f"Few known regulations to check or learn from (under {LOW_EDGES} edges or {LOW_REGULATORS} regulators): "
                + ", or ".join(tips) + ".")


def next_links() -> None:
    st.markdown("**Next:**")
    links = (("pages/1_Regulators.py", "Ranked regulators"), ("pages/2_Subnetwork.py", "Subnetwork graph"),
             ("pages/3_Benchmark.py", "Benchmark & translator"), ("pages/4_Pathways.py", "Pathway check"),
             ("pages/5_Export.py", "Export"))
    for column, (script, label) in zip(st.columns(len(links)), links):
        column.page_link(script, label=label, icon=ICON[script])


def strongest_edges(analysis) -> None:
    edges = analysis.edges()
    by = analysis.default_score()
    st.markdown(f"**Strongest edges overall** (by {by}" + ("; train a translator on the Benchmark page for calibrated "
                                                           "probabilities)" if by == "vvp" else ")"))
    st.dataframe(edges.sort_values(by, ascending=False).head(15), hide_index=True, width="stretch",
                 column_config=score_column_config(analysis.score_columns()))
    st.caption(" · ".join(f"**{m}**: {SCORE_HELP[m]}" for m in analysis.features if m in SCORE_HELP)
               + f" · Pert, VVP and GT responses in {analysis.response_units()}.")


def saved_result_home() -> None:
    """The home page for a saved result: what it holds, then the pages that browse it."""
    analysis = current_analysis(home=True)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Panel genes", len(analysis.panel))
    c2.metric("Methods", len(analysis.features))
    c3.metric("Known edges", len(analysis.network.edges) if analysis.network is not None else "—")
    c4.metric("Translator", "out of fold" if analysis.crossfit is not None else "loaded" if analysis.translators else "—")
    st.markdown(f"**{analysis.data_label}**, read by **{analysis.model_name}** — opened from `{settings().result}`; "
                "nothing is extracted again.")
    if analysis.data_info.get("panel"):
        st.caption(f"Gene panel: {analysis.data_info['panel']}. {analysis.data_info.get('vocabulary', '')}")
    if analysis.network is not None:
        st.caption(f"Reference network: {analysis.network.summary()}")
    next_links()
    strongest_edges(analysis)


apply_pending_model()  # a model pretrained here, selected before the sidebar's widgets are drawn
with st.sidebar:
    st.header("Settings")
    opened_result = data_controls()
    if not opened_result:
        model_controls()
    network_controls()
    if not opened_result:
        panel_controls()
        cells_controls()

st.title("UGRN Explorer")
st.caption("Gene regulatory networks read out of a frozen single-cell foundation model "
           "(Virtual Value Perturbation and Gradient Trajectory features, UGRN 2026).")

s = settings()
if opened_result:
    if not s.result:
        st.info("Choose a saved result in the sidebar: upload an .h5ad that holds one, or give a result folder's path.")
        st.stop()
    saved_result_home()
    st.stop()
model, prepared = load_prepared(home=True)
cells, genes = qc_tables(prepared.adata, prepared.panel)
c1, c2, c3, c4 = st.columns(4)
if prepared.group:
    c1.metric(f"Cells ({prepared.group['groupby']} = {prepared.group['group']})", f"{prepared.group['n_cells']:,}")
else:
    c1.metric("Cells", f"{prepared.report.n_cells:,}")
c2.metric("Genes", f"{prepared.report.n_genes:,}")
c3.metric("Known to the model", f"{prepared.mapping.coverage:.0%}")
c4.metric("Panel genes", len(prepared.panel))
st.markdown(f"**{s.data_label}** — {prepared.report.summary()}")
for note in [prepared.adata.uns.get(SUBSAMPLE_NOTE), *prepared.mapping.notes()]:
    if note:
        st.warning(note)
if prepared.report.normalized:
    st.info("Raw counts detected: normalised to 10,000 per cell and log1p-transformed before use.")

with st.expander("Quality control", expanded=False):
    st.plotly_chart(qc_figure(cells, genes), width="stretch")
with st.expander(f"Vocabulary coverage — {prepared.mapping.summary()}"):
    dropped = prepared.mapping.dropped
    if model.choice:
        st.caption(model.choice[0].upper() + model.choice[1:] + ".")
    st.write(f"{len(dropped)} gene(s) are unknown to **{model.name}** and were dropped" + (":" if dropped else "."))
    if dropped:
        st.code(", ".join(dropped[:2000]) + (" …" if len(dropped) > 2000 else ""), language=None)
panel_check(prepared)
with st.expander("Gene panel"):
    st.caption(f"Regulators: {', '.join(prepared.regulators) or 'none'}")
    st.code(", ".join(prepared.panel), language=None)
metrics = read_metrics(model.path)
if metrics:
    st.caption(f"**Model check** — {format_metrics(metrics)}")
    if learned_little(metrics):
        st.warning("This model predicts held-out masked values no better than a ridge regression on the same "
                   f"genes: {what_vvp_gt_read(metrics)}. Compare with |Pearson r| on the "
                   "Regulators page, train longer (`pretrain --epochs`), or load a larger scGPT checkpoint.")
with st.expander("Model"):
    st.json(model.describe())
if s.data != "demo":
    with st.expander("Pretrain a model on this dataset"):
        pretrain_panel()

st.subheader("Extraction")
try:
    estimate = cached_cost(*s.cost_key)
except UGRNError as exc:
    show_problem(exc)
    st.stop()
est = estimate.table.assign(method=estimate.table.method.map(METHOD_LABELS), seconds=estimate.table.seconds.map(format_seconds))
st.caption(f"Cost: {estimate.summary()} (timed on a few sources of this panel).")
st.dataframe(est, hide_index=True, width="content")

analysis = current_analysis(home=True)
took = sum(analysis.timings.values())
st.success(f"Features ready for {len(analysis.panel) ** 2 - len(analysis.panel):,} ordered gene pairs"
           + (f" from the {s.groupby} = {s.group} cells" if s.groupby else "")
           + (f" (computed or read from the cache in {format_seconds(took)})." if took else "."))
if analysis.network is not None:
    st.caption(f"Reference network: {analysis.network.summary()}")

next_links()
strongest_edges(analysis)

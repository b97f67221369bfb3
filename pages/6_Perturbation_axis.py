"""Perturbation axis: rank genes by how a VAE decoder's gradients align with control -> condition,
follow in-silico perturbations through the latent space, and check pathways (Genes 2025)."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pandas as pd
import streamlit as st

from ugrn_core.axis import VAEConfig, axis_scores
from ugrn_core.axis.run import cached_vae, condition_columns, load_axis_data
from ugrn_core.axis.scores import flow_effects, gradient_field, label_flow, latent_view, perturbation_flow
from ugrn_core.data.io import read_dataset
from ugrn_core.data.matrix import matrix_arguments, use_matrix
from ugrn_core.data.preprocess import preprocess
from ugrn_core.errors import UGRNError
from ugrn_core.export import spreadsheet_csv
from ugrn_core.extract.cost import eta_seconds, format_seconds
from ugrn_core.pathways import enrichment, gene_set_coverage
from ugrn_core.plot import axis_scores_figure, enrichment_figure, flow_effects_figure, flow_map_figure
from ugrn_ui.nav import ICON
from ugrn_ui.state import axis_store, cached_network, choose_gene_sets, page_shell, settings, show_problem

AUTO_FIT_WORK = 4e8  # cells x genes x epochs that fit in about a minute on a laptop CPU: start by itself

page_shell("Perturbation axis", ICON["pages/6_Perturbation_axis.py"])
s = settings()
st.caption(
    "A negative-binomial VAE learns this dataset; its decoder maps latent points to expression. "
    "Each gene's gradient in latent space says which way it rises. Genes whose gradients point along the "
    "observed axis (mean latent of *from* cells → mean of *to* cells) are the ones the model ties to the "
    "condition: the **gradient score** s is the mean cosine between the two, from −1 (falls along the axis) "
    "to +1 (rises). The **baseline** compares decoded means at the two groups' median latents."
)


@st.cache_resource(show_spinner="Reading and normalising the dataset…", max_entries=2)
def normalised(data: str, matrix: str = "X"):
    """The expression matrix chosen on the home page (counts layer, raw or X), normalised."""
    chosen = use_matrix(read_dataset(data), *matrix_arguments(matrix))
    return preprocess(chosen)[0]


@st.cache_resource(show_spinner="Choosing the most variable genes…", max_entries=4)
def axis_data(data: str, n_genes: int, matrix: str = "X"):
    return load_axis_data(normalised(data, matrix), n_genes, preprocessed=True)


try:
    n_max = normalised(s.data, s.matrix).n_vars
    with st.sidebar:
        st.markdown(f"**Data:** {s.data_label}")
        st.markdown("**VAE settings**")
        n_genes = (st.slider("Genes modelled (most variable)", 50, n_max, min(2000, n_max), step=10, key="ax_genes")
                   if n_max > 60 else n_max)
        n_latent = st.slider("Latent dimensions", 2, 30, 10, key="ax_latent")
        epochs = st.number_input("Maximum epochs (early stopping on held-out loss)", 5, 1000, 200, step=10, key="ax_epochs")
        seed = st.number_input("Seed", 0, 10_000, 0, key="ax_seed")
        head = st.checkbox("Also learn P(condition | z) (a label head whose gradient can be followed)", True, key="ax_head")
    data = axis_data(s.data, n_genes, s.matrix)
except UGRNError as exc:
    show_problem(exc)
    st.stop()

columns = condition_columns(data.obs)
if not columns:
    st.warning("No column of the cell metadata (`obs`) has 2–50 groups; the axis needs one, e.g. "
               "`condition` with `control` and `treated`. Add it to the .h5ad and load the file again.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
cols = list(columns)
groupby = c1.selectbox("Groups from column", cols, index=cols.index("condition") if "condition" in cols else 0, key="ax_by")
values = columns[groupby]
src_default = values.index("control") if "control" in values else 0
source = c2.selectbox("From (control)", values, index=src_default, key="ax_from")
rest = [v for v in values if v != source]
target = c3.selectbox("To (condition)", rest, index=rest.index("perturbed") if "perturbed" in rest else 0, key="ax_to")
points = c4.selectbox("Read gradients at", ["all", source, target],
                      format_func=lambda p: "all cells" if p == "all" else f"{p} cells", key="ax_points")

config = replace(VAEConfig(), n_latent=int(n_latent), epochs=int(epochs), seed=int(seed))
label = data.label(groupby, source, target) if head else None
label_name = f"{groupby}={target}" if head else None
vae_key = (s.data, s.matrix, n_genes, str(config), groupby if head else None, source if head else None, target if head else None)
store = axis_store()
vae = store.get(vae_key) or cached_vae(data.counts, data.genes, config, label, label_name, fit=False)
if vae is None:
    work = data.counts.shape[0] * data.counts.shape[1] * config.epochs
    note = st.empty()
    note.info(f"The VAE is fitted once per dataset and settings ({data.counts.shape[0]:,} cells × "
              f"{data.counts.shape[1]:,} genes, up to {config.epochs} epochs) and cached on disk.")
    if work > AUTO_FIT_WORK and not st.button("Fit the VAE", type="primary"):
        st.stop()
    bar = st.progress(0.0, text="Fitting the VAE…")
    t0 = time.perf_counter()

    def progress(epoch: int, total: int, h: dict) -> None:
        eta = eta_seconds(time.perf_counter() - t0, epoch / total)
        left = f" · at most {format_seconds(eta)} left" if eta is not None else ""
        bar.progress(epoch / total, text=f"Epoch {epoch}/{total} · held-out loss {h['val_loss']:.1f}{left}")

    vae = cached_vae(data.counts, data.genes, config, label, label_name, progress=progress)
    bar.empty()
    note.empty()
store[vae_key] = vae

with st.expander(f"VAE: {len(vae.genes):,} genes, {config.n_latent} latent dimensions, "
                 f"{len(vae.history) or '?'} epochs run" + (f", label head for {label_name}" if head else "")):
    if vae.history:
        st.line_chart(pd.DataFrame(vae.history).set_index("epoch")[["val_loss", "val_nll"]], height=220)
        st.caption("Held-out loss per epoch (negative ELBO and its reconstruction part); the best epoch's weights are kept.")
    else:
        st.caption("Loaded from the disk cache.")

score_key = (vae_key, groupby, source, target, points)  # Jacobians over every cell: not on each widget change
# computed once when several sessions ask for the same scores at the same time
result = store.get_or_compute(score_key, lambda: axis_scores(vae, data.counts, data.groups(groupby), source, target, points))
table = result.scores
view = latent_view(result.latent)

tab_rank, tab_flow, tab_path = st.tabs(["Gene ranking", "Flow map", "Pathways"])

with tab_rank:
    top = table.iloc[0]
    rho = result.agreement()
    m1, m2, m3, m4 = st.columns(4)
    n_from, n_to = result.group_sizes(source, target)
    m1.metric("Cells", f"{n_from:,} → {n_to:,}")
    m2.metric("Axis length (latent units)", f"{np.linalg.norm(result.axis):.2f}")
    m3.metric("Strongest gene", f"{top.gene} ({top.score:+.2f})")
    m4.metric("Spearman ρ, score vs baseline", f"{rho:.2f}")
    left, right = st.columns([2, 3])
    shown = table.assign(baseline_rank=table.baseline.abs().rank(ascending=False, method="min").astype(int))
    left.dataframe(shown, hide_index=True, width="stretch", height=420,
                   column_config={"score": st.column_config.NumberColumn("gradient score", format="%.3f"),
                                  "baseline": st.column_config.NumberColumn(format="%.3f"),
                                  "baseline_rank": st.column_config.NumberColumn("rank by |baseline|")})
    right.plotly_chart(axis_scores_figure(table), width="stretch")
    st.download_button("Download gene scores (CSV)", spreadsheet_csv(table),
                       f"gene_scores_{source}_to_{target}.csv", "text/csv")
    st.caption("Sorted by |score|; positive genes rise from "
               f"**{source}** to **{target}**, negative ones fall. The same table comes from "
               f"`python -m ugrn_core axis --data … --groupby {groupby} --from {source} --to {target} --out DIR`.")

with tab_flow:
    f1, f2, f3 = st.columns([3, 2, 2])
    follow_options = ["genes"] + (["label"] if head else [])
    follow = f1.radio("Follow the gradient of", follow_options, horizontal=True, key="ax_follow",
                      format_func=lambda f: "gene(s)" if f == "genes" else f"P({target} | z) (label head)")
    if follow == "genes":
        followed = f1.multiselect("Genes (several: their summed log expression)", table.gene.tolist(),
                                  default=[table.gene.iloc[0]], key="ax_followed")
        if not followed:
            st.info("Choose at least one gene to follow.")
            st.stop()
        direction = f2.radio("Direction", ["knock down", "raise"], horizontal=True, key="ax_dir")
    else:
        followed = None
        direction = f2.radio("Direction", [f"towards {target}", f"towards {source}"], horizontal=True, key="ax_dir_label")
    step = f2.slider("Step size δ", 0.05, 2.0, 0.5, step=0.05, key="ax_step")
    n_steps = f3.slider("Steps", 1, 100, 20, key="ax_steps")
    start_group = f3.selectbox("Start from cells of", [source, target, "all"], key="ax_start")
    n_cells = f3.slider("Cells to follow", 1, 100, 20, key="ax_cells")

    sign = -1.0 if direction in ("knock down", f"towards {source}") else 1.0
    Z0 = result.start_cells(start_group, n_cells)
    try:
        if followed is None:
            path = label_flow(vae, Z0, sign * step, n_steps)
        else:
            path = perturbation_flow(vae, Z0, followed, sign * step, n_steps)
        field = gradient_field(vae, view, followed, Z=result.latent)
    except UGRNError as exc:
        st.error(str(exc))
        st.stop()
    P = np.stack([view.project(p) for p in path])
    means = {g: view.project(z) for g, z in result.group_means((source, target)).items()}
    what = "P(" + target + ")" if followed is None else " + ".join(followed)
    st.plotly_chart(flow_map_figure(field, view.project(result.latent), result.groups, means, P, view.explained),
                    width="stretch")
    st.caption(f"Grey streamlines: the direction in which **{what}** rises, seen in the latent space's first two "
               "principal axes (gradients read on that plane). Red: the flows of the chosen cells, ○ start, × end.")
    effects = flow_effects(vae, path)
    e1, e2 = st.columns([2, 3])
    e1.dataframe(effects.head(50), hide_index=True, width="stretch", height=420,
                 column_config={"start": st.column_config.NumberColumn("start (per 10k)", format="%.2f"),
                                "end": st.column_config.NumberColumn("end (per 10k)", format="%.2f"),
                                "log2fc": st.column_config.NumberColumn(format="%.2f")})
    e2.plotly_chart(flow_effects_figure(effects), width="stretch")
    if head:
        p0, p1 = vae.label_probability(path[0]).mean(), vae.label_probability(path[-1]).mean()
        st.caption(f"The label head puts these cells at P({target}) = {p0:.2f} at the start and {p1:.2f} at the end.")
    st.download_button("Download decoded changes (CSV)", spreadsheet_csv(effects), "flow_effects.csv", "text/csv")

with tab_path:
    spec = s.network_spec()
    network = None
    if spec is not None:
        try:
            network = cached_network(spec)
        except UGRNError as exc:
            st.warning(f"Reference network not used: {exc}")
    gene_sets = choose_gene_sets(network, key="ax_gmt")
    st.caption(gene_set_coverage(gene_sets, vae.genes))
    top_n = st.slider("Top genes to test (by |score| and by |baseline|)", 10, max(10, len(vae.genes) // 2),
                      min(200, max(10, len(vae.genes) // 2)), key="ax_topn")
    by_gradient, by_baseline = result.top_genes(top_n, "score"), result.top_genes(top_n, "baseline")
    shared = len(set(by_gradient) & set(by_baseline))
    st.markdown(f"Hypergeometric test of each list within the {len(vae.genes):,} modelled genes, Benjamini-Hochberg "
                f"FDR. The two lists share {shared} of {top_n} genes.")
    left, right = st.columns(2)
    for col, name, genes in ((left, "Gradient score", by_gradient), (right, "Baseline", by_baseline)):
        col.subheader(name)
        try:
            ora = enrichment(genes, vae.genes, gene_sets)
        except UGRNError as exc:
            col.error(str(exc))
            continue
        if ora.empty:
            col.warning("No gene set has at least 3 modelled genes.")
            continue
        col.dataframe(ora, hide_index=True, width="stretch", height=300,
                      column_config={"p_value": st.column_config.NumberColumn(format="%.2e"),
                                     "fdr": st.column_config.NumberColumn(format="%.2e"),
                                     "expected": st.column_config.NumberColumn(format="%.2f"),
                                     "fold": st.column_config.NumberColumn(format="%.1f")})
        col.plotly_chart(enrichment_figure(ora, top=10), width="stretch", key=f"ora_{name}")

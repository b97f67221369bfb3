"""Regulators: ranked targets of chosen sources, the reverse view, method agreement, pair curves."""

from __future__ import annotations

import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.evaluate import per_source_metrics
from ugrn_core.explore import default_score, ranked_regulators, ranked_targets, score_label
from ugrn_core.export import spreadsheet_csv
from ugrn_core.graph import rank_agreement
from ugrn_core.plot import pair_response_figure, rank_agreement_figure
from ugrn_ui.nav import ICON
from ugrn_ui.state import page
from ugrn_ui.tables import score_column_config

analysis = page("Regulators", ICON["pages/1_Regulators.py"])
edges = analysis.edges()
cols = analysis.score_columns()
default_by = default_score(cols)
number_format = score_column_config(cols)
genes = analysis.regulators_first()

with st.sidebar:
    by = st.selectbox("Rank by", cols, index=cols.index(default_by), format_func=score_label)
    top_n = st.slider("Rows per gene", 5, 100, 25, step=5)
if "ensemble" not in cols:
    st.caption("Scores shown are untrained. On the **Benchmark** page, *Score every pair out of fold* adds "
               "per-method translator probabilities and the VVP+GT ensemble.")
elif analysis.crossfit is not None:
    st.caption("Translator probabilities are out of fold: each pair's comes from a translator that never saw either gene.")

tab_t, tab_r, tab_a, tab_c = st.tabs(["Targets of a regulator", "Regulators of a target", "Method agreement", "Pair response curves"])

with tab_t:
    label = "Source genes" + (" (known regulators listed first)" if analysis.network is not None else "")
    sources = st.multiselect(label, genes, default=genes[:1])
    if sources:
        table = ranked_targets(edges, sources, by)
        table = table[table["rank"] <= top_n]
        st.dataframe(table, hide_index=True, width="stretch", column_config=number_format, height=min(38 * len(table) + 40, 600))
        st.download_button("Download these targets (CSV)", spreadsheet_csv(table), "ranked_targets.csv", "text/csv")
        if analysis.network is not None:
            chosen = edges[edges.source.isin(sources)]
            picked = analysis.recovery_pairs(chosen).assign(label=lambda d: d.known.astype(int))
            recovery = per_source_metrics(picked, cols, min_edges=1)
            if len(picked) < len(chosen):
                st.caption(f"{len(chosen) - len(picked):,} of these sources' pairs have a gene the loaded translator "
                           "trained on; they are left out of the recovery check.")
            if len(recovery):
                st.markdown("**How well each method recovers these sources' known targets** (AUROC / early precision ratio over all panel targets)")
                st.dataframe(recovery, hide_index=True, width="stretch")
    else:
        st.info("Choose at least one source gene.")

with tab_r:
    target = st.selectbox("Target gene", analysis.panel, index=min(len(analysis.panel) - 1, len(analysis.network.regulators) if analysis.network else 0))
    regs = ranked_regulators(edges, target, by).head(top_n)
    st.dataframe(regs, hide_index=True, width="stretch", column_config=number_format)

with tab_a:
    st.markdown("Spearman correlation between methods' scores over every ordered pair of the panel. "
                "Low values mean the methods rank different edges first.")
    st.plotly_chart(rank_agreement_figure(rank_agreement(edges, cols), {c: score_label(c) for c in cols}), width="stretch")

with tab_c:
    curve_methods = [m for m in ("vvp", "gt") if m in analysis.features]
    if not curve_methods:
        st.info("Response curves need the VVP or GT method (choose them on the home page).")
    else:
        c1, c2 = st.columns(2)
        src = c1.selectbox("Source", genes, key="curve_source")
        ranked = ranked_targets(edges, [src], by).target.tolist()
        tgt = c2.selectbox(f"Target (ordered by {score_label(by)})", ranked, key="curve_target")
        try:
            curves = analysis.response(src, tgt)
        except UGRNError as exc:
            st.error(str(exc))
        else:
            ref, where = analysis.response_reference(src)
            st.plotly_chart(pair_response_figure(curves, src, tgt, ref, analysis.response_units()), width="stretch")
            st.caption(f"Left: the model's predicted change of the target as the source is set to each value "
                       f"{where} (dashed line). Right: the local slope from the Jacobian-vector product, and the "
                       "change it implies when integrated.")
            row = edges[(edges.source == src) & (edges.target == tgt)]
            st.dataframe(row, hide_index=True, column_config=number_format)

"""Pathways: are a regulator's top predicted targets enriched in known gene sets?"""

from __future__ import annotations

import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.explore import default_score, ranked_targets, score_label
from ugrn_core.export import spreadsheet_csv
from ugrn_core.pathways import enrichment, gene_set_coverage
from ugrn_core.plot import enrichment_figure
from ugrn_ui.nav import ICON
from ugrn_ui.state import choose_gene_sets, page

analysis = page("Pathway check", ICON["pages/4_Pathways.py"])
edges = analysis.edges()
cols = analysis.score_columns()
genes = analysis.regulators_first()

gene_sets = choose_gene_sets(None if analysis.network is None else analysis.network.edges)
st.caption(gene_set_coverage(gene_sets, analysis.panel))

c1, c2, c3 = st.columns(3)
source = c1.selectbox("Regulator", genes)
default = default_score(cols)
by = c2.selectbox("Targets ranked by", cols, index=cols.index(default), format_func=score_label)
top_n = c3.slider("Top targets to test", 5, min(100, len(analysis.panel) - 1), min(20, len(analysis.panel) - 1))

ranked = ranked_targets(edges, [source], by)
if by.endswith("_prob") or by == "ensemble":
    if "seen_in_training" in ranked:  # a translator trained elsewhere: its training pairs are not predictions
        left_out = int(ranked.seen_in_training.sum())
        ranked = ranked[~ranked.seen_in_training]
        if left_out:
            st.caption(f"{left_out} targets left out: the loaded translator trained on pairs with them or with {source}.")
    elif analysis.crossfit is not None:
        st.caption("Probabilities out of fold: no target's comes from a translator that saw it or the regulator.")
top = ranked.head(top_n)
if top.empty:
    st.warning(f"No target of {source} is left to test by {score_label(by)}: the loaded translator trained on them. "
               "Rank by an untrained score, or score the pairs out of fold on the Benchmark page.")
    st.stop()
try:
    table = enrichment(top.target.tolist(), analysis.panel, gene_sets)
except UGRNError as exc:
    st.error(str(exc))
    st.stop()
st.markdown(f"Top {top_n} targets of **{source}** by {score_label(by)}, tested against {len(table)} gene sets "
            f"with at least 3 panel genes (hypergeometric test within the {len(analysis.panel)}-gene panel, "
            "Benjamini-Hochberg FDR).")
if table.empty:
    st.warning("No gene set has at least 3 genes in the panel; use gene sets in the dataset's gene naming, or a larger panel.")
    st.stop()
left, right = st.columns([3, 2])
left.dataframe(table, hide_index=True, width="stretch", height=420,
               column_config={"p_value": st.column_config.NumberColumn(format="%.2e"),
                              "fdr": st.column_config.NumberColumn(format="%.2e"),
                              "expected": st.column_config.NumberColumn(format="%.2f"),
                              "fold": st.column_config.NumberColumn(format="%.1f")})
right.plotly_chart(enrichment_figure(table), width="stretch")
st.download_button("Download enrichment (CSV)", spreadsheet_csv(table), f"enrichment_{source}.csv", "text/csv")
with st.expander("The tested targets"):
    st.write(", ".join(top.target))

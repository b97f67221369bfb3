"""Compare groups: the networks of two groups of cells side by side, and what changed."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from ugrn_core.errors import UGRNError
from ugrn_core.explore import score_label
from ugrn_core.export import spreadsheet_csv
from ugrn_core.extract import METHOD_LABELS, METHODS
from ugrn_core.groups import changed_edges, differential, differential_subnetwork, group_columns, regulator_change
from ugrn_core.plot import GAINED_COLOR, LOST_COLOR, network_html, regulator_change_figure
from ugrn_ui.nav import ICON
from ugrn_ui.state import AUTO_RUN_SECONDS, cached_cost, group_ready, group_result, load_prepared, page_shell, settings
from ugrn_ui.tables import SCORE_FORMAT

page_shell("Compare groups", ICON["pages/7_Compare_groups.py"])
s = settings()
if s.result:
    st.info("Comparing groups extracts each group's network from the data, so it needs a dataset: choose one on the "
            "home page (a saved result holds one network).")
    st.stop()
model, prepared = load_prepared(replace(s, groupby="", group=""))
columns = group_columns(prepared.adata.obs)
if not columns:
    st.info("This dataset has no cell annotation (an obs column with 2 to 50 groups, e.g. condition or cell type) to "
            "compare groups by.")
    st.stop()

fewest = min(columns, key=lambda c: len(columns[c]))  # a condition (control / treated) before a clustering
with st.sidebar:
    col = st.selectbox("Cells grouped by", list(columns), index=list(columns).index(s.groupby if s.groupby in columns else fewest))
    counts = columns[col]
    groups = list(counts.index)
    label = {g: f"{g} ({n:,} cells)" for g, n in counts.items()}
    a = st.selectbox("Group A", groups, index=0, format_func=label.get)
    b = st.selectbox("Group B", groups, index=1 if len(groups) > 1 else 0, format_func=label.get)
    methods = st.multiselect("Methods", list(METHODS), default=["pert", "vvp"], format_func=METHOD_LABELS.get,
                             help="Extracted for both groups with the home page's other settings. GT costs several "
                                  "times VVP.")
    n_edges = st.slider("Changed edges in the graph", 10, 150, 40, step=10)
if a == b:
    st.info("Choose two different groups.")
    st.stop()
if not methods:
    st.info("Choose at least one method.")
    st.stop()
s = replace(s, methods=tuple(m for m in METHODS if m in methods))

st.caption(f"Each group's network is extracted with the home page's settings (panel of {len(prepared.panel)} genes, "
           f"{', '.join(METHOD_LABELS[m] for m in s.methods)}), its virtual cells drawn from that group's cells. **delta** = score in **{b}** "
           f"(B) − score in **{a}** (A). Red: stronger in {b}; blue: stronger in {a}.")
estimate = cached_cost(*s.cost_key)
if not (group_ready(s, col, a) and group_ready(s, col, b)) and 2 * estimate.total_seconds > AUTO_RUN_SECONDS:
    st.info(f"Each group's extraction: {estimate.summary()}.")
    if not st.button("Extract both groups", type="primary"):
        st.stop()
res_a = group_result(s, col, a, confirmed=True)
res_b = group_result(s, col, b, confirmed=True)
try:
    diff = differential(res_a, res_b, (a, b))
except UGRNError as exc:
    st.error(str(exc))
    st.stop()
scores = list(diff.method.unique())
with st.sidebar:
    method = st.selectbox("Score compared", scores, index=scores.index("pert") if "pert" in scores else 0,
                          format_func=score_label,
                          help="Pert reads each group's mean cell: a regulator silent in one group has almost no "
                               "knock-out effect there. VVP/GT read the group's real cells.")
has_stat = diff[diff.method == method].stat.notna().any()

st.subheader("Regulators that changed most")
change = regulator_change(diff, method)
st.plotly_chart(regulator_change_figure(change, (a, b)), width="stretch")
top_fall, top_rise = change.iloc[0], change.dropna(subset=["relative"]).iloc[-1]
st.markdown(f"Largest fall: **{top_fall.source}** ({top_fall.relative:+.0%} summed out-edge {score_label(method)}, "
            f"{top_fall.total_A:.3g} → {top_fall.total_B:.3g}); largest rise: **{top_rise.source}** "
            f"({top_rise.relative:+.0%}).")
with st.expander(f"Every source ({len(change)})"):
    st.dataframe(change, hide_index=True, width="stretch", column_config={
        "total_A": st.column_config.NumberColumn(f"Sum in {a}", format=SCORE_FORMAT),
        "total_B": st.column_config.NumberColumn(f"Sum in {b}", format=SCORE_FORMAT),
        "delta": st.column_config.NumberColumn("Change", format=SCORE_FORMAT),
        "relative": st.column_config.NumberColumn("Relative change", format="percent")})

st.subheader("Edges that changed most")
st.markdown(f"<span style='color:{GAINED_COLOR}'>━</span> stronger in {b} &nbsp; "
            f"<span style='color:{LOST_COLOR}'>━</span> stronger in {a} &nbsp; · width = size of the change, node "
            "size = degree; hover for both scores.", unsafe_allow_html=True)
by = "stat" if has_stat else "delta"
sub = differential_subnetwork(diff, method, n_edges, by, known=res_a.known_pairs if res_a.network is not None else None)
titles = {(u, v): f"{u} → {v}: {d['score_A']:.3g} in {a}, {d['score_B']:.3g} in {b}" for u, v, d in sub.graph.edges(data=True)}
html = network_html(sub, height_px=560, edge_titles=titles)  # our own HTML, gene names escaped
if hasattr(st, "iframe"):
    st.iframe(html, height=580)
else:  # Streamlit < 1.52
    import streamlit.components.v1 as components

    components.html(html, height=580)
table = changed_edges(diff, method, 200, by)
st.dataframe(table, hide_index=True, width="stretch", column_config={
    "score_A": st.column_config.NumberColumn(f"In {a}", format=SCORE_FORMAT),
    "score_B": st.column_config.NumberColumn(f"In {b}", format=SCORE_FORMAT),
    "delta": st.column_config.NumberColumn("Change (B − A)", format=SCORE_FORMAT),
    "stat": st.column_config.NumberColumn("Change / spread", format=SCORE_FORMAT,
                                          help="The change over the pooled spread of the two groups' cell draws; "
                                               "set *Cell draws* above 1 on the home page to measure it.")})
if not has_stat:
    st.caption("Ranked by the size of the change. With *Cell draws* above 1 on the home page, VVP/GT edges are "
               "ranked by the change over its spread between draws of cells, which says which changes are larger "
               "than the cells drawn would make them.")
st.download_button("differential.csv (every pair and score)", spreadsheet_csv(diff), "differential.csv", "text/csv")

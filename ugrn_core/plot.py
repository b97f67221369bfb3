"""Figures (plotly) and the interactive network (pyvis), built from ugrn_core's tables.

Pure functions from tables to figure objects or HTML: the app only places them, and a
notebook user gets the same figures. The network HTML inlines vis.js
(``cdn_resources="in_line"``) so it renders offline, writes gene names only as escaped JSON
(a name like ``</script>`` cannot break out; tested), and freezes
the physics once the layout has settled so nodes stay where the user drags them.
"""

from __future__ import annotations

import re
import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from sklearn.metrics import precision_recall_curve, roc_curve

from .graph import Subnetwork

KNOWN_COLOR = "#2ca02c"
NOVEL_COLOR = "#1f77b4"
SEED_COLOR = "#ff7f0e"
NODE_COLOR = "#9ecae1"
MAX_GENE_POINTS = 5000


def qc_figure(cells: pd.DataFrame, genes: pd.DataFrame) -> go.Figure:
    """Counts per cell, genes detected per cell, and mean-variance with the panel marked."""
    fig = make_subplots(1, 3, subplot_titles=("Total per cell", "Genes detected per cell", "Gene mean vs variance"))
    fig.add_trace(go.Histogram(x=cells.total, nbinsx=50, marker_color=NODE_COLOR, name="cells"), 1, 1)
    fig.add_trace(go.Histogram(x=cells.genes_detected, nbinsx=50, marker_color=NODE_COLOR, name="cells"), 1, 2)
    g = genes if len(genes) <= MAX_GENE_POINTS else pd.concat(
        [genes[genes.in_panel], genes[~genes.in_panel].sample(MAX_GENE_POINTS, random_state=0)]
    )
    for flag, color, name in ((False, "#c7c7c7", "other genes"), (True, SEED_COLOR, "panel")):
        sub = g[g.in_panel == flag]
        fig.add_trace(go.Scattergl(
            x=sub["mean"], y=sub["variance"], mode="markers", marker=dict(size=4, color=color),
            name=name, text=sub.index, hovertemplate="%{text}<br>mean %{x:.3f}<br>var %{y:.3f}<extra></extra>",
        ), 1, 3)
    fig.update_xaxes(title_text="mean (log-normalised)", row=1, col=3)
    fig.update_yaxes(title_text="variance", row=1, col=3)
    fig.update_layout(height=320, margin=dict(t=40, b=30, l=30, r=10), showlegend=True, bargap=0.05)
    return fig


def rank_agreement_figure(corr: pd.DataFrame, labels: dict[str, str] | None = None) -> go.Figure:
    """Heatmap of the rank correlation between methods over the same pairs."""
    names = [labels.get(c, c) if labels else c for c in corr.columns]
    fig = px.imshow(corr.to_numpy(), x=names, y=names, zmin=-1, zmax=1, color_continuous_scale="RdBu_r", text_auto=".2f")
    fig.update_layout(height=360, margin=dict(t=30, b=10, l=10, r=10), coloraxis_colorbar=dict(title="Spearman"))
    return fig


def pair_response_figure(curves: pd.DataFrame, source: str, target: str, reference: float | None = None,
                         units: str = "model units") -> go.Figure:
    """VVP response curve and GT slope + implied trajectory of ``target`` along ``source``;
    ``reference`` (dashed) is the source value the VVP response is measured from; ``units``
    what the target's change is measured in (see ``GRN.response_units``)."""
    fig = make_subplots(1, 2, subplot_titles=(
        f"VVP: change of {target} as {source} is set", f"GT: d{target}/d{source} and its integral",
    ))
    styles = {"response": ("VVP response", NOVEL_COLOR, "solid"), "slope": ("GT slope", SEED_COLOR, "dot"),
              "trajectory": ("GT trajectory (integrated slope)", KNOWN_COLOR, "solid")}
    for quantity, grp in curves.groupby("quantity", sort=False):
        name, color, dash = styles.get(quantity, (quantity, "#333", "solid"))
        col = 1 if quantity == "response" else 2
        fig.add_trace(go.Scatter(x=grp.value, y=grp.response, mode="lines+markers", name=name,
                                 line=dict(color=color, dash=dash)), 1, col)
    for col in (1, 2):
        fig.add_hline(y=0, line_color="#999", line_width=1, row=1, col=col)
        if reference is not None:
            fig.add_vline(x=reference, line_color="#bbb", line_dash="dash", row=1, col=col)
        fig.update_xaxes(title_text=f"{source} value (model units)", row=1, col=col)
    fig.update_yaxes(title_text=f"change of predicted {target} ({units})", row=1, col=1)
    fig.update_layout(height=340, margin=dict(t=40, b=30, l=30, r=10), legend=dict(orientation="h", y=-0.25))
    return fig


def roc_pr_figure(predictions: pd.DataFrame, methods: list[str], label: str = "label", labels: dict[str, str] | None = None) -> go.Figure:
    """ROC and precision-recall curves per method, with the random baseline of each."""
    fig = make_subplots(1, 2, subplot_titles=("ROC", "Precision-recall"))
    y = predictions[label].to_numpy()
    colors = px.colors.qualitative.Plotly
    for n, m in enumerate(methods):
        s = predictions[m].to_numpy(dtype=float)
        ok = np.isfinite(s)
        if ok.sum() == 0 or len(set(y[ok])) < 2:
            continue
        name = labels.get(m, m) if labels else m
        fpr, tpr, _ = roc_curve(y[ok], s[ok])
        prec, rec, _ = precision_recall_curve(y[ok], s[ok])
        color = colors[n % len(colors)]
        fig.add_trace(go.Scatter(x=fpr, y=tpr, name=name, line=dict(color=color), legendgroup=m), 1, 1)
        fig.add_trace(go.Scatter(x=rec, y=prec, name=name, line=dict(color=color), legendgroup=m, showlegend=False), 1, 2)
    density = float(np.mean(y)) if len(y) else 0.0
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="random", line=dict(color="#999", dash="dash")), 1, 1)
    fig.add_trace(go.Scatter(x=[0, 1], y=[density, density], name="random", line=dict(color="#999", dash="dash"), showlegend=False), 1, 2)
    fig.update_xaxes(title_text="false positive rate", row=1, col=1)
    fig.update_yaxes(title_text="true positive rate", row=1, col=1)
    fig.update_xaxes(title_text="recall", row=1, col=2)
    fig.update_yaxes(title_text="precision", row=1, col=2)
    fig.update_layout(height=380, margin=dict(t=40, b=30, l=30, r=10))
    return fig


def enrichment_figure(table: pd.DataFrame, top: int = 15) -> go.Figure:
    """Horizontal bars of -log10 FDR for the best gene sets (dashed line: FDR 0.05)."""
    t = table.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(
        x=-np.log10(t.fdr.clip(lower=1e-300)), y=t.gene_set, orientation="h", marker_color=NOVEL_COLOR,
        customdata=np.stack([t.overlap, t.set_size, t.fdr], axis=1) if len(t) else None,
        hovertemplate="%{y}<br>overlap %{customdata[0]} of %{customdata[1]}<br>FDR %{customdata[2]:.2g}<extra></extra>",
    ))
    fig.add_vline(x=-np.log10(0.05), line_dash="dash", line_color="#999")
    fig.update_layout(height=max(260, 24 * len(t) + 80), margin=dict(t=20, b=30, l=10, r=10), xaxis_title="-log10 FDR")
    return fig


GROUP_COLORS = px.colors.qualitative.Set2
UP_COLOR, DOWN_COLOR = "#d62728", "#1f77b4"
GAINED_COLOR, LOST_COLOR = "#d62728", "#1f77b4"  # differential graphs: stronger in B / in A


def axis_scores_figure(table: pd.DataFrame, label_top: int = 6) -> go.Figure:
    """Gradient score (x) against the decoded-means baseline (y), strongest genes named."""
    t = table.iloc[:MAX_GENE_POINTS]
    top = t.head(label_top)
    fig = go.Figure(go.Scattergl(
        x=t.score, y=t.baseline, mode="markers", text=t.gene, name="genes",
        marker=dict(size=5, color=np.where(t.score > 0, UP_COLOR, DOWN_COLOR), opacity=0.5),
        hovertemplate="%{text}<br>gradient score %{x:.3f}<br>baseline %{y:.3f}<extra></extra>",
    ))
    spread = ["top center", "bottom center", "middle left", "middle right"]  # neighbours' names overlap less
    fig.add_trace(go.Scatter(x=top.score, y=top.baseline, mode="text", text=top.gene, showlegend=False, hoverinfo="skip",
                             textposition=[spread[i % 4] for i in range(len(top))]))
    fig.add_vline(x=0, line_color="#bbb")
    fig.add_hline(y=0, line_color="#bbb")
    fig.update_layout(height=420, margin=dict(t=20, b=40, l=40, r=10), showlegend=False,
                      xaxis_title="gradient score s (mean cos to the axis)", yaxis_title="baseline (relative change)")
    return fig


def flow_map_figure(field, cells: np.ndarray, groups, means: dict[str, np.ndarray],
                    paths: np.ndarray | None = None, explained=None, max_cells: int = 3000, seed: int = 0) -> go.Figure:
    """Streamlines of a gradient field over a 2-D latent view, cells coloured by group,
    group means as stars, and optionally flow paths (``[steps, cells, 2]``) from start to end."""
    import plotly.figure_factory as ff

    x, y, U, V = field
    scale = np.nanmax(np.hypot(U, V)) or 1.0  # only the direction and relative speed matter
    fig = ff.create_streamline(x, y, U / scale, V / scale, density=1.2, arrow_scale=0.06,
                               line=dict(color="#888", width=1), name="gradient field")
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(cells), min(max_cells, len(cells)), replace=False))
    groups = np.asarray(groups).astype(str)
    for k, g in enumerate(dict.fromkeys(groups[keep])):
        sel = keep[groups[keep] == g]
        fig.add_trace(go.Scattergl(x=cells[sel, 0], y=cells[sel, 1], mode="markers", name=str(g),
                                   marker=dict(size=4, opacity=0.45, color=GROUP_COLORS[k % len(GROUP_COLORS)])))
    for name, m in means.items():
        fig.add_trace(go.Scatter(x=[m[0]], y=[m[1]], mode="markers+text", text=[f"mean {name}"],
                                 textposition="top center", name=f"mean {name}", showlegend=False,
                                 marker=dict(symbol="star", size=16, color="black", line=dict(color="white", width=1))))
    if paths is not None and len(paths):
        xs, ys = [], []
        for c in range(paths.shape[1]):
            xs += list(paths[:, c, 0]) + [None]
            ys += list(paths[:, c, 1]) + [None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="flow", line=dict(color=UP_COLOR, width=1.5)))
        fig.add_trace(go.Scatter(x=paths[0, :, 0], y=paths[0, :, 1], mode="markers", name="flow start",
                                 marker=dict(symbol="circle-open", size=8, color=UP_COLOR)))
        fig.add_trace(go.Scatter(x=paths[-1, :, 0], y=paths[-1, :, 1], mode="markers", name="flow end",
                                 marker=dict(symbol="x", size=8, color=UP_COLOR)))
    pct = [f" ({100 * e:.0f} % of latent variance)" for e in explained] if explained is not None else ["", ""]
    fig.update_layout(height=560, margin=dict(t=20, b=40, l=40, r=10), legend=dict(orientation="h", y=-0.12),
                      xaxis=dict(title=f"latent PC1{pct[0]}", range=[x[0], x[-1]]),
                      yaxis=dict(title=f"latent PC2{pct[1]}", range=[y[0], y[-1]]))
    return fig


def flow_effects_figure(table: pd.DataFrame, top: int = 15) -> go.Figure:
    """Horizontal bars of the decoded log2 fold change, start -> end of a flow."""
    t = table.head(top).iloc[::-1]
    fig = go.Figure(go.Bar(x=t.log2fc, y=t.gene, orientation="h",
                           marker_color=np.where(t.log2fc > 0, UP_COLOR, DOWN_COLOR),
                           hovertemplate="%{y}: log2FC %{x:.2f}<extra></extra>"))
    fig.update_layout(height=max(260, 22 * len(t) + 80), margin=dict(t=20, b=30, l=10, r=10),
                      xaxis_title="log2 fold change of decoded expression (flow end vs start)")
    return fig


_CDN_TAGS = re.compile(r'<link[^>]*href="https?://[^"]*"[^>]*/?>|<script[^>]*src="https?://[^"]*"[^>]*>\s*</script>', re.S)
_FREEZE = 'network.once("stabilizationIterationsDone", function () { network.setOptions({ physics: false }); });\n'


def regulator_change_figure(change: pd.DataFrame, names: tuple[str, str] = ("A", "B"), n: int = 10) -> go.Figure:
    """The ``n`` largest falls and rises of each source's summed out-edge score from group A
    to group B (:func:`ugrn_core.groups.regulator_change`) as horizontal bars on a log2 scale,
    so a halving and a doubling look alike; the hover gives the % change and both sums."""
    ok = change.dropna(subset=["relative"])
    shown = pd.concat([ok.head(n), ok.tail(n)]).drop_duplicates("source").sort_values("relative")
    log2 = np.log2(np.clip(shown.total_B.to_numpy(float), 1e-12, None) / np.clip(shown.total_A.to_numpy(float), 1e-12, None))
    fig = go.Figure(go.Bar(
        x=log2, y=shown.source, orientation="h",
        marker_color=[GAINED_COLOR if r > 0 else LOST_COLOR for r in shown.relative],
        customdata=np.stack([100 * shown.relative, shown.total_A, shown.total_B], axis=1),
        hovertemplate="%{y}: %{customdata[0]:+.0f}%<br>" + f"{names[0]}: " + "%{customdata[1]:.3g}<br>" + f"{names[1]}: "
                      + "%{customdata[2]:.3g}<extra></extra>"))
    fig.update_layout(height=max(260, 22 * len(shown) + 80), margin=dict(t=30, b=30, l=10, r=10),
                      xaxis_title=f"log2 fold change of the summed out-edge score, {names[0]} → {names[1]}",
                      yaxis=dict(type="category"))
    return fig


def network_html(sub: Subnetwork, height_px: int = 620, edge_titles: dict[tuple[str, str], str] | None = None) -> str:
    """Self-contained HTML of ``sub``: seeds orange, edge colour = known (green) or novel
    (blue) — or, on a differential graph, gained (red) or lost (blue) — arrow head = predicted sign (arrow: activates; bar and dashes: represses; a
    small circle: no call), edge width = score rank within the graph, node size = degree."""
    from pyvis.network import Network

    net = Network(height=f"{height_px}px", width="100%", directed=True, cdn_resources="in_line")
    G = sub.graph
    ids = {n: i for i, n in enumerate(G.nodes)}
    for n, d in G.nodes(data=True):
        name = str(n)  # pyvis writes node data with Jinja's tojson, which escapes < > & ' as \u00XX
        net.add_node(
            ids[n], label=name, title=f"{name} (degree {d.get('degree', 0)}{', seed' if d.get('seed') else ''})",
            color=SEED_COLOR if d.get("seed") else NODE_COLOR, size=12 + 1.5 * min(d.get("degree", 0), 12),
        )
    scores = np.array([d.get("score", 0.0) for _, _, d in G.edges(data=True)])
    ranks = (pd.Series(scores).rank(pct=True).to_numpy() if len(scores) else scores)
    for (u, v, d), r in zip(G.edges(data=True), ranks):
        title = edge_titles.get((u, v), "") if edge_titles else f"{u} -> {v}: {d.get('score', 0):.3g}"
        sign = 1 if "change" in d else int(d.get("predicted_sign", 0))  # a change has a direction, not a sign call
        head = {1: {"to": {"enabled": True, "type": "arrow"}}, -1: {"to": {"enabled": True, "type": "bar"}}}
        color = ({"gained": GAINED_COLOR, "lost": LOST_COLOR}[d["change"]] if "change" in d
                 else KNOWN_COLOR if d.get("known") else NOVEL_COLOR)
        net.add_edge(ids[u], ids[v], color=color, width=1 + 5 * float(r),
                     title=title, arrows=head.get(sign, {"to": {"enabled": True, "type": "circle", "scaleFactor": 0.4}}),
                     dashes=sign < 0)
    net.set_options("""{"physics": {"solver": "forceAtlas2Based", "stabilization": {"iterations": 250},
        "forceAtlas2Based": {"gravitationalConstant": -60, "springLength": 110}},
        "interaction": {"hover": true, "navigationButtons": true}, "edges": {"smooth": false}}""")
    page = net.generate_html(notebook=False)
    page = _CDN_TAGS.sub("", page)  # pyvis always links bootstrap (for menus we do not use): keep it offline
    return page.replace("return network;", _FREEZE + "                  return network;", 1)


__all__ = [
    "qc_figure", "rank_agreement_figure", "pair_response_figure", "roc_pr_figure",
    "enrichment_figure", "regulator_change_figure", "network_html", "axis_scores_figure", "flow_map_figure", "flow_effects_figure",
]

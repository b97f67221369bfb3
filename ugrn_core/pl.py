"""Plots of a result, scanpy style: each takes a :class:`~ugrn_core.grn.GRN` or an AnnData
holding one (``uns[key]``) and returns a figure (plotly) or an interactive network view."""

from __future__ import annotations

import html

import anndata as ad
import plotly.graph_objects as go

from .explore import score_label
from .grn import GRN, UNS_KEY
from .plot import KNOWN_COLOR, NOVEL_COLOR, pair_response_figure, rank_agreement_figure


def _grn(data, key: str) -> GRN:
    return GRN.from_anndata(data, key) if isinstance(data, ad.AnnData) else data


def _ranked_bars(table, gene_col: str, by: str, title: str) -> go.Figure:
    known = table["known"].astype(bool) if "known" in table else None
    colors = [KNOWN_COLOR if k else NOVEL_COLOR for k in known] if known is not None else NOVEL_COLOR
    fig = go.Figure(go.Bar(x=table[by], y=table[gene_col], orientation="h", marker_color=colors,
                           hovertemplate="%{y}: %{x:.3g}<extra></extra>"))
    fig.update_layout(title=title + (" (green: in the reference network)" if known is not None else ""),
                      xaxis_title=score_label(by), yaxis=dict(autorange="reversed"), height=max(260, 22 * len(table) + 90),
                      margin=dict(t=50, b=40, l=10, r=10))
    return fig


def targets(data: GRN | ad.AnnData, source: str, by: str | None = None, n: int = 20, key: str = UNS_KEY) -> go.Figure:
    """The ``n`` best-scored targets of ``source`` as bars, known edges in green."""
    grn = _grn(data, key)
    by = by or grn.default_score()
    return _ranked_bars(grn.targets(source, by, n), "target", by, f"Targets of {source}")


def regulators(data: GRN | ad.AnnData, target: str, by: str | None = None, n: int = 20, key: str = UNS_KEY) -> go.Figure:
    """The ``n`` best-scored regulators of ``target`` as bars, known edges in green."""
    grn = _grn(data, key)
    by = by or grn.default_score()
    return _ranked_bars(grn.regulators_of(target, by, n), "source", by, f"Regulators of {target}")


def response(data: GRN | ad.AnnData, source: str, target: str, key: str = UNS_KEY) -> go.Figure:
    """How ``target`` responds as ``source`` is set along the value grid: VVP's curve, GT's slope."""
    grn = _grn(data, key)
    return pair_response_figure(grn.response(source, target), source, target, grn.response_reference(source)[0],
                                grn.response_units())


def rank_agreement(data: GRN | ad.AnnData, methods: list[str] | None = None, key: str = UNS_KEY) -> go.Figure:
    """Spearman correlation between the methods' scores over the same pairs."""
    from .graph import rank_agreement as agreement

    grn = _grn(data, key)
    cols = methods or grn.score_columns()
    return rank_agreement_figure(agreement(grn.edges(), cols), {c: score_label(c) for c in cols})


class NetworkView:
    """An interactive network: shows itself in Jupyter, ``save(path)`` writes the HTML."""

    def __init__(self, page: str, height_px: int):
        self.html, self.height_px = page, height_px

    def _repr_html_(self) -> str:
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%;height:{self.height_px + 20}px;'
                'border:none"></iframe>')

    def save(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(self.html)


def subnetwork(data: GRN | ad.AnnData, genes: str | list[str], by: str | None = None, top_k: int = 5, hops: int = 1,
               height_px: int = 620, key: str = UNS_KEY) -> NetworkView:
    """The neighbourhood of ``genes`` as an interactive graph (works offline; drag, zoom, hover)."""
    return NetworkView(_grn(data, key).to_html(genes, by, top_k, hops, height_px), height_px)


def axis(adata: ad.AnnData, key: str = "ugrn_axis", label_top: int = 6) -> go.Figure:
    """Genes by decoder-gradient score against the baseline (``ug.tl.axis`` wrote both into ``adata.var``)."""
    import pandas as pd

    from .plot import axis_scores_figure

    col = f"{key}_score"
    if col not in adata.var:
        raise KeyError(f"No adata.var[{col!r}]: run ug.tl.axis(adata, groupby, source, target) first.")
    table = pd.DataFrame({"gene": adata.var_names, "score": adata.var[col].to_numpy(),
                          "baseline": adata.var[f"{key}_baseline"].to_numpy()}).dropna()
    table = table.iloc[(-table.score.abs()).argsort(kind="stable")].reset_index(drop=True)
    return axis_scores_figure(table, label_top)


__all__ = ["axis", "targets", "regulators", "response", "rank_agreement", "subnetwork", "NetworkView"]

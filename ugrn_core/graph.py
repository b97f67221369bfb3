"""Inferred subnetworks and the files other tools open (Cytoscape, BEELINE, spreadsheets).

Edges arrive as a tidy table ``source, target, <method>…`` (scores or probabilities, higher
= more likely). A subnetwork grows from the genes a user picked: each node keeps its
``top_k`` best-scoring edges (out and in), for one or two hops, above an optional
threshold, capped at ``max_nodes`` so a browser can draw it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from .errors import GeneNotFoundError
from .signs import sign_word

SIGN_COLUMNS = ("predicted_sign", "sign")  # carried onto graph edges when the table has them


# Which score ranks a file when the user did not say: the translator's ensemble, then the
# untrained virtual-cell scores (VVP read best on the demo's held-out genes), then baselines.
RANKING_PREFERENCE = ("ensemble", "vvp", "gt", "pert", "emb", "pearson", "spearman", "grnboost")


def ranked_edges(edges: pd.DataFrame, method: str) -> pd.DataFrame:
    """BEELINE's ``rankedEdges.csv`` layout: ``Gene1, Gene2, EdgeWeight``, best first."""
    out = edges[["source", "target", method]].rename(columns={"source": "Gene1", "target": "Gene2", method: "EdgeWeight"})
    out = out.dropna(subset=["EdgeWeight"])
    return out.sort_values("EdgeWeight", ascending=False, kind="stable").reset_index(drop=True)


def ranked_edges_text(edges: pd.DataFrame, method: str) -> str:
    """``rankedEdges.csv`` as BEELINE writes and its evaluator reads it: tab-separated."""
    return ranked_edges(edges, method).to_csv(sep="\t", index=False)


def best_ranking_column(columns) -> str:
    """The first of :data:`RANKING_PREFERENCE` present in ``columns``."""
    for method in RANKING_PREFERENCE:
        if method in columns:
            return method
    raise ValueError(f"No score column to rank by among {list(columns)}; expected one of {', '.join(RANKING_PREFERENCE)}.")


@dataclass
class Subnetwork:
    graph: nx.DiGraph
    capped: bool  # True when max_nodes cut the neighbourhood short
    method: str

    @property
    def n_nodes(self) -> int:
        return self.graph.number_of_nodes()

    def edges_frame(self) -> pd.DataFrame:
        rows = [{"source": u, "target": v, **d} for u, v, d in self.graph.edges(data=True)]
        return pd.DataFrame(rows, columns=["source", "target", "score", "interaction", "predicted_sign", "known", "known_sign"])


def _edge_data(row: dict, score_column: str, known: set[tuple[str, str]]) -> dict:
    """Edge attributes: score, predicted sign and its Cytoscape interaction word, known flag
    and known sign (GraphML keeps them all; SIF keeps the interaction)."""
    sign = int(row.get("predicted_sign", 0) or 0)
    return {
        "score": float(row[score_column]), "interaction": sign_word(sign), "predicted_sign": sign,
        "known": bool((row["source"], row["target"]) in known), "known_sign": int(row.get("sign", 0) or 0),
    }


def subnetwork(
    edges: pd.DataFrame,
    seeds: list[str],
    method: str,
    top_k: int = 10,
    hops: int = 1,
    threshold: float | None = None,
    max_nodes: int = 300,
    known: set[tuple[str, str]] | None = None,
) -> Subnetwork:
    """The neighbourhood of ``seeds`` under one method's scores.

    known: (source, target) pairs of a reference network, flagged on the edges.
    """
    if method not in edges.columns:
        raise KeyError(f"no scores for method {method!r}; available: {[c for c in edges.columns if c not in ('source', 'target')]}")
    genes = set(edges.source) | set(edges.target)
    missing = [s for s in seeds if s not in genes]
    if missing:
        raise GeneNotFoundError(f"Gene(s) {missing[:10]} have no scored edges; pick genes from the panel.")
    e = _scored(edges, method)
    e = e[e.source != e.target]
    if threshold is not None:
        e = e[e[method] >= threshold]
    e = e.sort_values(method, ascending=False, kind="stable")
    by_source = {g: grp.head(top_k) for g, grp in e.groupby("source", sort=False)}
    by_target = {g: grp.head(top_k) for g, grp in e.groupby("target", sort=False)}
    known = known or set()
    G = nx.DiGraph()
    for s in seeds:
        G.add_node(s, seed=True, hop=0)
    frontier, capped = list(dict.fromkeys(seeds)), False
    for hop in range(1, hops + 1):
        nxt = []
        for g in frontier:
            picks = pd.concat([by_source.get(g, e.iloc[:0]), by_target.get(g, e.iloc[:0])])
            for row in picks.to_dict("records"):
                s, t = row["source"], row["target"]
                for node in (s, t):
                    if node not in G:
                        if G.number_of_nodes() >= max_nodes:
                            capped = True
                            continue
                        G.add_node(node, seed=False, hop=hop)
                        nxt.append(node)
                if s in G and t in G:
                    G.add_edge(s, t, **_edge_data(row, method, known))
        frontier = nxt
    return Subnetwork(_with_degrees(G), capped, method)


def _with_degrees(G: nx.DiGraph) -> nx.DiGraph:
    """Store each node's degree as an attribute (node size in the app, a column in Cytoscape)."""
    nx.set_node_attributes(G, dict(G.degree()), "degree")
    return G


def top_edges_graph(edges: pd.DataFrame, method: str, n_edges: int = 500, known: set[tuple[str, str]] | None = None) -> nx.DiGraph:
    """The ``n_edges`` best-scoring edges of the whole panel as a graph (for Cytoscape)."""
    top = _top_edges(edges, method, n_edges)
    known = known or set()
    G = nx.DiGraph()
    for row in top.to_dict("records"):
        G.add_edge(row["source"], row["target"], **_edge_data(row, method, known))
    return _with_degrees(G)


def _scored(edges: pd.DataFrame, method: str) -> pd.DataFrame:
    """The pairs ``method`` scored, with the sign columns graph edges carry."""
    return edges[["source", "target", method, *[c for c in SIGN_COLUMNS if c in edges]]].dropna(subset=[method])


def _top_edges(edges: pd.DataFrame, method: str, n_edges: int) -> pd.DataFrame:
    return _scored(edges, method).sort_values(method, ascending=False, kind="stable").head(n_edges)


def regulon_table(edges: pd.DataFrame, method: str, n_edges: int = 500) -> pd.DataFrame:
    """A decoupler-style network ``source, target, weight`` from the ``n_edges`` best pairs:
    weight = score x predicted sign (positive = activates, negative = represses), as
    decoupler's ``mor``/``weight`` column reads it. Pairs without a sign call are left out:
    a weight of 0 would tell decoupler the edge does nothing."""
    if "predicted_sign" not in edges:
        raise ValueError("A regulon table needs predicted signs: extract VVP, GT or Perturbation features.")
    top = _top_edges(edges, method, n_edges)
    top = top[top.predicted_sign != 0]
    return pd.DataFrame({"source": top.source.to_numpy(), "target": top.target.to_numpy(),
                         "weight": (top[method] * top.predicted_sign).to_numpy(dtype=float)})


def to_graphml(graph: nx.DiGraph) -> str:
    """GraphML text (Cytoscape: File > Import > Network from File)."""
    buf = io.BytesIO()
    nx.write_graphml(graph, buf)
    return buf.getvalue().decode("utf-8")


def to_sif(graph: nx.DiGraph) -> str:
    """Simple Interaction Format: ``source <tab> interaction <tab> target`` per edge, the
    interaction being the predicted ``activates`` / ``represses`` (``regulates``: no call)."""
    return "".join(f"{u}\t{d.get('interaction', 'regulates')}\t{v}\n" for u, v, d in graph.edges(data=True))


def rank_agreement(edges: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Spearman correlation between methods' scores over the same pairs."""
    return edges[methods].rank().corr(method="pearson").astype(np.float64)


__all__ = ["ranked_edges", "Subnetwork", "subnetwork", "top_edges_graph", "regulon_table", "to_graphml", "to_sif", "rank_agreement"]

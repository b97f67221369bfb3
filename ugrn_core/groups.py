"""Networks per group of cells (a cell type, a condition) and what changed between two.

In a mixed tissue one network blurs cell types: the ``cells`` context reads VVP/GT in real
cells drawn from the whole dataset and Pert zeroes a source in the whole dataset's mean
cell. Per group, both come from that group's cells (the panel stays the dataset's, so two
groups' pairs line up, and per-target spreads come from every cell, so their scores share
one scale). :func:`differential` then compares two groups pair by pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import DataError

MIN_GROUP_CELLS = 10  # fewer than this and a group's mean cell and correlations mean little


def cells_needed(params) -> int:
    """How many cells a group must have for ``params`` (its cells context draws ``n_cells``)."""
    return max(MIN_GROUP_CELLS, int(params.n_cells) if params.context == "cells" else 0)


def group_masks(obs: pd.DataFrame, groupby: str, groups: list[str] | None = None, min_cells: int = MIN_GROUP_CELLS) -> dict[str, np.ndarray]:
    """``{group: boolean mask over cells}`` for ``obs[groupby]`` (all its groups if ``groups`` is None).

    Raises a :class:`DataError` that names the column, the groups there are, or the group
    that is too small and its count.
    """
    if groupby not in obs.columns:
        cats = [c for c in obs.columns if obs[c].nunique() <= 50]
        raise DataError(f"No cell annotation {groupby!r}; this dataset has: {', '.join(map(str, cats)) or 'none'}. "
                        "Name one of them (e.g. a cell type or condition column).")
    labels = obs[groupby].astype(str).to_numpy()
    present = pd.Series(labels).value_counts()
    wanted = list(present.index) if not groups else [str(g) for g in groups]
    missing = [g for g in wanted if g not in present.index]
    if missing:
        raise DataError(f"{groupby!r} has no group {', '.join(map(repr, missing))}; its groups are "
                        + ", ".join(f"{g} ({n:,} cells)" for g, n in present.items()) + ".")
    small = [g for g in wanted if present[g] < min_cells]
    if small:
        raise DataError("Too few cells for a group network: " + ", ".join(f"{g!r} has {present[g]:,}" for g in small)
                        + f" (need at least {min_cells}: the virtual cells' context draws from them). Merge small "
                        "groups, pick others, or lower the context's n_cells.")
    return {g: labels == g for g in wanted}


def group_columns(obs: pd.DataFrame, max_groups: int = 50) -> dict[str, pd.Series]:
    """Cell annotations a network can be split by: ``{column: cells per group}`` for every
    ``obs`` column with 2 to ``max_groups`` groups (conditions, cell types, clusters)."""
    out = {}
    for col in obs.columns:
        values = obs[col]
        if pd.api.types.is_float_dtype(values) and not pd.api.types.is_integer_dtype(values):
            continue  # a continuous covariate (library size, a score), not a grouping
        counts = values.astype(str).value_counts()
        if 2 <= len(counts) <= max_groups:
            out[str(col)] = counts
    return out


def differential(a, b, names: tuple[str, str] = ("A", "B"), columns: list[str] | None = None) -> pd.DataFrame:
    """Per pair and score, group A against group B.

    ``source, target, method, score_A, score_B, delta, stat`` (long format), where ``delta``
    = B - A and ``stat`` = delta / sqrt(sd_A² + sd_B²), the spreads of the scores between
    draws of real cells (``n_cell_samples`` > 1; NaN where a score has none, e.g. Pert, or
    a single draw). ``columns``: the scores to compare (default every score both results
    hold: untrained scores, out-of-fold probabilities, |Pearson r|).
    """
    from .explore import SPREAD

    if list(a.panel) != list(b.panel):
        raise DataError("The two results have different gene panels; extract both groups from one dataset "
                        "(groupby=) so their pairs line up.")
    ea, eb = a.edges(), b.edges()
    shared = [c for c in a.score_columns() if c in b.score_columns()]
    columns = shared if columns is None else [c for c in columns if c in shared]
    merged = ea.merge(eb, on=["source", "target"], suffixes=("_A", "_B"))
    frames = []
    for c in columns:
        sa, sb = merged[f"{c}_A"].to_numpy(float), merged[f"{c}_B"].to_numpy(float)
        sd_a = merged[f"{c}{SPREAD}_A"].to_numpy(float) if f"{c}{SPREAD}_A" in merged else np.full(len(merged), np.nan)
        sd_b = merged[f"{c}{SPREAD}_B"].to_numpy(float) if f"{c}{SPREAD}_B" in merged else np.full(len(merged), np.nan)
        pooled = np.sqrt(sd_a ** 2 + sd_b ** 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = np.where(pooled > 0, (sb - sa) / pooled, np.nan)
        frames.append(pd.DataFrame({"source": merged.source, "target": merged.target, "method": c,
                                    "score_A": sa, "score_B": sb, "delta": sb - sa, "stat": stat}))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["source", "target", "method", "score_A", "score_B", "delta", "stat"])
    out.attrs["groups"] = tuple(names)
    return out


def regulator_change(diff: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per source, its summed out-edge score in A and in B, the change and the relative
    change (B - A) / A; largest fall first, largest rise last.

    A silenced regulator has almost no knock-out effect where it is silent: its summed Pert
    score falls towards zero (``relative`` near -1).
    """
    sub = diff[(diff.method == method) & (diff.source != diff.target)]
    if sub.empty:
        raise DataError(f"No {method!r} scores in this comparison; choose one of {sorted(diff.method.unique())}.")
    tot = sub.groupby("source", sort=False)[["score_A", "score_B"]].sum()
    tot["delta"] = tot.score_B - tot.score_A
    with np.errstate(divide="ignore", invalid="ignore"):
        tot["relative"] = np.where(tot.score_A > 0, tot.delta / tot.score_A, np.nan)
    tot = tot.rename(columns={"score_A": "total_A", "score_B": "total_B"}).reset_index()
    return tot.sort_values("relative", na_position="last").reset_index(drop=True)


def changed_edges(diff: pd.DataFrame, method: str, n: int = 50, by: str = "delta") -> pd.DataFrame:
    """The ``n`` pairs whose ``method`` score changed most (by |delta|, or |stat| where measured)."""
    sub = diff[(diff.method == method) & (diff.source != diff.target)]
    key = sub[by].abs() if by in sub and sub[by].notna().any() else sub.delta.abs()
    return sub.loc[key.sort_values(ascending=False).index[:n]].reset_index(drop=True)


def differential_subnetwork(diff: pd.DataFrame, method: str, n_edges: int = 40, by: str = "delta",
                            known: set[tuple[str, str]] | None = None):
    """The ``n_edges`` most changed pairs as a :class:`~ugrn_core.graph.Subnetwork`: each edge's
    ``change`` is ``gained`` (stronger in B) or ``lost``, its ``score`` |delta| (its width)."""
    import networkx as nx

    from .graph import Subnetwork, _with_degrees

    known = known or set()
    G = nx.DiGraph()
    for r in changed_edges(diff, method, n_edges, by).itertuples():
        G.add_edge(r.source, r.target, score=abs(float(r.delta)), delta=float(r.delta), score_A=float(r.score_A),
                   score_B=float(r.score_B), change="gained" if r.delta > 0 else "lost",
                   known=(r.source, r.target) in known, predicted_sign=0, interaction="changes", known_sign=0)
    return Subnetwork(_with_degrees(G), False, method)


__all__ = ["MIN_GROUP_CELLS", "cells_needed", "group_columns", "group_masks", "differential", "regulator_change", "changed_edges",
           "differential_subnetwork"]

"""The Kang 2018 IFN-β PBMCs as a new user meets them (issue #21): default panel, untrained
scores raw and per-target scaled, the reference networks the panel holds, out-of-fold
translators, and what the strongest edges look like. Writes ``bench/results/kang.md``.

    python -m ugrn_core pretrain --data KANG.h5ad --network TRRUST_HUMAN --out KANG_MODEL
    python bench/kang_walkthrough.py --model KANG_MODEL

It runs what the app's home page runs (``ug.tl.extract`` with the app's default panel of
expressed regulators + 100 most variable genes, all ordered pairs, Pert/VVP/GT), once per
scaling, then fits out-of-fold translators on TRRUST (every pair's probability from
translators that never saw either gene).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd
from reporting import KANG, RESULTS, SHARED, kang_missing, write_report
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, roc_auc_score

NETWORKS = {
    "TRRUST": SHARED / "networks" / "trrust_rawdata.human.tsv",
    "DoRothEA (A-C)": SHARED / "networks" / "dorothea" / "dorothea_hs_ABC.tsv",
    "CollecTRI": SHARED / "networks" / "collectri" / "collectri_human.csv",
}
METHODS = ("pert", "vvp", "gt")
TOP = 15


def abundance_rho(grn, method: str) -> float:
    """Spearman(target's mean score over every other panel gene as source, target's mean log expression)."""
    f = grn.features[method]
    score = f.score.astype(np.float64).copy()
    rows = [grn.panel.index(s) for s in f.sources]
    score[np.arange(len(rows)), rows] = np.nan
    return float(spearmanr(np.nanmean(score, axis=0), np.asarray(grn.expression).mean(axis=0)).statistic)


def strongest(grn, by: str = "vvp") -> pd.DataFrame:
    """The home page's 'strongest edges overall', with each target's abundance rank (1 = most expressed)."""
    mean_expr = pd.Series(np.asarray(grn.expression).mean(axis=0), index=grn.panel)
    rank = mean_expr.rank(ascending=False).astype(int)
    top = grn.edges().sort_values(by, ascending=False).head(TOP)[["source", "target", by]]
    return top.assign(target_abundance_rank=top.target.map(rank).to_numpy())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a checkpoint folder pretrained on the Kang data")
    ap.add_argument("--n-genes", type=int, default=100, help="most variable genes (the app's default)")
    ap.add_argument("--out", default=str(RESULTS / "kang.md"))
    a = ap.parse_args()
    if kang_missing():
        return 0
    import anndata as ad

    import ugrn_core as ug
    from ugrn_core.data.networks import match_network, read_network
    from ugrn_core.errors import UGRNError
    from ugrn_core.extract import ExtractionParams

    adata = ad.read_h5ad(KANG)
    model = ug.models.load(a.model)
    lines = ["# Kang 2018 IFN-β PBMCs, read by a model pretrained on them\n",
             f"Data: `{KANG.relative_to(SHARED.parent)}` ({adata.n_obs} cells × {adata.n_vars} genes, raw counts). "
             f"Model: `{a.model}` ({model.describe().get('parameters', '?')} parameters). Made by "
             f"`python bench/kang_walkthrough.py --model KANG_MODEL` on 2 CPU cores.\n"]
    grns, seconds = {}, {}
    for scale in ("none", "output_sd"):
        t0 = time.perf_counter()
        grns[scale] = ug.tl.extract(adata, model=model, methods=METHODS, n_genes=a.n_genes, key_added=None,
                                    network=str(NETWORKS["TRRUST"]), params=ExtractionParams(scale=scale), progress=False,
                                    cache=False)  # timed as a first run
        seconds[scale] = time.perf_counter() - t0
    grn = grns["none"]
    lines.append(f"**Panel** (the app's default): {len(grn.panel)} genes, {len(grn.regulators)} expressed regulators "
                 f"({', '.join(grn.regulators)}) + the most variable other genes.\n")
    lines.append("| reference network | edges in the panel | regulators with an edge |\n|---|---|---|")
    for name, path in NETWORKS.items():
        if path.exists():
            m = match_network(read_network(str(path)), grn.panel, what="the panel")
            lines.append(f"| {name} | {len(m.edges):,} | {len(m.regulators)} |")
    lines.append("")
    lines.append("**Do untrained scores track abundance?** Spearman correlation between a target's mean score (over "
                 "every other panel gene as source) and its mean log expression; extraction time on 2 cores.\n")
    lines.append("| scale | " + " | ".join(METHODS) + " | extraction |\n|---|" + "---|" * (len(METHODS) + 1))
    for scale, g in grns.items():
        lines.append(f"| {scale} | " + " | ".join(f"{abundance_rho(g, m):.2f}" for m in METHODS) + f" | {seconds[scale]:.0f} s |")
    lines.append("")
    for scale, g in grns.items():
        top = strongest(g)
        lines.append(f"**Strongest edges overall by VVP, scale {scale}** (target's abundance rank among the "
                     f"{len(g.panel)} panel genes, 1 = most expressed; median {top.target_abundance_rank.median():.0f}):\n")
        lines.append(", ".join(f"{r.source}→{r.target} ({r.target_abundance_rank})" for r in top.itertuples()) + "\n")
    lines.append("**Out-of-fold translators** (what the Benchmark page fits: 5 gene folds: each pair scored by translators that saw neither of "
                 "its genes; AUROC / AUPRC over the network regulators' pairs; pearson is |r|):\n")
    rows, refused = [], {}
    for net_name, path in NETWORKS.items():
        for scale, g in grns.items():
            t0 = time.perf_counter()
            try:
                g = ug.tl.translate(g.detached(), network=str(path), k=5, seed=0)
            except UGRNError as exc:
                refused[net_name] = str(exc)
                break
            e = g.edges()
            e = e[e.source.isin(g.network.regulators) & (e.source != e.target)]
            y = e.known.astype(int).to_numpy()
            for c in [c for c in ("vvp", "gt", "vvp_prob", "gt_prob", "ensemble", "pearson") if c in e]:
                v = e[c].to_numpy(dtype=float)
                v = np.abs(v) if c == "pearson" else v
                ok = np.isfinite(v)
                rows.append({"network": net_name, "scale": scale, "score": c, "auroc": roc_auc_score(y[ok], v[ok]),
                             "auprc": average_precision_score(y[ok], v[ok]), "pairs": int(ok.sum()), "edges": int(y[ok].sum())})
            print(f"out-of-fold {net_name} {scale}: {time.perf_counter() - t0:.0f} s", flush=True)
    oof = pd.DataFrame(rows)
    for net_name, msg in refused.items():
        lines.append(f"- {net_name}: refused — {msg}")
    if len(oof):
        scores = list(oof.score.unique())
        lines.append("\n| network | scale | pairs (edges) | " + " | ".join(scores) + " |\n|---|---|---|" + "---|" * len(scores))
        for (net_name, scale), grp in oof.groupby(["network", "scale"], sort=False):
            lines.append(f"| {net_name} | {scale} | {grp.pairs.iloc[0]:,} ({grp.edges.iloc[0]}) | "
                         + " | ".join(f"{r.auroc:.3f} / {r.auprc:.3f}" for r in grp.itertuples()) + " |")
    lines.append("\nWhere the app's panel holds too few known edges, the held-out-gene benchmark on a panel of the "
                 "CollecTRI genes (`bench/target_scale.py --sets kang`, `target_scale.md`) measures the translators.\n")
    counts = grns["none"].network.edges.source.value_counts()  # the TRRUST edges tl.extract attached
    shown = list(counts.index[:3])
    lines.append("**Top regulators' targets before and after scaling** (the TRRUST regulators with the most edges in "
                 "the panel; five best untrained VVP targets, * = TRRUST edge):\n")
    lines.append("| regulator | raw VVP | scaled VVP |\n|---|---|---|")
    for r in shown:
        cells = []
        for g in grns.values():
            t = g.targets(r, by="vvp", n=5)
            cells.append(", ".join(f"{x.target}{'*' if x.known else ''}" for x in t.itertuples()))
        lines.append(f"| {r} | {cells[0]} | {cells[1]} |")
    return write_report(lines, a.out)


if __name__ == "__main__":
    sys.exit(main())

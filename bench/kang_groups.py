"""The Kang 2018 IFN-β walk-through (issue #19): what the app's steps find on control vs
stimulated PBMCs, and how long each takes. Writes ``bench/results/kang_groups.md``.

    python bench/kang_groups.py

The steps are the app's, called through the library the app calls: *Pretrain a model on
this dataset* (quick recipe), *Network of* ``condition = ctrl`` / ``stim`` with the Compare
groups page's defaults (Pert and VVP), the regulators and edges that changed, the Pathways
page's over-representation test against the MSigDB Hallmark sets, and the Perturbation-axis
page (``ctrl`` → ``stim``).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from reporting import KANG, RESULTS, SHARED, kang_missing, write_report

HALLMARK = SHARED / "genesets" / "h.all.v7.0.symbols.gmt"
TRRUST = SHARED / "networks" / "trrust_rawdata.human.tsv"
IFN_SETS = ("HALLMARK_INTERFERON_ALPHA_RESPONSE", "HALLMARK_INTERFERON_GAMMA_RESPONSE")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default="quick")
    ap.add_argument("--n-genes", type=int, default=100)
    ap.add_argument("--out", default=str(RESULTS / "kang_groups.md"))
    a = ap.parse_args()
    if kang_missing():
        return 0
    import anndata as ad

    import ugrn_core as ug
    from ugrn_core.data.networks import read_network
    from ugrn_core.groups import changed_edges, regulator_change
    from ugrn_core.models.pretrain import format_metrics, read_metrics
    from ugrn_core.models.pretrain_job import pretrain_for_dataset
    from ugrn_core.pathways import enrichment, read_gmt

    adata = ad.read_h5ad(KANG)
    hallmark = read_gmt(HALLMARK)
    ifn = set().union(*(set(hallmark[s]) for s in IFN_SETS))
    lines = ["# Kang 2018 IFN-β PBMCs: control vs stimulated, the app's steps\n",
             f"`python bench/kang_groups.py` on 2 CPU cores ({adata.n_obs} cells × {adata.n_vars} genes; "
             f"{', '.join(f'{g} {n}' for g, n in adata.obs.condition.value_counts().items())} cells). "
             f"* marks a gene of the Hallmark interferon α/γ response sets.\n"]
    mark = lambda g: f"{g}*" if g in ifn else g  # noqa: E731

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as root:
        folder = pretrain_for_dataset(adata, a.recipe, root=root, network_regulators=set(read_network(str(TRRUST)).source))
        metrics = read_metrics(folder)
        model = ug.models.load(str(folder))
        t_pre = time.perf_counter() - t0
        lines.append(f"**1. Pretrain** ({a.recipe} recipe): {t_pre:.0f} s. {format_metrics(metrics)}\n")

        t0 = time.perf_counter()
        res = ug.tl.extract(adata, model=model, methods=("pert", "vvp"), n_genes=a.n_genes, groupby="condition",
                            groups=["ctrl", "stim"], network=str(TRRUST), key_added=None, progress=False, cache=False)
        t_ext = time.perf_counter() - t0
        ctrl, stim = res["ctrl"], res["stim"]
        lines.append(f"**2. Group networks** (`condition` = ctrl and stim, Pert + VVP, panel {len(ctrl.panel)} genes: "
                     f"{len(ctrl.regulators)} expressed regulators {', '.join(ctrl.regulators)} + the most variable "
                     f"genes; scale {ctrl.params.scale}): {t_ext:.0f} s for both.\n")

        diff = ug.tl.differential(res, "ctrl", "stim")
        lines.append("**3. Compare groups** — summed out-edge score per source, ctrl → stim:\n")
        lines.append("| score | largest falls | largest rises |\n|---|---|---|")
        for method in ("pert", "vvp"):
            ch = regulator_change(diff, method).dropna(subset=["relative"])
            falls = ", ".join(f"{mark(r.source)} {r.relative:+.0%}" for r in ch.head(5).itertuples())
            rises = ", ".join(f"{mark(r.source)} {r.relative:+.0%}" for r in ch.tail(5).iloc[::-1].itertuples())
            lines.append(f"| {method} | {falls} | {rises} |")
        regs = [g for g in ctrl.regulators]
        if regs:
            ch = regulator_change(diff[diff.source.isin(regs)], "vvp")
            lines.append("\nThe panel's transcription factors, VVP: " + ", ".join(
                f"{mark(r.source)} {r.relative:+.0%}" for r in ch.itertuples()) + ".\n")
        top = changed_edges(diff, "vvp", 15)
        lines.append("Most changed VVP edges (score ctrl → stim): " + ", ".join(
            f"{mark(r.source)}→{mark(r.target)} ({r.score_A:.2g}→{r.score_B:.2g})" for r in top.itertuples()) + "\n")
        n_ifn = sum(g in ifn for g in set(top.source) | set(top.target))
        lines.append(f"{n_ifn} of the {len(set(top.source) | set(top.target))} genes on those edges are interferon-"
                     f"response genes (the panel holds {sum(g in ifn for g in ctrl.panel)} of {len(ctrl.panel)}).\n")

        lines.append("**4. Pathways** — top 15 VVP targets in stim of the sources whose out-edges rose most, tested "
                     "against the 50 Hallmark sets (hypergeometric, universe = the panel):\n")
        lines.append("| source | best Hallmark set | overlap | FDR | interferon sets' rank |\n|---|---|---|---|---|")
        t0 = time.perf_counter()
        for src in regulator_change(diff, "vvp").dropna(subset=["relative"]).tail(3).source.iloc[::-1]:
            targets = stim.targets(src, by="vvp", n=15).target.tolist()
            tab = enrichment(targets, stim.panel, hallmark)
            ranks = [str(int(tab.index[tab.gene_set == s][0]) + 1) if (tab.gene_set == s).any() else "—" for s in IFN_SETS]
            best = tab.iloc[0]
            lines.append(f"| {mark(src)} | {best.gene_set} | {best.overlap}/{best.set_size} | {best.fdr:.2g} | "
                         f"α {ranks[0]}, γ {ranks[1]} |")
        t_path = time.perf_counter() - t0

        t0 = time.perf_counter()
        axis = ug.tl.axis(adata, "condition", "ctrl", "stim", progress=False)
        t_axis = time.perf_counter() - t0
        top_axis = axis.top_genes(20)
        lines.append(f"\n**5. Perturbation axis** (ctrl → stim, VAE on {len(axis.scores)} genes): {t_axis:.0f} s. Top 20 "
                     f"genes by gradient score: {', '.join(mark(g) for g in top_axis)} — "
                     f"{sum(g in ifn for g in top_axis)} interferon-response genes; Spearman with the mean-difference "
                     f"baseline {axis.agreement():.2f}.\n")
        lines.append(f"Pathway tests took {t_path:.1f} s.\n")
    return write_report(lines, a.out)


if __name__ == "__main__":
    sys.exit(main())

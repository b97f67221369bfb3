"""Per-target scaling of responses (issue #21): does a score stop tracking abundance, and
what does it cost in accuracy?

For each dataset and each scaling (``none``, ``output_sd``, ``data_sd``; see
``ugrn_core/extract/scale.py``) it runs the gene-disjoint benchmark (translators trained on
one half of the genes, every method scored on pairs among the other half) and measures the
Spearman correlation between a target's mean untrained score (over the network's
regulators) and its mean log expression. Raw features come from the feature cache, so each
scaling re-reads them and only divides.

    python bench/target_scale.py --sets demo --seeds 10,11,12,13,14
    python bench/target_scale.py --sets kang,hHEP,mDC,mESC,mHSC-L --seeds 10,11,12 \\
        --kang-model KANG_MODEL --beeline-model BEE_MODEL
    python bench/target_scale.py --report          # the tables again, from the CSV

Models: ``default`` for the demo; a Kang model from ``python -m ugrn_core pretrain --data
KANG.h5ad --network TRRUST --out KANG_MODEL``; the BEELINE model from ``bench_beeline.py``'s
docstring (joint pretraining on the four TFs+500 sets).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("UGRN_SHARED_DATA", ROOT.parent / "shared" / "data"))
BEELINE = SHARED / "benchmark" / "beeline_genelink"
KANG = SHARED / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad"
CSV = ROOT / "bench" / "results" / "target_scale.csv"
METHODS = ("pert", "vvp", "gt")


def dataset(name: str, a) -> tuple[str, str, str] | None:
    """(data, network, model) for a set name, or None when the shared data lacks it."""
    if name == "demo":
        return "demo", "demo", a.demo_model
    if name == "kang":
        return (str(KANG), str(SHARED / "networks" / "collectri" / "collectri_human.csv"), a.kang_model) if KANG.exists() else None
    expr, net = BEELINE / "expression" / name / "TFs+500", BEELINE / "string" / name / "TFs+500"
    return (str(expr), str(net), a.beeline_model) if expr.is_dir() and net.is_dir() else None


def abundance_rho(bset, feats) -> float:
    """Spearman(target's mean score over the regulators, target's mean log expression)."""
    panel = bset.prepared.panel
    score = feats.score.astype(np.float64).copy()
    rows = [panel.index(s) for s in feats.sources]
    score[np.arange(len(rows)), rows] = np.nan  # self-pairs are not edges
    mean_score = np.nanmean(score, axis=0)
    mean_expr = np.asarray(bset.expression).mean(axis=0)
    return float(spearmanr(mean_score, mean_expr).statistic)


def run(a) -> pd.DataFrame:
    from ugrn_core.benchmark import load_benchmark_set, run_benchmark
    from ugrn_core.extract import ExtractionParams, FeatureCache
    from ugrn_core.models.foundation import load_model

    frames, cache = [], FeatureCache()
    for name in a.sets.split(","):
        spec = dataset(name, a)
        if spec is None or spec[2] is None:
            print(f"{name}: data or model not given/present, skipped", flush=True)
            continue
        data, network, model_spec = spec
        model = load_model(model_spec, device="cpu")
        bset = load_benchmark_set(data, network, model, a.n_genes, name=name)
        regs = sorted(bset.pairs.source.unique())
        if len(regs) > a.max_regulators:  # a fixed sample keeps the big BEELINE panels to minutes on 2 cores
            keep = set(np.random.default_rng(0).choice(regs, a.max_regulators, replace=False))
            bset.pairs = bset.pairs[bset.pairs.source.isin(keep)].reset_index(drop=True)
        print(bset.summary(), flush=True)
        for scale in a.scales.split(","):
            bset.features = {}
            for seed in [int(s) for s in a.seeds.split(",")]:
                t0 = time.perf_counter()
                res = run_benchmark(bset, model, "genes", methods=METHODS, classical=tuple(a.classical.split(",")),
                                    params=ExtractionParams(scale=scale), cache=cache, seed=seed)
                rho = {f"{m}_abundance_rho": abundance_rho(bset, bset.features[m]) for m in METHODS}
                frames.append(res.metrics.assign(dataset=name, scale=scale, seed=seed, **rho))
                print(f"{name} {scale} seed {seed}: {time.perf_counter() - t0:.0f} s; "
                      + ", ".join(f"{k} {v:.2f}" for k, v in rho.items()), flush=True)
        table = pd.concat(frames, ignore_index=True)
        CSV.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(a.out, index=False)  # after every set, so a long run keeps what it finished
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["dataset", "negatives"])


def report(table: pd.DataFrame) -> str:
    """Markdown: per dataset, rows = scaling, columns = abundance rho and balanced AUROC/AUPRC (mean ± sd over seeds)."""
    parts = []
    bal = table[(table.negatives == "balanced")]
    for name, grp in bal.groupby("dataset", sort=False):
        seeds = sorted(grp.seed.unique())
        g0 = grp[grp.method == "pert"]
        parts.append(f"**{name}** (seeds {', '.join(map(str, seeds))}; {g0.n_pairs.mean():.0f} held-out pairs, "
                     f"{g0.n_edges.mean():.0f} edges on average; balanced negatives)\n")
        cols = ["pert", "vvp", "gt", "pert_prob", "vvp_prob", "gt_prob", "ensemble", "pearson", "grnboost"]
        cols = [c for c in cols if c in set(grp.method)]
        parts.append("| scale | ρ(score, expr) pert / vvp / gt | " + " | ".join(f"{c} AUROC" for c in cols) + " |")
        parts.append("|---|---|" + "---|" * len(cols))
        for scale, gs in grp.groupby("scale", sort=False):
            first = gs.drop_duplicates("seed")
            rho = " / ".join(f"{first[f'{m}_abundance_rho'].mean():.2f}" for m in METHODS)

            def cell(method):
                v = gs[gs.method == method].auroc
                return f"{v.mean():.3f} ± {v.std(ddof=1) if len(v) > 1 else 0:.3f}"
            parts.append(f"| {scale} | {rho} | " + " | ".join(cell(c) for c in cols) + " |")
        parts.append("")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="demo", help="demo, kang, hHEP, mDC, mESC, mHSC-L (comma-separated)")
    ap.add_argument("--scales", default="none,output_sd,data_sd")
    ap.add_argument("--seeds", default="10,11,12")
    ap.add_argument("--n-genes", type=int, default=300)
    ap.add_argument("--classical", default="pearson,grnboost")
    ap.add_argument("--max-regulators", type=int, default=60, help="score a fixed random sample of this many regulators")
    ap.add_argument("--demo-model", default="default")
    ap.add_argument("--kang-model")
    ap.add_argument("--beeline-model")
    ap.add_argument("--out", default=str(CSV))
    ap.add_argument("--report", action="store_true", help="print the tables from --out, run nothing")
    a = ap.parse_args()
    table = pd.read_csv(a.out) if a.report else run(a)
    print(report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

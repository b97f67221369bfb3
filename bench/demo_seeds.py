"""The demo's gene-disjoint benchmark over several seeds and virtual-cell contexts, summarised.

Runs what ``python -m ugrn_core benchmark --data demo --network demo --model MODEL --split
genes --seed S --context C`` runs, for every seed and context, writes the raw rows (one per
method, negatives, seed and context) and prints mean ± sd tables for
``bench/results/translator.md``:

    python bench/demo_seeds.py [--model default] [--seeds 0,1,2] [--contexts cells,background] [--controls]
                               [--scales none,output_sd]
    python bench/demo_seeds.py --report          # the tables again, from the CSV
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

CSV = ROOT / "bench" / "results" / "demo_genes_3seeds.csv"


def run(model_spec: str, seeds: list[int], contexts: list[str], out: Path, classical: tuple[str, ...], controls: bool,
        scales: tuple[str, ...] = ("none",)) -> pd.DataFrame:
    from ugrn_core.benchmark import load_benchmark_set, run_benchmark
    from ugrn_core.extract import ExtractionParams, FeatureCache
    from ugrn_core.models.foundation import load_model

    model = load_model(model_spec, device="cpu")
    bset = load_benchmark_set("demo", "demo", model, 300, name="demo")
    frames = []
    for context in contexts:
        for scale in scales:
            bset.features = {}  # features depend on the settings; the cache keeps them across seeds
            for seed in seeds:
                t0 = time.perf_counter()
                res = run_benchmark(bset, model, "genes", params=ExtractionParams(context=context, scale=scale),
                                    cache=FeatureCache(), seed=seed, classical=classical, controls=controls)
                frames.append(res.metrics.assign(seed=seed, context=context, scale=scale, model=model_spec))
                print(f"{context} {scale} seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
    table = pd.concat(frames, ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    return table


def report(table: pd.DataFrame) -> str:
    """Markdown mean ± sd per context and negatives, methods in the table's order."""
    parts = []
    if "scale" not in table:
        table = table.assign(scale="none")
    for (context, scale, negatives), grp in table.groupby(["context", "scale", "negatives"], sort=False):
        seeds = sorted(grp.seed.unique())
        parts.append(f"**{context} context, scale {scale}, {negatives} negatives** (mean ± sd over seeds "
                     f"{', '.join(map(str, seeds))}; {grp.n_pairs.mean():.0f} test pairs on average)\n")
        keys = [k for k in ("auroc", "auprc", "auprc_pr", "auprc_ratio", "epr", "sign_accuracy") if k in grp]
        names = {"auroc": "AUROC", "auprc": "AUPRC", "auprc_pr": "AUPRC (BEELINE)", "auprc_ratio": "AUPRC ratio",
                 "epr": "EPR", "sign_accuracy": "sign accuracy"}
        parts.append("| method | " + " | ".join(names[k] for k in keys) + " |\n|---|" + "---|" * len(keys))
        for method, g in grp.groupby("method", sort=False):
            cells = " | ".join("—" if g[k].isna().all() else f"{g[k].mean():.3f} ± {g[k].std(ddof=1) if len(g) > 1 else 0:.3f}"
                               for k in keys)
            parts.append(f"| {method} | {cells} |")
        parts.append("")
    return "\n".join(parts)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="default")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--contexts", default="cells,background")
    ap.add_argument("--out", default=str(CSV))
    ap.add_argument("--classical", default="pearson,spearman,grnboost", help="baselines (genie3 costs ~13 s per target)")
    ap.add_argument("--controls", action="store_true", help="add the *_random_model and *_permuted_network rows")
    ap.add_argument("--scales", default="none,output_sd", help="per-target scalings to compare (none, output_sd, data_sd)")
    ap.add_argument("--report", action="store_true", help="print the tables from --out, run nothing")
    a = ap.parse_args()
    out = Path(a.out)
    table = pd.read_csv(out) if a.report else run(a.model, [int(s) for s in a.seeds.split(",")], a.contexts.split(","), out,
                                                           tuple(a.classical.split(",")), a.controls,
                                                           tuple(a.scales.split(",")))
    print(report(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())

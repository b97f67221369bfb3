"""Pretraining recipes, measured: does the model learn regulation, and do VVP/GT read it out?

For each dataset (the demo, or a BEELINE set in ../shared/data) and one recipe, this
pretrains a model on the dataset's gene panel, reports its held-out masked-value error
against the two references (each gene's mean; a ridge regression from the same cell's
other genes), then runs the gene-disjoint benchmark (translators trained on half the
genes' regulations, scored on pairs of the other half) for every virtual-cell context
asked for. One CSV row per (recipe, dataset, network, context); ``--report`` turns the CSV
into the markdown table in bench/results/recipes.md.

    python bench/recipe_study.py --recipe base --datasets demo --contexts background,partition
    python bench/recipe_study.py --recipe sched --mask-schedule uniform --datasets demo
    python bench/recipe_study.py --report
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from ugrn_core.benchmark import load_benchmark_set, run_benchmark  # noqa: E402
from ugrn_core.data.io import read_dataset  # noqa: E402
from ugrn_core.data.networks import read_network  # noqa: E402
from ugrn_core.data.preprocess import dense_matrix, preprocess, select_panel, stack_datasets  # noqa: E402
from ugrn_core.errors import UGRNError  # noqa: E402
from ugrn_core.extract import ExtractionParams, FeatureCache  # noqa: E402
from ugrn_core.models.foundation import load_model  # noqa: E402
from ugrn_core.models.pretrain import PretrainConfig, format_metrics, pretrain, save_pretrained  # noqa: E402

SHARED = Path(os.environ.get("UGRN_SHARED_DATA", ROOT.parent / "shared" / "data"))
BEELINE = SHARED / "benchmark" / "beeline_genelink"
CSV = ROOT / "bench" / "results" / "recipe_study.csv"
METHODS = ("pert", "emb", "vvp", "gt", "ensemble", "pearson", "grnboost")


def sources(dataset: str, network: str, size: str) -> tuple[str, str]:
    if dataset == "demo":
        return "demo", "demo"
    return str(BEELINE / "expression" / dataset / size), str(BEELINE / network / dataset / size)


def panel_data(data: str, networks: list[str], n_genes: int):
    """The dataset and the genes its benchmarks will use (most variable genes of any of the
    networks): the model is pretrained on these, so every benchmark panel is known."""
    adata, _ = preprocess(read_dataset(data))
    names = set()
    for network in networks:
        net = read_network(network)
        names |= set(net.source) | set(net.target)
    cand = [g for g in adata.var_names if g.upper() in names]
    return adata, select_panel(adata, n_genes, candidates=cand)


def networks_of(dataset: str, a) -> list[str]:
    return ["demo"] if dataset == "demo" else a.networks.split(",")


def present(dataset: str, a) -> bool:
    data0, _ = sources(dataset, networks_of(dataset, a)[0], a.size)
    if dataset != "demo" and not Path(data0).is_dir():
        print(f"skip {dataset}: {data0} not present")
        return False
    return True


def training_data(datasets: list[str], a):
    """(X, genes) to pretrain on: one dataset's panel, or several stacked (``--pool``)."""
    loaded = {}
    for dataset in datasets:
        nets = [sources(dataset, n, a.size)[1] for n in networks_of(dataset, a)]
        loaded[dataset] = panel_data(sources(dataset, nets[0], a.size)[0],
                                     [n for n in nets if n == "demo" or Path(n).exists()], a.n_genes)
    if len(loaded) == 1:
        adata, genes = next(iter(loaded.values()))
        return dense_matrix(adata, genes), genes
    X, genes, _ = stack_datasets({k: v[0] for k, v in loaded.items()}, a.n_genes, {k: v[1] for k, v in loaded.items()})
    return X, genes


def epoch_printer(label: str):
    t0 = time.perf_counter()

    def show(epoch: int, total: int, h: dict) -> None:
        print(f"  [{label}] epoch {epoch}/{total} train {h['train_loss']:.4f} val {h['val_mse']:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return show


def run(a) -> None:
    lo, hi = (float(v) for v in a.mask_range.split(","))
    cfg = PretrainConfig(epochs=a.epochs, nlayers=a.layers, d_model=a.d_model, d_hid=2 * a.d_model,
                         mask_ratio=a.mask_ratio, mask_schedule=a.mask_schedule, mask_range=(lo, hi),
                         attention=a.attention, lr_schedule=a.lr_schedule, value_transform=a.values,
                         max_seq_len=a.seq, lr=a.lr, seed=a.seed)
    datasets = [d for d in a.datasets.split(",") if present(d, a)]
    pooled = None
    if a.pool and not a.model and datasets:  # one model pretrained on every dataset, stacked
        t0 = time.perf_counter()
        X, genes = training_data(datasets, a)
        res = pretrain(X, genes, cfg, device=a.device, progress=epoch_printer("pooled"))
        pooled = (save_pretrained(res, Path(a.model_dir) / f"{a.recipe}_pooled", "+".join(datasets)), res.metrics)
        print(f"[{a.recipe} / pooled {'+'.join(datasets)}, {len(genes)} genes] {format_metrics(res.metrics)} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    classical = tuple(c for c in a.classical.split(",") if c)
    rows = []
    for dataset in datasets:
        networks = networks_of(dataset, a)
        t0 = time.perf_counter()
        if a.model:  # an existing checkpoint (e.g. the shipped default): its own metrics.json
            folder = a.model
            model = load_model(folder, device=a.device)
            m = json.loads((Path(model.path) / "metrics.json").read_text())
        elif pooled:
            model, m = load_model(str(pooled[0]), device=a.device), pooled[1]
        else:
            X, genes = training_data([dataset], a)
            res = pretrain(X, genes, cfg, device=a.device, progress=epoch_printer(dataset))
            folder = save_pretrained(res, Path(a.model_dir) / f"{a.recipe}_{dataset}", dataset)
            model = load_model(str(folder), device=a.device)
            m = res.metrics
        print(f"[{a.recipe} / {dataset}] {format_metrics(m)}", flush=True)
        for network in networks:
            data, net = sources(dataset, network, a.size)
            if not Path(net).exists() and net != "demo":
                print(f"skip {dataset}/{network}: no network")
                continue
            try:
                bset = load_benchmark_set(data, net, model, a.n_genes, min_coverage=0.0, name=dataset)
            except UGRNError as exc:
                print(f"skip {dataset}/{network}: {exc}")
                continue
            for context in a.contexts.split(","):
                params = ExtractionParams(context=context, fill=a.fill, n_cells=a.n_cells, vvp_values=a.grid, gt_values=a.grid)
                bset.features = {}
                b = run_benchmark(bset, model, "genes", classical=classical, params=params,
                                  cache=FeatureCache(), seed=a.seed)
                ctx = (f"cells/n={a.n_cells}" if context == "cells" else f"{context}/{a.fill}") + (f"/M=T={a.grid}" if a.grid != 8 else "")
                row = {"recipe": a.recipe, "dataset": dataset, "network": network, "context": ctx,
                       "values": a.values, "mask": f"{a.mask_schedule}:{a.mask_ratio if a.mask_schedule == 'fixed' else a.mask_range}",
                       "seq": a.seq, "attention": a.attention, "lr_schedule": a.lr_schedule,
                       "pooled": bool(pooled), "d_model": a.d_model,
                       "layers": a.layers, "epochs_run": m["epochs_run"], "train_s": m["train_seconds"],
                       "mse_model": m["mse_model"], "mse_gene_mean": m["mse_gene_mean"], "mse_ridge": m["mse_ridge"],
                       "test_edges": b.report["test_edges"], "test_pairs": b.report["test_pairs"]}
                for _, r in b.metrics.iterrows():
                    name = r.method[: -len("_prob")] if r.method.endswith("_prob") else r.method
                    untrained = r.method in ("pert", "emb", "vvp", "gt")
                    if name in METHODS and not untrained:  # the CSV's vvp_* columns are the translators
                        neg = "bal" if r.negatives == "balanced" else "full"
                        for k in ("auroc", "auprc", "epr"):
                            row[f"{name}_{k}_{neg}"] = r[k]
                rows.append(row)
                print(f"  {network} / {context}: AUROC (balanced) " + ", ".join(
                    f"{mm} {row.get(f'{mm}_auroc_bal', float('nan')):.3f}" for mm in METHODS), flush=True)
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    new = pd.DataFrame(rows)
    if out.exists():
        old = pd.read_csv(out)
        key = ["recipe", "dataset", "network", "context"]
        old = old[~old.set_index(key).index.isin(new.set_index(key).index)] if len(new) else old
        new = pd.concat([old, new], ignore_index=True)
    new.to_csv(out, index=False)


def report(path: Path) -> str:
    t = pd.read_csv(path)
    lines = []
    for neg, label in (("bal", "balanced negatives"), ("full", "all negatives")):
        lines += [f"\n**AUROC / AUPRC / EPR, {label}** (held-out genes)\n",
                  "| recipe | data | network | context | MSE model / mean / ridge | " + " | ".join(METHODS) + " |",
                  "|---" * (5 + len(METHODS)) + "|"]
        for _, r in t.iterrows():
            cells = [f"{r[f'{m}_auroc_{neg}']:.3f} / {r[f'{m}_auprc_{neg}']:.3f} / {r[f'{m}_epr_{neg}']:.2f}"
                     if f"{m}_auroc_{neg}" in r and pd.notna(r[f"{m}_auroc_{neg}"]) else "–" for m in METHODS]
            lines.append(f"| {r.recipe} | {r.dataset} | {r.network} | {r.context} | "
                         f"{r.mse_model:.3f} / {r.mse_gene_mean:.3f} / {r.mse_ridge:.3f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare(path: Path, recipe: str) -> str:
    """One recipe's contexts side by side per dataset and network, next to |Pearson| and
    GRNBoost (taken from any row of the same dataset and network that ran it: same panel, split)."""
    t = pd.read_csv(path)
    mine = t[t.recipe == recipe]
    lines = ["| data / network | context | VVP / GT / ensemble AUROC | ensemble AUPRC (all neg.) | "
             "\\|Pearson\\| AUROC / AUPRC (all neg.) | GRNBoost AUROC |", "|---" * 6 + "|"]
    for (dataset, network), grp in mine.groupby(["dataset", "network"], sort=False):
        boost = t[(t.dataset == dataset) & (t.network == network)]["grnboost_auroc_bal"].dropna()
        for _, r in grp.iterrows():
            lines.append(f"| {dataset} / {network} | {r.context} | {r.vvp_auroc_bal:.3f} / {r.gt_auroc_bal:.3f} / "
                         f"{r.ensemble_auroc_bal:.3f} | {r.ensemble_auprc_full:.3f} | {r.pearson_auroc_bal:.3f} / "
                         f"{r.pearson_auprc_full:.3f} | {boost.iloc[0] if len(boost) else float('nan'):.3f} |")
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="base")
    p.add_argument("--model", default=None, help="benchmark this checkpoint (e.g. default) instead of pretraining")
    p.add_argument("--datasets", default="demo", help="demo and/or hHEP,mDC,mESC,mHSC-L")
    p.add_argument("--networks", default="string,nonspecific_chip")
    p.add_argument("--size", default="TFs+500")
    p.add_argument("--contexts", default="background,partition")
    p.add_argument("--fill", default="constant", choices=["constant", "mean"])
    p.add_argument("--n-cells", type=int, default=8, help="real cells of the cells context")
    p.add_argument("--n-genes", type=int, default=300)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--values", default="log1p", choices=["log1p", "binned"])
    p.add_argument("--mask-ratio", type=float, default=0.4)
    p.add_argument("--mask-schedule", default="fixed", choices=["fixed", "uniform"])
    p.add_argument("--mask-range", default="0.15,0.9", help="low,high of the uniform mask-ratio schedule")
    p.add_argument("--attention", default="full", choices=["full", "visible"])
    p.add_argument("--lr-schedule", default="cosine", choices=["cosine", "constant"])
    p.add_argument("--pool", action="store_true", help="pretrain one model on all --datasets stacked")
    p.add_argument("--grid", type=int, default=8, help="M = T, source values swept by VVP / GT")
    p.add_argument("--classical", default="pearson,grnboost",
                   help="classical baselines to run (GRNBoost dominates a demo row's time)")
    p.add_argument("--seq", type=int, default=128, help="genes per training sequence")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--model-dir", default="/tmp/ugrn_recipes")
    p.add_argument("--out", default=str(CSV))
    p.add_argument("--report", action="store_true", help="print the markdown table of --out and stop")
    p.add_argument("--compare", metavar="RECIPE", help="print RECIPE's contexts side by side (from --out) and stop")
    a = p.parse_args()
    if a.report:
        print(report(Path(a.out)))
        return 0
    if a.compare:
        print(compare(Path(a.out), a.compare))
        return 0
    run(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())

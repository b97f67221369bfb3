"""Pretraining measured end to end on the simulated family and the shared real sets.

Per dataset: `pretrain` with the default recipe (the user's command, through the CLI), its
held-out masked-value error against the gene-mean and ridge references, the training time
and how training ended; then `benchmark --split genes` on that model: held-out-gene AUROC /
AUPRC of VVP, GT, the ensemble, |Pearson| and the tree baseline. Writes one CSV row per
dataset and the table `bench/results/pretrain_family.md`.

    python bench/pretrain_family.py --lists dev            # choose recipes here
    python bench/pretrain_family.py --lists val            # report only, never choose with it
    python bench/pretrain_family.py --lists real           # the six real sets in ../shared/data
    python bench/pretrain_family.py --only dev-4 --budget 120 --skip-benchmark
    python bench/pretrain_family.py --table-only           # rebuild the table from the rows
    python bench/pretrain_family.py --lists dev --work /tmp/lever --linear-path ridge   # a lever (pretrain option)
    python bench/pretrain_family.py --compare /tmp/base/rows /tmp/lever/rows --label "ridge path"

The development list is for choosing; the validation list is run once a recipe is chosen.
Each dataset's row is written to ``<work>/rows/<name>.json`` as soon as it is done, so two
runs on different lists can share one machine (``--threads 1`` each) and the table is
assembled from whatever rows exist.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from ugrn_core.data.family import DEVELOPMENT, VALIDATION, write_family_dataset  # noqa: E402
from reporting import REAL_SETS  # noqa: E402

RESULTS = ROOT / "bench" / "results"
METHODS = ("vvp", "gt", "ensemble", "pearson", "grnboost")
# row column prefix -> metrics.csv method: VVP and GT are their translators' probabilities
METRIC_OF = {"vvp": "vvp_prob", "gt": "gt_prob"}
REAL = REAL_SETS


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "ugrn_core", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def _family_item(spec, work: Path) -> dict:
    data, network = write_family_dataset(spec, work / "data")
    return {"dataset": spec.name, "list": "dev" if spec in DEVELOPMENT else "val", "spec": spec.describe(),
            "data": data, "network": network}


def _real_item(name: str) -> dict | None:
    data, network, what = REAL[name]
    if not (Path(data).exists() and Path(network).exists()):
        print(f"{name}: {data} or {network} not present, skipped", flush=True)
        return None
    return {"dataset": name, "list": "real", "spec": what, "data": str(data), "network": str(network)}


def run_one(item: dict, work: Path, budget: float, n_genes: int, skip_benchmark: bool, extra: list[str],
            reuse: bool = False) -> dict:
    data, network, name = item["data"], item["network"], item["dataset"]
    model = work / "models" / name
    t0 = time.perf_counter()
    trained = not (reuse and (model / "metrics.json").is_file())
    load_before = os.getloadavg()[0]
    if trained:
        _cli("pretrain", "--data", data, "--out", str(model), "--budget", str(budget), *extra)
    m = json.loads((model / "metrics.json").read_text())
    row = {"dataset": name, "list": item["list"], "spec": item["spec"], "cells": m["train_cells"] + m["selection_cells"]
           + m["heldout_cells"], "genes": m["genes"],
           "mse_model": m["mse_model"], "mse_gene_mean": m["mse_gene_mean"], "mse_ridge": m["mse_ridge"],
           "skill_vs_mean": m["skill_vs_gene_mean"], "skill_vs_ridge": m["skill_vs_ridge"], "outcome": m["outcome"],
           "steps": m["steps"], "stopped": m["stopped"], "train_s": m["train_seconds"],
           "pretrain_wall_s": round(time.perf_counter() - t0, 1) if trained else None, "benchmark_genes": n_genes,
           # a time-budgeted run shares its cores with whatever else runs: the 1-minute load
           # average before and after says whether it had the machine (side-by-side runs
           # starve each other far beyond their share)
           "load_before": round(load_before, 2) if trained else None,
           "load_after": round(os.getloadavg()[0], 2) if trained else None}
    if not skip_benchmark:
        out = work / "bench" / name
        t0 = time.perf_counter()
        try:
            _cli("benchmark", "--data", data, "--network", network, "--model", str(model), "--split", "genes",
                 "--n-genes", str(n_genes), "--methods", "vvp,gt", "--classical", "pearson,grnboost", "--out", str(out))
        except subprocess.CalledProcessError as err:  # keep the pretraining row
            row["benchmark_error"] = f"exit {err.returncode}"
            return row
        row["benchmark_wall_s"] = round(time.perf_counter() - t0, 1)
        metrics = pd.read_csv(out / "metrics.csv")
        bal = metrics[metrics.negatives == "balanced"].set_index("method")
        for method in METHODS:
            name = METRIC_OF.get(method, method)
            if name in bal.index:
                row[f"{method}_auroc"] = float(bal.loc[name, "auroc"])
                row[f"{method}_auprc"] = float(bal.loc[name, "auprc"])
    return row


def _best_of(rows: pd.DataFrame) -> pd.Series:
    """Per dataset, the best AUROC of VVP, GT and the ensemble (the issue's 'best of')."""
    return rows[["vvp_auroc", "gt_auroc", "ensemble_auroc"]].max(axis=1)


def _median_line(rows: pd.DataFrame) -> str:
    best = _best_of(rows)
    beats = int((rows.skill_vs_ridge > 0).sum())
    return (f"beats ridge on {beats} of {len(rows)}; median AUROC best of VVP/GT/ens {best.median():.3f}, "
            f"VVP {rows.vvp_auroc.median():.3f}, GT {rows.gt_auroc.median():.3f}, ens {rows.ensemble_auroc.median():.3f}, "
            f"|Pearson| {rows.pearson_auroc.median():.3f}, GRNBoost {rows.grnboost_auroc.median():.3f}")


def _bar_line(rows: pd.DataFrame) -> str:
    """The validation list's bar in the pretraining issue, said plainly whichever way it falls:
    the median best of VVP/GT/ensemble above 0.6 and above the median |Pearson|."""
    best = _best_of(rows).median()
    pearson = rows.pearson_auroc.median()
    return (f"Bar: median best of VVP/GT/ens {best:.3f} is {'above' if best > 0.6 else 'not above'} 0.6 and "
            f"{'above' if best > pearson else 'not above'} the median |Pearson| {pearson:.3f}.")


def _outcome(r) -> str:
    """The contract's verdict as `pretrain` printed it: a model behind ridge ends with the
    message that says how far it got and what to try."""
    said = "beats ridge" if r.outcome == "beats ridge" else "does not, message printed"
    return f"{r.skill_vs_ridge:+.1%}: {said}"


def write_table(rows: pd.DataFrame, path: Path) -> None:
    for m in METHODS:
        for k in ("auroc", "auprc"):
            if f"{m}_{k}" not in rows:
                rows[f"{m}_{k}"] = float("nan")
    lines = ["# Pretraining on the simulated family and the real sets", "",
             "Written by `bench/pretrain_family.py` (see its docstring for the commands). Masked-value MSE on "
             "held-out cells never used for a choice; AUROC with balanced negatives on held-out genes "
             "(`benchmark --split genes`).", ""]
    for key, title in (("dev", "Development list (recipes chosen here)"), ("val", "Validation list (never chosen with)"),
                       ("real", "Real sets (../shared/data)")):
        part = rows[rows["list"] == key].sort_values("dataset")
        if part.empty:
            continue
        lines += [f"## {title}", "",
                  "| dataset | cells x genes | model / gene mean / ridge MSE | skill vs ridge: outcome | steps, end |"
                  " train s | VVP | GT | ens | \\|Pearson\\| | GRNBoost |", "|---" * 11 + "|"]
        for r in part.itertuples():
            au = [f"{getattr(r, f'{m}_auroc'):.3f}" for m in METHODS]
            lines.append(f"| {r.dataset} | {r.cells} x {r.genes} | {r.mse_model:.3f} / {r.mse_gene_mean:.3f} / "
                         f"{r.mse_ridge:.3f} | {_outcome(r)} | {r.steps}, {r.stopped} | {r.train_s:.0f} | "
                         + " | ".join(au) + " |")
        lines += ["", f"Summary: {_median_line(part)}.", ""]
        if key == "val":
            lines += [_bar_line(part), ""]
    path.write_text("\n".join(lines) + "\n")


def compare_rows(base: pd.DataFrame, lever: pd.DataFrame, label: str) -> list[str]:
    """A lever against the default, per dataset both have: skill vs ridge and AUROCs side by side."""
    both = base.merge(lever, on="dataset", suffixes=("_base", "_lever")).sort_values("dataset")
    lines = [f"| dataset | skill vs ridge: default → {label} | best VVP/GT/ens: default → {label} | "
             "VVP | GT | ens | \\|Pearson\\| |", "|---" * 7 + "|"]
    for side in ("base", "lever"):
        both[f"best_auroc_{side}"] = both[[f"{m}_auroc_{side}" for m in ("vvp", "gt", "ensemble")]].max(axis=1)
    for r in both.itertuples():
        arrows = [f"{getattr(r, f'{m}_auroc_base'):.3f} → {getattr(r, f'{m}_auroc_lever'):.3f}"
                  for m in ("best", "vvp", "gt", "ensemble")]
        lines.append(f"| {r.dataset} | {r.skill_vs_ridge_base:+.1%} → {r.skill_vs_ridge_lever:+.1%} | "
                     + " | ".join(arrows) + f" | {r.pearson_auroc_lever:.3f} |")
    lines += ["", f"Medians over these {len(both)}: best of VVP/GT/ens {both.best_auroc_base.median():.3f} (default) vs "
              f"{both.best_auroc_lever.median():.3f} ({label}); |Pearson| {both.pearson_auroc_lever.median():.3f}.", ""]
    return lines


def _rows(folder: Path) -> pd.DataFrame:
    return pd.DataFrame([json.loads(f.read_text()) for f in sorted(Path(folder).glob("*.json"))])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lists", default="dev", help="comma-separated: dev, val, real")
    p.add_argument("--only", default="", help="comma-separated dataset names (e.g. dev-4,hHEP)")
    p.add_argument("--budget", type=float, default=1200.0, help="pretrain --budget (seconds)")
    p.add_argument("--n-genes", type=int, default=None,
                   help="benchmark panel size (default 150 for the simulated family, 300 = benchmark's default for real sets)")
    p.add_argument("--reuse-models", action="store_true", help="benchmark the models already in <work>/models, pretrain only missing ones")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0: all cores)")
    p.add_argument("--skip-benchmark", action="store_true")
    p.add_argument("--table-only", action="store_true", help="rebuild the CSV and table from the rows written so far")
    p.add_argument("--work", default="/tmp/ugrn_pretrain_family")
    p.add_argument("--csv", default=str(RESULTS / "pretrain_family.csv"))
    p.add_argument("--table", default=str(RESULTS / "pretrain_family.md"))
    p.add_argument("--compare", nargs=2, metavar=("DEFAULT_ROWS", "LEVER_ROWS"),
                   help="print a per-dataset table of a lever's rows against the default's and exit")
    p.add_argument("--label", default="lever", help="the lever's name in --compare's table")
    a, extra = p.parse_known_args()  # anything else goes to `pretrain` (e.g. --output residual)
    if a.compare:
        print("\n".join(compare_rows(_rows(Path(a.compare[0])), _rows(Path(a.compare[1])), a.label)))
        return 0
    work = Path(a.work)
    rows_dir = work / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)  # read by the torch of each CLI run
    if not a.table_only:
        names = a.only.split(",") if a.only else []
        lists = {"dev": [s.name for s in DEVELOPMENT], "val": [s.name for s in VALIDATION], "real": list(REAL)}
        if not names:
            names = [n for key in a.lists.split(",") for n in lists[key]]
        for name in names:
            item = _real_item(name) if name in REAL else _family_item(
                next(s for s in DEVELOPMENT + VALIDATION if s.name == name), work)
            if item is None:
                continue
            try:
                n_genes = a.n_genes or (300 if item["list"] == "real" else 150)
                row = run_one(item, work, a.budget, n_genes, a.skip_benchmark, extra, a.reuse_models)
            except subprocess.CalledProcessError as err:  # say which set failed, go on with the others
                print(f"{name}: {' '.join(err.cmd[2:4])} failed (exit {err.returncode}); no row written", flush=True)
                continue
            (rows_dir / f"{name}.json").write_text(json.dumps(row))
    new = _rows(rows_dir)
    if new.empty:
        print(f"no rows in {rows_dir}")
        return 0
    new.to_csv(a.csv, index=False)
    write_table(new, Path(a.table))
    print(new.drop(columns=["spec"]).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

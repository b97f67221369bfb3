"""Pretraining measured end to end on the simulated family (and, later, the shared real sets).

Per dataset: `pretrain` with the default recipe (the user's command, through the CLI), its
held-out masked-value error against the gene-mean and ridge references, the training time
and how training ended; then `benchmark --split genes` on that model: held-out-gene AUROC /
AUPRC of VVP, GT, the ensemble, |Pearson| and the tree baseline. Writes one CSV row per
dataset and the table `bench/results/pretrain_family.md`.

    python bench/pretrain_family.py --lists dev            # choose recipes here
    python bench/pretrain_family.py --lists val            # report only, never choose with it
    python bench/pretrain_family.py --only dev-4 --budget 120 --skip-benchmark

The development list is for choosing; the validation list is run once a recipe is chosen.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ugrn_core.data.family import DEVELOPMENT, VALIDATION, write_family_dataset  # noqa: E402

RESULTS = ROOT / "bench" / "results"
METHODS = ("vvp", "gt", "ensemble", "pearson", "grnboost")


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "ugrn_core", *args]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def run_one(spec, work: Path, budget: float, n_genes: int, skip_benchmark: bool, extra: list[str]) -> dict:
    data, network = write_family_dataset(spec, work / "data")
    model = work / "models" / spec.name
    t0 = time.perf_counter()
    _cli("pretrain", "--data", data, "--out", str(model), "--budget", str(budget), *extra)
    m = json.loads((model / "metrics.json").read_text())
    row = {"dataset": spec.name, "spec": spec.describe(), "cells": spec.n_cells, "genes": spec.n_genes,
           "mse_model": m["mse_model"], "mse_gene_mean": m["mse_gene_mean"], "mse_ridge": m["mse_ridge"],
           "skill_vs_mean": m["skill_vs_gene_mean"], "skill_vs_ridge": m["skill_vs_ridge"], "outcome": m["outcome"],
           "steps": m["steps"], "stopped": m["stopped"], "train_s": m["train_seconds"],
           "pretrain_wall_s": round(time.perf_counter() - t0, 1)}
    if not skip_benchmark:
        out = work / "bench" / spec.name
        _cli("benchmark", "--data", data, "--network", network, "--model", str(model), "--split", "genes",
             "--n-genes", str(n_genes), "--methods", "vvp,gt", "--classical", "pearson,grnboost", "--out", str(out))
        metrics = pd.read_csv(out / "metrics.csv")
        bal = metrics[metrics.negatives == "balanced"].set_index("method")
        for method in METHODS:
            if method in bal.index:
                row[f"{method}_auroc"] = float(bal.loc[method, "auroc"])
                row[f"{method}_auprc"] = float(bal.loc[method, "auprc"])
    return row


def write_table(rows: pd.DataFrame, path: Path) -> None:
    lines = ["# Pretraining on the simulated family", "",
             "Written by `bench/pretrain_family.py` (see its docstring for the commands). Masked-value MSE on "
             "held-out cells never used for a choice; AUROC with balanced negatives on held-out genes "
             "(`benchmark --split genes`).", "",
             "| dataset | cells x genes | model / gene mean / ridge MSE | skill vs ridge | steps, end | train s |"
             " VVP | GT | ens | \\|Pearson\\| | GRNBoost |", "|---" * 11 + "|"]
    for r in rows.itertuples():
        au = [f"{getattr(r, f'{m}_auroc', float('nan')):.3f}" for m in METHODS]
        lines.append(f"| {r.dataset} | {r.cells} x {r.genes} | {r.mse_model:.3f} / {r.mse_gene_mean:.3f} / "
                     f"{r.mse_ridge:.3f} | {r.skill_vs_ridge:+.1%} | {r.steps}, {r.stopped} | {r.train_s:.0f} | "
                     + " | ".join(au) + " |")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lists", default="dev", help="comma-separated: dev, val")
    p.add_argument("--only", default="", help="comma-separated dataset names (e.g. dev-4)")
    p.add_argument("--budget", type=float, default=1200.0, help="pretrain --budget (seconds)")
    p.add_argument("--n-genes", type=int, default=150, help="benchmark panel size")
    p.add_argument("--skip-benchmark", action="store_true")
    p.add_argument("--work", default="/tmp/ugrn_pretrain_family")
    p.add_argument("--csv", default=str(RESULTS / "pretrain_family.csv"))
    p.add_argument("--table", default=str(RESULTS / "pretrain_family.md"))
    a, extra = p.parse_known_args()  # anything else goes to `pretrain` (e.g. --output residual)
    specs = [s for key in a.lists.split(",") for s in {"dev": DEVELOPMENT, "val": VALIDATION}[key]]
    if a.only:
        specs = [s for s in DEVELOPMENT + VALIDATION if s.name in a.only.split(",")]
    rows = [run_one(s, Path(a.work), a.budget, a.n_genes, a.skip_benchmark, extra) for s in specs]
    new = pd.DataFrame(rows)
    csv = Path(a.csv)
    if csv.exists():  # keep other datasets' rows; replace the ones just run
        old = pd.read_csv(csv)
        new = pd.concat([old[~old.dataset.isin(new.dataset)], new], ignore_index=True)
    new.to_csv(csv, index=False)
    write_table(new.sort_values("dataset"), Path(a.table))
    print(new.to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Screen pretraining recipes on the development family: masked-value skill in a short budget.

The cheap question before any translator is trained: does a recipe leave the gene-mean
plateau and beat ridge on data it was not tuned on? Per development dataset, pretrain
in-process with the given ``PretrainConfig`` overrides and a short budget, and append one
CSV row (skill vs gene mean / ridge on the check cells, steps, seconds). Only the
development list is accepted: the validation list is never used for a choice.

    python bench/recipe_family.py NAME [key=value ...]   # e.g. lr=1e-3 max_seq_len=64
    BUDGET=180 ONLY=dev-0,dev-2 THREADS=1 python bench/recipe_family.py base
    python bench/recipe_family.py --report
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import fields
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]

from ugrn_core.data.family import DEVELOPMENT, simulate_family  # noqa: E402
from ugrn_core.data.preprocess import dense_matrix, preprocess, select_panel  # noqa: E402
from ugrn_core.models.pretrain import PretrainConfig, pretrain  # noqa: E402

OUT = ROOT / "bench" / "results" / "recipe_family.csv"


def _parse(overrides: list[str]) -> dict:
    types = {f.name: f.type for f in fields(PretrainConfig)}
    out = {}
    for item in overrides:
        key, value = item.split("=", 1)
        if key not in types:
            raise SystemExit(f"Unknown PretrainConfig field {key!r}")
        current = getattr(PretrainConfig(), key)
        if isinstance(current, tuple):
            out[key] = tuple(float(v) for v in value.split(","))
        elif isinstance(current, bool):
            out[key] = value.lower() in ("1", "true", "yes")
        elif isinstance(current, int) and not isinstance(current, bool):
            out[key] = int(value)
        elif isinstance(current, float) or current is None:
            out[key] = None if value == "None" else (int(value) if key == "epochs" else float(value))
        else:
            out[key] = value
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--report":
        df = pd.read_csv(OUT)
        piv = df.pivot_table(index="recipe", columns="dataset", values="skill_vs_ridge", aggfunc="last")
        piv["median"] = piv.median(axis=1)
        print(piv.sort_values("median").to_string(float_format=lambda v: f"{v:+.3f}"))
        return 0
    name, overrides = argv[0], _parse(argv[1:])
    torch.set_num_threads(int(os.environ.get("THREADS", "1")))
    budget = float(os.environ.get("BUDGET", "180"))
    only = os.environ.get("ONLY")
    specs = [s for s in DEVELOPMENT if not only or s.name in only.split(",")]
    for spec in specs:
        adata, _ = simulate_family(spec)
        adata, _ = preprocess(adata)
        genes = select_panel(adata, 150)
        X = dense_matrix(adata, genes)
        cfg = PretrainConfig(budget_s=budget, **overrides)
        t0 = time.perf_counter()
        m = pretrain(X, genes, cfg).metrics
        curve = ";".join(f"{h['step']}:{h['val_mse']:.4f}" for h in m["history"][:: max(1, len(m["history"]) // 8)])
        row = {"recipe": name, "overrides": " ".join(argv[1:]), "dataset": spec.name, "cells": X.shape[0],
               "genes": X.shape[1], "budget_s": budget, "skill_vs_mean": round(m["skill_vs_gene_mean"], 4),
               "skill_vs_ridge": round(m["skill_vs_ridge"], 4), "steps": m["steps"], "best_step": m["best_step"],
               "stopped": m["stopped"], "seconds": round(time.perf_counter() - t0, 1),
               "sel_model": round(m["selection_mse"], 4), "sel_mean": round(m["selection_mse_gene_mean"], 4),
               "sel_ridge": round(m["selection_mse_ridge"], 4), "curve": curve}
        print(row, flush=True)
        pd.DataFrame([row]).to_csv(OUT, mode="a", header=not OUT.exists(), index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Screen a pretraining recipe on the demo in minutes: masked-value check + untrained VVP/GT AUROC.

The full study (``recipe_study.py``) trains translators and runs GRNBoost for every row;
this probe answers the cheaper question first — did the model learn regulation at all? —
by scoring the *untrained* VVP/GT scores over all 30 regulators x 299 targets of the demo
against the simulated truth, next to |Pearson r| on the same pairs. One CSV row per run.

    python bench/recipe_probe.py NAME [PretrainConfig overrides, key=value ...]
    python bench/recipe_probe.py wide d_model=128 nlayers=2 d_hid=256 epochs=20
    python bench/recipe_probe.py visible attention=visible mask_schedule=uniform mask_range=0.15,1.0
    python bench/recipe_probe.py shipped --model default   # score an existing checkpoint
    python bench/recipe_probe.py --references   # AUROC of ridge-coefficient "gradients"
    python bench/recipe_probe.py --report

``CONTEXTS=background,masked,partition,cells`` picks the virtual-cell contexts (default the
first two); ``NCELLS=n`` the real cells of the ``cells`` context (default 8); ``GRID=M`` the number of source values VVP and GT sweep (M = T, default 8);
``THREADS=n`` the torch threads (default 1). Runs use one thread, so two probes can share a 2-core machine.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]

from sklearn.metrics import roc_auc_score  # noqa: E402

from ugrn_core.data.preprocess import dense_matrix, preprocess  # noqa: E402
from ugrn_core.data.simulate import simulate_demo  # noqa: E402
from ugrn_core.extract import ExtractionParams, extract_features  # noqa: E402
from ugrn_core.models.foundation import load_model  # noqa: E402
from ugrn_core.models.values import to_model_values  # noqa: E402
from ugrn_core.models.pretrain import PretrainConfig, format_metrics, pretrain, read_metrics, save_pretrained  # noqa: E402

CSV = ROOT / "bench" / "results" / "recipe_probe.csv"
MODEL_DIR = Path(os.environ.get("UGRN_PROBE_DIR", "/tmp/ugrn_probe"))


def demo():
    adata, net = simulate_demo()
    adata, _ = preprocess(adata)
    genes = list(adata.var_names)
    regs = [g for g in genes if g.startswith("TF")]
    truth = set(zip(net.source, net.target))
    pairs = [(i, j) for i, r in enumerate(regs) for j, t in enumerate(genes) if r != t]
    y = np.array([(regs[i], genes[j]) in truth for i, j in pairs])
    return dense_matrix(adata, genes), genes, regs, pairs, y


def parse_overrides(items: list[str]) -> dict:
    types = {f.name: type(getattr(PretrainConfig(), f.name)) for f in fields(PretrainConfig)}
    out = {}
    for item in items:
        key, value = item.split("=", 1)
        if key not in types:
            raise SystemExit(f"Unknown PretrainConfig field {key!r}; choose from {', '.join(types)}.")
        out[key] = tuple(float(v) for v in value.split(",")) if types[key] is tuple else types[key](value)
    return out


def auroc(y, s) -> float:
    return round(float(roc_auc_score(y, s)), 3)


def probe(name: str, overrides: dict, contexts: list[str], checkpoint: str | None = None, grid: int = 8,
          n_cells: int = 8) -> dict:
    X, genes, regs, pairs, y = demo()
    if checkpoint:  # score an existing model (e.g. the shipped default) with its own metrics.json
        model = load_model(checkpoint, device="cpu")
        m = read_metrics(model.path)
        overrides = {"checkpoint": checkpoint}
    else:
        t0 = time.perf_counter()
        show = lambda e, n, h: print(f"  [{name}] epoch {e}/{n} val {h['val_mse']:.4f} ({time.perf_counter() - t0:.0f} s)",  # noqa: E731
                                     flush=True)
        res = pretrain(X, genes, PretrainConfig(**overrides), device="cpu", progress=show)
        model = load_model(str(save_pretrained(res, MODEL_DIR / name, "demo")), device="cpu")
        m = res.metrics
    print(name, format_metrics(m), flush=True)
    idx = {g: i for i, g in enumerate(genes)}
    C = np.corrcoef(X.T)
    row = {"probe": name, "overrides": " ".join(f"{k}={v}" for k, v in overrides.items()) or "(defaults)", "grid": grid,
           "mse_model": m["mse_model"], "mse_gene_mean": m["mse_gene_mean"], "mse_ridge": m["mse_ridge"],
           "skill_vs_ridge": m["skill_vs_ridge"], "best_epoch": m["best_epoch"], "epochs_run": m["epochs_run"],
           "train_s": m["train_seconds"],
           "pearson": auroc(y, [abs(C[idx[regs[i]], j]) for i, j in pairs])}
    V = to_model_values(X, model.value_spec)
    mean = V.mean(axis=0)
    for ctx in contexts:
        for method in ("vvp", "gt"):
            f = extract_features(method, model, genes, sources=regs, mean_values=mean, cell_values=V,
                                 params=ExtractionParams(context=ctx, n_cells=n_cells, vvp_values=grid, gt_values=grid))
            row[f"{method}_{ctx}"] = auroc(y, [f.score[i, j] for i, j in pairs])
    if "cells" in contexts:
        row["n_cells"] = n_cells
    print(name, {k: v for k, v in row.items() if k.startswith(("vvp", "gt", "pearson"))}, flush=True)
    return row


def references() -> None:
    """Is regulation in a good predictor's gradients? Ridge coefficients, per penalty."""
    from sklearn.linear_model import Ridge, RidgeCV

    X, genes, regs, pairs, y = demo()
    X = X - X.mean(axis=0)
    for alpha in ("loo", 1.0, 1e2, 1e4):
        coef = np.zeros((len(genes), len(genes)))
        for j in range(len(genes)):
            others = np.delete(np.arange(len(genes)), j)
            reg = RidgeCV(alphas=np.logspace(-2, 4, 13)) if alpha == "loo" else Ridge(alpha=alpha)
            coef[others, j] = reg.fit(X[:, others], X[:, j]).coef_
        print(f"|ridge coefficient| AUROC, penalty {alpha}: {auroc(y, [abs(coef[i, j]) for i, j in pairs])}")


def append(row: dict) -> None:
    new = pd.DataFrame([row])
    if CSV.exists():
        old = pd.read_csv(CSV)
        new = pd.concat([old[old.probe != row["probe"]], new], ignore_index=True)
    new.to_csv(CSV, index=False)


def report() -> str:
    t = pd.read_csv(CSV)
    cols = [c for c in t.columns if c.startswith(("vvp_", "gt_"))]
    t["grid"] = t["grid"].fillna(8).astype(int) if "grid" in t else 8
    cells = t["n_cells"] if "n_cells" in t else pd.Series(float("nan"), index=t.index)
    lines = ["| probe | overrides | M=T | cells | MSE model / mean / ridge | skill vs ridge | epochs (best) | train s | "
             + " | ".join(cols) + " | pearson |", "|---" * (9 + len(cols)) + "|"]
    for k, r in t.iterrows():
        vals = " | ".join("–" if pd.isna(r[c]) else f"{r[c]:.3f}" for c in cols)
        n = "–" if pd.isna(cells[k]) else f"{cells[k]:.0f}"
        lines.append(f"| {r.probe} | {r.overrides} | {r.grid} | {n} | {r.mse_model:.3f} / {r.mse_gene_mean:.3f} / {r.mse_ridge:.3f} | "
                     f"{r.skill_vs_ridge:+.1%} | {r.epochs_run} ({r.best_epoch}) | {r.train_s:.0f} | {vals} | {r.pearson:.3f} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "--report":
        print(report())
        return 0
    torch.set_num_threads(int(os.environ.get("THREADS", 1)))
    if argv[0] == "--references":
        references()
        return 0
    contexts = os.environ.get("CONTEXTS", "background,masked").split(",")
    grid = int(os.environ.get("GRID", 8))
    n_cells = int(os.environ.get("NCELLS", 8))
    if len(argv) == 3 and argv[1] == "--model":
        append(probe(argv[0], {}, contexts, checkpoint=argv[2], grid=grid, n_cells=n_cells))
    else:
        append(probe(argv[0], parse_overrides(argv[1:]), contexts, grid=grid, n_cells=n_cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

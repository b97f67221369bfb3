"""The pooled real-gene model: rebuild the shipped one, and measure zero-shot use set by set.

Ship (writes ``ugrn_core/models/pooled_model``; the README's rebuild command):

    python bench/pooled.py ship --budget 1200

Leave-one-set-out (nothing here is shipped). For each real set S of ``reporting.REAL_SETS``:

- ``loso``: pretrain on the other five sets, then ``benchmark --split genes`` on S (held-out
  genes; a translator trained on S's other genes), and ``benchmark --split dataset`` with
  a VVP translator trained on another set's network (the next set in REAL_SETS order, a
  fixed rule chosen before any result) on S's pairs the translator never saw;
- ``own``: pretrain on S alone with the same budget, then the same gene-split benchmark.

Each benchmark also scores |Pearson| and GRNBoost2 on the same panel (the genes its model
knows). Rows go to ``<work>/rows/<set>.<part>.<size>.json`` as soon as they are done, so
parts can run side by side (``--threads 1`` each); ``table`` assembles
``bench/results/pooled.md`` from whatever rows exist. ``--steps`` gives every model the
same number of optimiser steps (a time budget would give the parts run side by side, or a
wide model, unequal training); ``--layers``/``--d-model``/``--lr`` set a size to compare.

    python bench/pooled.py loso --steps 1500 --budget 4000 --threads 1 &
    python bench/pooled.py own --steps 1500 --budget 4000 --threads 1 &
    python bench/pooled.py loso --steps 1500 --budget 6000 --threads 1 --layers 4 --d-model 128 --lr 1e-3 \
        --only mESC,hHEP          # a wider size, on the development sets
    python bench/pooled.py table
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from reporting import REAL_SETS, RESULTS, ROOT, SHARED, write_report

SHIPPED = ROOT / "ugrn_core" / "models" / "pooled_model"
COLUMNS = {"vvp_prob": "VVP", "gt_prob": "GT", "ensemble": "ens", "vvp": "VVP raw", "gt": "GT raw",
           "pearson": "\\|Pearson\\|", "grnboost": "GRNBoost"}


def _cli(*args: str) -> None:
    cmd = [sys.executable, "-m", "ugrn_core", *map(str, args)]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)


def present() -> dict[str, tuple]:
    sets = {n: v for n, v in REAL_SETS.items() if Path(v[0]).exists() and Path(v[1]).exists()}
    for n in REAL_SETS.keys() - sets.keys():
        print(f"{n}: not present under {SHARED}, skipped", flush=True)
    return sets


def pretrain(names: list[str], out: Path, budget: float, extra: tuple = ()) -> dict:
    if not (out / "metrics.json").is_file():
        data = [a for n in names for a in ("--data", REAL_SETS[n][0])]
        _cli("pretrain", *data, "--budget", budget, *extra, "--out", out)
    return json.loads((out / "metrics.json").read_text())


def relabel(folder: Path) -> None:
    """Name the source sets relative to the shared data, not by this machine's paths."""
    for name in ("args.json", "metrics.json"):
        path = folder / name
        path.write_text(path.read_text().replace(str(SHARED.resolve()), "../shared/data").replace(str(SHARED), "../shared/data"))


def benchmark(name: str, model: Path, out: Path, n_genes: int, train: str | None = None) -> dict:
    """Balanced-negative AUROC / AUPRC per method (unseen pairs only in the dataset split)."""
    data, network, _ = REAL_SETS[name]
    if not (out / "metrics.csv").is_file():
        # the dataset split extracts the training set too: VVP only there, GT's cost on a second
        # set of 40+ regulators would double the run (see the GT-cost issue)
        extra = ["--split", "dataset", "--train-data", REAL_SETS[train][0], "--train-network", REAL_SETS[train][1],
                 "--methods", "vvp"] if train else ["--split", "genes", "--methods", "vvp,gt"]
        _cli("benchmark", "--data", data, "--network", network, "--model", model, *extra, "--n-genes", n_genes,
             "--min-coverage", "0", "--classical", "pearson,grnboost", "--out", out)
    m = pd.read_csv(out / "metrics.csv")
    m = m[(m.negatives == "balanced") & (m.pairs == ("unseen" if train else m.pairs.iloc[0]))]
    report = json.loads((out / "report.json").read_text())
    row = {"panel": report.get("test", "")}
    for r in m.itertuples():
        row[f"{r.method}_auroc"], row[f"{r.method}_auprc"] = float(r.auroc), float(r.auprc)
    return row


@dataclass(frozen=True)
class Training:
    """How every model of one run is pretrained: a time budget, or equal optimiser steps, and a size."""

    budget: float
    steps: int | None = None
    layers: int = 4
    d_model: int = 64
    lr: float | None = None  # None: the recipe's; a wider model trains at a lower one (recipes.md, width)

    @property
    def arch(self) -> str:
        return f"{self.layers}x{self.d_model}" + (f"-lr{self.lr:g}" if self.lr else "")

    def args(self) -> tuple:
        steps = ("--steps", self.steps) if self.steps else ()
        lr = ("--lr", self.lr) if self.lr else ()
        return (*steps, *lr, "--layers", self.layers, "--d-model", self.d_model)


def run_part(part: str, sets: dict, work: Path, training: Training, n_genes: int, only: list[str]) -> None:
    names = list(sets)  # every present set pools into a leave-one-out model; ``only`` limits which are left out
    tag = training.arch
    for i, name in enumerate(names):
        path = work / "rows" / f"{name}.{part}.{tag}.json"
        if path.is_file() or (only and name not in only):
            continue
        t0 = time.perf_counter()
        try:
            if part == "loso":
                others = [n for n in names if n != name]
                model = work / "models" / f"without-{name}-{tag}"
                m = pretrain(others, model, training.budget, training.args())
                row = {"genes_model": m["genes"], "skill_vs_ridge": m["skill_vs_ridge"], "steps": m["steps"],
                       **benchmark(name, model, work / "bench" / f"loso-{name}-{tag}", n_genes)}
                train = names[(i + 1) % len(names)]
                cross = benchmark(name, model, work / "bench" / f"cross-{name}-{tag}", n_genes, train=train)
                row.update({"cross_from": train, **{f"cross_{k}": v for k, v in cross.items()}})
            else:
                model = work / "models" / f"only-{name}-{tag}"
                m = pretrain([name], model, training.budget, training.args())
                row = {"genes_model": m["genes"], "skill_vs_ridge": m["skill_vs_ridge"], "steps": m["steps"],
                       **benchmark(name, model, work / "bench" / f"own-{name}-{tag}", n_genes)}
        except subprocess.CalledProcessError as err:
            print(f"{name} ({part}): {' '.join(map(str, err.cmd[2:4]))} failed (exit {err.returncode})", flush=True)
            continue
        row.update(dataset=name, part=part, arch=tag, budget_s=training.budget, step_cap=training.steps,
                   wall_s=round(time.perf_counter() - t0))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row))


def _edges(work: Path, folder: str) -> str:
    """Known edges among the scored pairs (balanced negatives: as many non-edges), and the
    band within which a random score's AUROC falls 95% of the time (0.5 ± 2 SD, with
    SD² = (2n + 1) / 12n² for n edges and n non-edges): differences inside it are noise."""
    path = work / "bench" / folder / "metrics.csv"
    if not path.is_file():
        return "?"
    m = pd.read_csv(path)
    m = m[m.negatives == "balanced"]
    if not len(m):
        return "?"
    n = int(m.n_edges.max())
    return f"{n:,} (±{2 * ((2 * n + 1) / (12 * n * n)) ** 0.5:.3f})"


def _folder(part: str, name: str, arch: str) -> str:
    return f"{part}-{name}-{arch}" if arch else f"{part}-{name}"  # rows written before sizes had no tag


def _size(arch: str) -> str:
    """``4x128-lr0.001`` -> ``4 × 128, lr 0.001``."""
    if not arch:
        return "4 × 64"
    shape, _, lr = arch.partition("-lr")
    return shape.replace("x", " × ") + (f", lr {lr}" if lr else "")


def _size_key(arch: str) -> tuple[int, ...]:
    """Smaller models first: ``4x64`` before ``4x128-lr0.001``."""
    return tuple(int(x) for x in re.findall(r"\d+", arch.partition("-lr")[0])) or (4, 64)


def _cells(row: pd.Series | None, prefix: str = "") -> list[str]:
    return [f"{row[f'{prefix}{k}_auroc']:.3f}" if row is not None and f"{prefix}{k}_auroc" in row
            and pd.notna(row[f"{prefix}{k}_auroc"]) else "—" for k in COLUMNS]


def table(work: Path, out: Path) -> int:
    rows = [json.loads(f.read_text()) for f in sorted((work / "rows").glob("*.json"))]
    if not rows:
        print(f"no rows in {work / 'rows'}")
        return 0
    df = pd.DataFrame(rows)
    df.to_csv(out.with_suffix(".csv"), index=False)
    shipped = json.loads((SHIPPED / "metrics.json").read_text()) if (SHIPPED / "metrics.json").is_file() else None
    lines = ["# The pooled real-gene model", "",
             "Written by `bench/pooled.py` (commands in its docstring). AUROC with balanced negatives. "
             "*VVP / GT / ens*: translators; *raw*: the untrained scores. Each row's |Pearson| and GRNBoost2 "
             "are scored on that row's panel (the set's network genes its model knows).", ""]
    if shipped:
        lines += ["## The shipped model (`ugrn_core/models/pooled_model`)", "",
                  f"{shipped['genes']:,} genes, {shipped['train_cells'] + shipped['selection_cells'] + shipped['heldout_cells']:,} "
                  f"cells from {shipped['datasets']} sets; {shipped['steps']} steps in {shipped['train_seconds']:.0f} s "
                  f"({shipped['stopped']}); held-out masked-value MSE {shipped['mse_model']:.3f} vs ridge "
                  f"{shipped['mse_ridge']:.3f} ({shipped['skill_vs_ridge']:+.1%}).", "",
                  "| set | model / gene mean / ridge MSE | skill vs ridge |", "|---|---|---|"]
        names = {Path(v[0]).name if "TFs+" not in str(v[0]) else Path(v[0]).parent.name: n for n, v in REAL_SETS.items()}
        for r in shipped.get("per_dataset", []):
            short = Path(r["dataset"]).parent.name if "TFs+" in r["dataset"] else Path(r["dataset"]).name
            lines.append(f"| {names.get(short, short)} | "
                         f"{r['mse_model']:.3f} / {r['mse_gene_mean']:.3f} / {r['mse_ridge']:.3f} | {r['skill_vs_ridge']:+.1%} |")
        lines.append("")
    if "arch" not in df:
        df["arch"] = None
    df["arch"] = df["arch"].fillna("")
    lines += ["## Leave one set out: held-out genes of the left-out set", "",
              "| set | model | size | steps | panel genes | test edges (chance ±2 SD) | skill vs ridge (own cells) | "
              + " | ".join(COLUMNS.values()) + " |", "|---" * (7 + len(COLUMNS)) + "|"]
    for name in REAL_SETS:
        for part, label in (("loso", "pooled without it"), ("own", "this set alone")):
            for r in sorted(df[(df.dataset == name) & (df.part == part)].itertuples(), key=lambda r: _size_key(r.arch)):
                r = pd.Series(r._asdict())
                skill = "—" if part == "loso" else f"{r.skill_vs_ridge:+.1%}"
                panel = re.search(r"panel (\d[\d,]*) genes", str(r.panel))
                edges = _edges(work, _folder(part, name, r.arch))
                lines.append(f"| {name} | {label} | {_size(r.arch)} | {r.steps} | {panel.group(1) if panel else '?'} | "
                             f"{edges} | {skill} | " + " | ".join(_cells(r)) + " |")
    lines += ["", "## A translator from another set's network, on the left-out set (pairs it never saw)", "",
              "| set | size | translator trained on | test edges (chance ±2 SD) | " + " | ".join(COLUMNS.values()) + " |",
              "|---" * (4 + len(COLUMNS)) + "|"]
    order = {n: i for i, n in enumerate(REAL_SETS)}
    for r in sorted(df[df.part == "loso"].itertuples(), key=lambda r: (order.get(r.dataset, len(order)), _size_key(r.arch))):
        r = pd.Series(r._asdict())
        lines.append(f"| {r.dataset} | {_size(r.arch)} | {r.cross_from} | {_edges(work, _folder('cross', r.dataset, r.arch))} | "
                     + " | ".join(_cells(r, "cross_")) + " |")
    return write_report(lines, out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("part", choices=("ship", "loso", "own", "table"))
    p.add_argument("--budget", type=float, default=1200.0, help="pretrain --budget (seconds) per model")
    p.add_argument("--steps", type=int, default=None,
                   help="pretrain --steps: every model trains at most this many steps (equal training; "
                        "--budget then only bounds the time)")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--d-model", type=int, default=64)
    p.add_argument("--lr", type=float, default=None, help="pretrain --lr (default: the recipe's)")
    p.add_argument("--n-genes", type=int, default=150, help="benchmark panel size (most variable network genes)")
    p.add_argument("--only", default="", help="comma-separated set names")
    p.add_argument("--threads", type=int, default=0, help="torch threads per run (0: all cores)")
    p.add_argument("--work", default="/tmp/ugrn_pooled")
    p.add_argument("--out", default=str(RESULTS / "pooled.md"))
    a = p.parse_args()
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)
    work = Path(a.work)
    if a.part == "table":
        return table(work, Path(a.out))
    sets = present()
    training = Training(a.budget, a.steps, a.layers, a.d_model, a.lr)
    if a.part == "ship":
        if len(sets) < len(REAL_SETS):
            print("The shipped model pools all six sets; some are missing, nothing written.")
            return 1
        pretrain(list(sets), work / f"ship-{training.arch}", a.budget, training.args())
        import shutil

        shutil.rmtree(SHIPPED, ignore_errors=True)
        shutil.copytree(work / f"ship-{training.arch}", SHIPPED)
        relabel(SHIPPED)
        print(f"Wrote {SHIPPED}")
        return 0
    run_part(a.part, sets, work, training, a.n_genes, [n for n in a.only.split(",") if n])
    return table(work, Path(a.out))


if __name__ == "__main__":
    raise SystemExit(main())

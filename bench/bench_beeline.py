"""Leave-one-dataset-out on the real BEELINE sets in ../shared/data (translator transfer).

Train the translators on one BEELINE dataset + reference network, then score every other
dataset with the same network type, zero-shot. Prints one table per negative convention and
writes ``bench/results/beeline_<network>.csv``.

The model must know every dataset's genes; make one with joint pretraining, e.g.:

    E=../shared/data/benchmark/beeline_genelink/expression
    python -m ugrn_core pretrain --data $E/hHEP/TFs+500 --data $E/mDC/TFs+500 \
        --data $E/mESC/TFs+500 --data $E/mHSC-L/TFs+500 --n-genes 2000 --epochs 25 \
        --values binned --out bee_model
    python bench/bench_beeline.py --model bee_model --train mESC --network string
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

from ugrn_core.benchmark import load_benchmark_set, run_benchmark  # noqa: E402
from ugrn_core.extract import ExtractionParams, FeatureCache  # noqa: E402
from ugrn_core.extract.base import CONTEXTS  # noqa: E402
from ugrn_core.models.foundation import load_model  # noqa: E402

SHARED = Path(os.environ.get("UGRN_SHARED_DATA", ROOT.parent / "shared" / "data"))
BEELINE = SHARED / "benchmark" / "beeline_genelink"
DATASETS = ("hHEP", "mDC", "mESC", "mHSC-L")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--train", default="mESC", choices=DATASETS)
    p.add_argument("--network", default="string", choices=["string", "nonspecific_chip", "specific_chip"])
    p.add_argument("--size", default="TFs+500")
    p.add_argument("--n-genes", type=int, default=300)
    p.add_argument("--classical", default="pearson,spearman,grnboost")
    p.add_argument("--device", default="auto")
    p.add_argument("--context", default=ExtractionParams().context, choices=CONTEXTS,
                   help="VVP/GT virtual cells (translator.md section 2 ran with background, the default of its day)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results"))
    a = p.parse_args()
    if not BEELINE.is_dir():
        print(f"skip: {BEELINE} not present")
        return 0
    model = load_model(a.model, device=a.device)
    cache = FeatureCache()
    sets = {}
    for name in DATASETS:
        expr = BEELINE / "expression" / name / a.size
        net = BEELINE / a.network / name / a.size
        if not expr.is_dir() or not net.is_dir():
            print(f"{name}: no expression or network for {a.size}, skipped")
            continue
        sets[name] = load_benchmark_set(str(expr), str(net), model, a.n_genes, name=name)
        print(sets[name].summary(), flush=True)
    train = sets[a.train]
    translators, tables = None, []
    for name, test in sets.items():
        if name == a.train:
            continue
        t0 = time.perf_counter()
        res = run_benchmark(test, model, "dataset", train=train, classical=a.classical.split(","),
                            params=ExtractionParams(context=a.context), cache=cache, translators=translators)
        translators = res.translators  # trained once on the training set, reused zero-shot
        res.metrics.insert(0, "test", name)
        res.metrics.insert(1, "train", a.train)
        tables.append(res.metrics)
        print(f"{name}: {res.report['test_pairs']:,} pairs, {res.report['test_edges']:,} edges, {time.perf_counter() - t0:.0f} s", flush=True)
    metrics = pd.concat(tables, ignore_index=True)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    metrics.to_csv(out / f"beeline_{a.network}.csv", index=False)
    for neg in ("balanced", "full"):
        sub = metrics[metrics.negatives == neg]
        col = "auprc" if neg == "balanced" else "epr"
        # pairs: all test pairs / only those the translator never trained on (shared edges can be memorised)
        print(f"\n{col.upper()} ({neg} negatives), translator trained on {a.train} + {a.network}:")
        print(sub.pivot_table(index="method", columns=["test", "pairs"], values=col, sort=False).round(3).to_string())
        print(f"\nAUROC ({neg} negatives):")
        print(sub.pivot_table(index="method", columns=["test", "pairs"], values="auroc", sort=False).round(3).to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())

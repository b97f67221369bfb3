"""How much an edge score moves with the real cells drawn for the virtual cells' context.

Extracts VVP and GT on the demo (the app's panel: 100 most variable genes, all ordered
pairs, default settings) with ``n_cell_samples`` draws of the 8 context cells, and reports
each score's spread between draws relative to the score (coefficient of variation), over all
pairs and over the strongest edges, plus how many of the top 100 edges one draw shares
with another. Writes ``bench/results/cell_draws.md``.

    python bench/cell_draws.py [--draws 3] [--n-genes 100]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from reporting import RESULTS, write_report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=3)
    ap.add_argument("--n-genes", type=int, default=100)
    ap.add_argument("--out", default=str(RESULTS / "cell_draws.md"))
    a = ap.parse_args()
    import ugrn_core as ug
    from ugrn_core.extract import ExtractionParams, extract_features
    from ugrn_core.pipeline import prepare_data

    adata = ug.datasets.demo()
    model = ug.models.load("default")
    prepared = prepare_data(adata, model, n_genes=a.n_genes)
    params = ExtractionParams(n_cell_samples=a.draws)
    lines = [f"# Edge spread between draws of the context cells (demo, {len(prepared.panel)}-gene panel)\n",
             f"`python bench/cell_draws.py --draws {a.draws} --n-genes {a.n_genes}` on 2 CPU cores; defaults otherwise "
             f"({params.n_cells} real cells per draw, scale {params.scale}). CV = spread between draws / mean score.\n",
             "| method | median CV, all pairs | median CV, top 100 edges | top-100 overlap between two single draws | time |",
             "|---|---|---|---|---|"]
    for method in ("vvp", "gt"):
        t0 = time.perf_counter()
        many = extract_features(method, model, prepared.panel, None, prepared.mean_values, params,
                                cell_values=prepared.model_values)
        seconds = time.perf_counter() - t0
        singles = [extract_features(method, model, prepared.panel, None, prepared.mean_values,
                                    ExtractionParams(cell_seed=d), cell_values=prepared.model_values) for d in (0, 1)]
        off = ~np.eye(len(prepared.panel), dtype=bool)
        score, sd = many.score[off], many.score_sd[off]
        cv = sd / np.clip(score, 1e-12, None)
        top = np.argsort(-score)[:100]

        def top_set(f):
            s = f.score[off]
            return set(np.argsort(-s)[:100].tolist())
        overlap = len(top_set(singles[0]) & top_set(singles[1]))
        lines.append(f"| {method} | {np.median(cv):.3f} | {np.median(cv[top]):.3f} | {overlap} of 100 | {seconds:.0f} s |")
        print(lines[-1], flush=True)
    return write_report(lines, a.out)


if __name__ == "__main__":
    sys.exit(main())

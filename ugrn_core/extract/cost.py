"""What an extraction will cost before it runs: virtual-cell forwards and seconds here.

The seconds come from timing each method on a few sources of the real panel on the
model's own device (no cache), so the estimate reflects this machine, this model and this
panel size rather than a table of guesses.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..models.foundation import FoundationModel
from . import ExtractionParams, extract_features, forwards_needed, reference_forwards

PROBE_SOURCES = 4


@dataclass
class CostEstimate:
    table: pd.DataFrame  # method, sources, forwards, seconds
    device: str

    @property
    def total_seconds(self) -> float:
        return float(self.table.seconds.sum())

    def summary(self) -> str:
        n = int(self.table.forwards.sum())
        return f"{n:,} virtual-cell forwards, about {format_seconds(self.total_seconds)} on {self.device}"


def format_seconds(s: float) -> str:
    if s < 90:
        return f"{max(s, 0.1):.0f} s" if s >= 1 else "under 1 s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def estimate_cost(
    model: FoundationModel,
    genes: list[str],
    methods,
    n_sources: int | None = None,
    params: ExtractionParams | None = None,
    mean_values: np.ndarray | None = None,
    cached: bool = True,
) -> CostEstimate:
    """Time each method (after a warm-up) on ``PROBE_SOURCES`` sources and scale to ``n_sources``
    (default all). ``cached``: the extraction will use the feature cache, so VVP beside GT
    costs its reference forwards alone (GT's pass leaves the rest in the cache)."""
    params = params or ExtractionParams()
    n_sources = len(genes) if n_sources is None else n_sources
    probe = genes[:PROBE_SOURCES]
    means = np.zeros(len(genes), np.float32) if mean_values is None else mean_values
    cells = np.tile(means, (max(1, params.n_cells), 1))  # the time does not depend on the cells' values
    rows = []
    for method in methods:
        extract_features(method, model, genes, probe[:1], means, params, cell_values=cells)  # warm-up: first calls pay set-up costs
        t0 = time.perf_counter()
        extract_features(method, model, genes, probe, means, params, cell_values=cells)
        per_source = (time.perf_counter() - t0) / max(len(probe), 1)
        rows.append({
            "method": method,
            "sources": n_sources,
            "forwards": forwards_needed(method, n_sources, params),
            "seconds": per_source * n_sources,
        })
    table = pd.DataFrame(rows)
    methods = list(methods)
    if cached and "gt" in methods and "vvp" in methods and np.array_equal(params.grid(model, "gt"), params.grid(model, "vvp")):
        # GT's pass gives VVP's curves: VVP then costs its reference forwards alone
        vvp = table.method == "vvp"
        refs = reference_forwards(n_sources, params)
        share = refs / max(float(table.loc[vvp, "forwards"].iloc[0]), 1.0)
        table.loc[vvp, "seconds"] *= share
        table.loc[vvp, "forwards"] = refs
    return CostEstimate(table, str(model.device))


def eta_seconds(elapsed: float, fraction_done: float) -> float | None:
    """Remaining time if the rest goes at the pace so far; None before there is a pace."""
    if fraction_done <= 0.02 or elapsed <= 0:
        return None
    return elapsed * (1 - fraction_done) / fraction_done


__all__ = ["CostEstimate", "estimate_cost", "eta_seconds", "format_seconds"]

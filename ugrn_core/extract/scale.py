"""Per-target scaling: a response in the target's own units.

A raw response (Pert, VVP, GT) is in the model's output units, so abundant genes, whose
predictions move more in absolute terms, top every ranking whatever regulates them. Dividing
target j's response by a spread of j makes a score read "how far j moves, in its own units,
when the source moves", comparable across targets:

- ``output_sd`` (the default): the standard deviation of the model's prediction for j over
  real cells of the dataset (how much the model lets j vary between cells);
- ``data_sd``: the standard deviation of j's input values across the dataset's cells;
- ``none``: raw responses.

Why the default (``bench/results/target_scale.md``): it is the one that took the correlation
between a target's mean score and its mean expression below 0.3 on both the Kang PBMCs
(VVP 0.78 raw -> -0.14) and the demo (0.03 -> 0.17; ``data_sd``: 0.42) with the app's
panel, and it did not cost held-out-gene AUROC on the demo or Kang.

A spread is floored at ``FLOOR`` x the panel's median spread, so a gene that hardly varies
cannot turn noise into a top score. The embedding method is a similarity, not a response,
and is never scaled.
"""

from __future__ import annotations

import numpy as np
import torch

from ..models.foundation import FoundationModel

SCALES = ("none", "output_sd", "data_sd")
SCALED_METHODS = ("pert", "vvp", "gt")
SPREAD_CELLS = 64  # real cells the model's output spread is read over
FLOOR = 0.1


def floored(spread: np.ndarray) -> np.ndarray:
    spread = np.asarray(spread, dtype=np.float64)
    positive = spread[spread > 0]
    floor = FLOOR * float(np.median(positive)) if len(positive) else 1.0
    return np.maximum(spread, max(floor, 1e-12))


@torch.no_grad()
def output_spread(model: FoundationModel, genes: list[str], cells: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """SD over ``cells`` (cells x genes, model units) of the model's prediction per gene."""
    ids = model.token_ids(genes)
    x = torch.as_tensor(np.asarray(cells, dtype=np.float32), dtype=model.dtype, device=model.device)
    out = torch.cat([model.predict(ids, x[i:i + batch_size]).float().cpu() for i in range(0, len(x), batch_size)])
    return out.double().std(dim=0, correction=0).numpy()


def target_spread(kind: str, model: FoundationModel, genes: list[str], cell_values: np.ndarray | None,
                  cells: np.ndarray | None = None) -> np.ndarray:
    """The floored per-target spread ``[n_genes]`` for ``kind`` (see the module's docstring).

    cell_values: all cells (``data_sd``); cells: the sample the model's spread is read over
    (``output_sd``; default the first ``SPREAD_CELLS`` of ``cell_values``).
    """
    if kind not in SCALES or kind == "none":
        raise ValueError(f"Unknown target scale {kind!r}; choose from {', '.join(SCALES)}.")
    if cell_values is None:
        raise ValueError(f"Scaling targets by {kind} needs the dataset's cells (cell_values), or use scale='none'.")
    if len(cell_values) < 2:
        raise ValueError(f"Scaling targets by {kind} needs at least 2 cells; the data has {len(cell_values)}. "
                         "Use scale='none'.")
    if kind == "data_sd":
        return floored(np.asarray(cell_values, dtype=np.float64).std(axis=0))
    return floored(output_spread(model, genes, cell_values[:SPREAD_CELLS] if cells is None else cells))


__all__ = ["SCALES", "SCALED_METHODS", "SPREAD_CELLS", "target_spread", "output_spread", "floored"]

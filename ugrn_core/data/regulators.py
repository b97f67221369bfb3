"""Which genes can be regulators: the panel BEELINE builds, and biologists expect.

Why: a panel of the N most variable genes holds few transcription factors (on the Kang
PBMCs, 2 of TRRUST's 795), so a reference network has almost nothing to say about it and
a translator nothing to learn from. BEELINE's TFs+N sets hold *the expressed transcription
factors plus the N most variable genes*; ``regulators+hvg`` builds the same from shipped
census lists (``tf_lists/PROVENANCE.md``), optionally with a reference network's regulators.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the CLI imports PANEL_MODES for its choices: keep this import light
    import anndata as ad

PANEL_MODES = ("regulators+hvg", "hvg")
PANEL_LABELS = {
    "regulators+hvg": "Expressed regulators + most variable genes (BEELINE's TFs+N)",
    "hvg": "Most variable genes only",
}
TF_LISTS = {"human": "human_lambert2018.txt", "mouse": "mouse_mgi.txt"}
MIN_DETECTED = 0.01  # a regulator counts as expressed when detected in at least 1 % of cells
MIN_CELLS = 10  # ... and in at least 10 cells: fewer cannot inform a network
MAX_REGULATORS = 300  # beyond this, the most variable expressed regulators (extraction cost grows with sources)
_FOLDER = Path(__file__).parent / "tf_lists"


@lru_cache(maxsize=None)
def reference_regulators(species: str = "human") -> frozenset[str]:
    """Upper-case symbols of the shipped transcription-factor list for ``species``."""
    if species not in TF_LISTS:
        raise ValueError(f"species must be one of {tuple(TF_LISTS)}, not {species!r}")
    text = (_FOLDER / TF_LISTS[species]).read_text()
    return frozenset(line.strip().upper() for line in text.splitlines() if line.strip())


def guess_species(genes: list[str]) -> str:
    """``mouse`` when most symbols are written the mouse way (``Sox2``), else ``human``.

    Upper-cased mouse symbols (as BEELINE ships them) read as human: the two lists share
    most transcription-factor symbols, and the human census is the curated one."""
    styled = [g for g in genes if g[:1].isalpha() and len(g) > 1]
    mouse = sum(g[0].isupper() and g[1:].islower() for g in styled)
    return "mouse" if styled and mouse > 0.5 * len(styled) else "human"


def detected_fraction(adata: ad.AnnData, genes: list[str]) -> np.ndarray:
    """Fraction of cells in which each gene is non-zero."""
    import scipy.sparse as sp

    X = adata[:, genes].X
    nz = (X > 0).sum(axis=0) if sp.issparse(X) else (np.asarray(X) > 0).sum(axis=0)
    return np.asarray(nz, dtype=float).ravel() / max(adata.n_obs, 1)


def expressed_regulators(
    adata: ad.AnnData,
    candidates: list[str],
    extra: set[str] | None = None,
    species: str = "auto",
    min_detected: float = MIN_DETECTED,
    min_cells: int = MIN_CELLS,
) -> list[str]:
    """Candidates that are reference regulators of ``species`` (``auto``: from the symbols'
    style) or in ``extra`` (upper-case symbols, e.g. a network's sources), detected in at
    least ``min_detected`` of the cells and at least ``min_cells`` cells."""
    species = guess_species(list(adata.var_names)) if species == "auto" else species
    known = reference_regulators(species) | {g.upper() for g in (extra or set())}
    regs = [g for g in candidates if g.upper() in known]
    if not regs:
        return []
    frac = detected_fraction(adata, regs)
    need = max(min_detected, min_cells / max(adata.n_obs, 1))
    return [g for g, f in zip(regs, frac) if f >= need]


__all__ = ["PANEL_MODES", "PANEL_LABELS", "MIN_DETECTED", "MIN_CELLS", "MAX_REGULATORS", "reference_regulators",
           "guess_species", "detected_fraction", "expressed_regulators"]

"""Make expression comparable: detect raw counts, normalise + log1p, choose a gene panel."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, GeneNotFoundError, ScaledDataError
from .matrix import how_to_choose

RAW = "raw_counts"
LOG = "log_normalized"


@contextmanager
def _torch_threads_kept():
    """scanpy's numba kernels (sparse normalize_total) reset the OpenMP pool that torch shares
    to every core: a process told to use one thread (``OMP_NUM_THREADS=1``, a Ray worker, a
    job beside another) then trains on two and starves its neighbour. Put torch's count back."""
    import torch

    n = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)


def _sample_values(X, n: int = 200_000, seed: int = 0) -> np.ndarray:
    data = X.data if sp.issparse(X) else np.asarray(X).ravel()
    if data.size > n:
        data = np.random.default_rng(seed).choice(data, n, replace=False)
    return np.asarray(data, dtype=np.float64)


def detect_scale(X) -> str:
    """``raw_counts`` if the values are non-negative integers with a count-like range,
    else ``log_normalized``. Raises DataError on NaN/inf or negative values."""
    every = X.data if sp.issparse(X) else np.asarray(X)  # NaN/negatives: every value, not a sample
    if not np.isfinite(every).all():
        raise DataError(
            "The expression matrix contains NaN or infinite values. Remove or impute them "
            "(e.g. `np.nan_to_num`) before loading."
        )
    if (every < 0).any():
        raise ScaledDataError(
            "The expression matrix has negative values: it looks scaled or centred "
            "(e.g. `sc.pp.scale`). The model needs raw counts or log-normalised expression."
        )
    vals = _sample_values(X)
    nonzero = vals[vals != 0]
    if nonzero.size == 0:
        raise DataError("Every expression value is zero; there is nothing to analyse. "
                        "Check that the matrix (adata.X) holds the expression, not an empty layer.")
    is_integer = np.allclose(nonzero, np.round(nonzero))
    return RAW if is_integer and nonzero.max() > 10 else LOG


@dataclass
class PreprocessReport:
    detected: str
    normalized: bool
    n_cells: int
    n_genes: int
    dropped_zero_genes: int
    dropped_zero_cells: int

    def summary(self) -> str:
        how = "normalised to 10,000 per cell + log1p" if self.normalized else "used as given"
        return (
            f"{self.n_cells} cells x {self.n_genes} genes; detected {self.detected.replace('_', ' ')} "
            f"({how}); removed {self.dropped_zero_genes} all-zero genes and "
            f"{self.dropped_zero_cells} all-zero cells."
        )


def preprocess(adata: ad.AnnData, target_sum: float = 1e4) -> tuple[ad.AnnData, PreprocessReport]:
    """Return a log-normalised copy (raw counts kept in ``layers['counts']``) and a report."""
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError(f"The dataset is empty ({adata.n_obs} cells x {adata.n_vars} genes). "
                        "Check the filtering that produced it, or give the unfiltered data.")
    adata = adata.to_memory() if adata.isbacked else adata.copy()
    if not adata.var_names.is_unique:
        dups = adata.var_names[adata.var_names.duplicated()].unique()[:5].tolist()
        raise DataError(
            f"Gene names are not unique (e.g. {dups}). Make them unique first "
            "(`adata.var_names_make_unique()`) or aggregate duplicates."
        )
    try:
        detected = detect_scale(adata.X)
    except ScaledDataError as exc:
        raise ScaledDataError(f"{exc} {how_to_choose(adata)}") from None
    X = adata.X
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float32)
        X.eliminate_zeros()
        adata.X = X
    else:
        adata.X = np.asarray(X, dtype=np.float32)
    gene_nz = np.asarray((adata.X != 0).sum(axis=0)).ravel()
    cell_nz = np.asarray((adata.X != 0).sum(axis=1)).ravel()
    adata = adata[cell_nz > 0, gene_nz > 0].copy()
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError("No cell or gene has a non-zero value after removing empty ones.")
    normalized = detected == RAW
    if normalized:
        import scanpy as sc

        adata.layers["counts"] = adata.X.copy()
        with _torch_threads_kept():
            sc.pp.normalize_total(adata, target_sum=target_sum)
            sc.pp.log1p(adata)
    report = PreprocessReport(
        detected=detected,
        normalized=normalized,
        n_cells=adata.n_obs,
        n_genes=adata.n_vars,
        dropped_zero_genes=int((gene_nz == 0).sum()),
        dropped_zero_cells=int((cell_nz == 0).sum()),
    )
    adata.uns["ugrn_preprocess"] = report.__dict__.copy()
    return adata, report


def select_panel(
    adata: ad.AnnData,
    n_genes: int,
    keep: list[str] | None = None,
    candidates: list[str] | None = None,
    regulators: list[str] | None = None,
    max_regulators: int | None = None,
) -> list[str]:
    """Gene panel: the user's ``keep`` genes first, then the ``regulators`` (at most
    ``max_regulators``, the most variable first), then the most variable other candidates,
    ``n_genes`` in all with ``keep`` (the regulators come on top, as in BEELINE's TFs+N).

    Variability is scanpy's dispersion-based HVG score on log-normalised data (flavor
    'seurat'), ranked rather than thresholded so the panel has exactly the size asked for.
    """
    candidates = list(adata.var_names) if candidates is None else list(candidates)
    keep = list(dict.fromkeys(keep or []))
    cand_set = set(candidates)
    missing = [g for g in keep if g not in cand_set]
    if missing:
        raise GeneNotFoundError(
            f"Requested gene(s) {missing[:10]} are not usable in this dataset (absent from the "
            "data, all-zero, or unknown to the model). Check the spelling or choose other genes."
        )
    wanted = set(regulators or []) - set(keep)
    if n_genes >= len(candidates) and not wanted:
        return keep + [g for g in candidates if g not in set(keep)]
    order = variability_order(adata, candidates)
    regs = [g for g in order if g in wanted][: max_regulators if max_regulators is not None else None]
    taken = set(keep) | set(regs)
    rest = [g for g in order if g not in taken]
    return keep + regs + rest[: max(n_genes - len(keep), 0)]


def variability_order(adata: ad.AnnData, genes: list[str]) -> list[str]:
    """``genes``, most variable first (normalised dispersion, ties in the given order)."""
    import scanpy as sc

    with _torch_threads_kept():
        stats = sc.pp.highly_variable_genes(adata[:, genes], flavor="seurat", n_top_genes=None, inplace=False)
    disp = np.nan_to_num(np.asarray(stats["dispersions_norm"], dtype=float), nan=-np.inf)
    return [genes[i] for i in np.argsort(-disp, kind="stable")]


def dense_matrix(adata: ad.AnnData, genes: list[str]) -> np.ndarray:
    X = adata[:, genes].X
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float32)


def stack_datasets(
    adatas: dict[str, ad.AnnData], n_genes: int, panels: dict[str, list[str]] | None = None
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Stack log-normalised datasets with different genes for joint pretraining.

    Each dataset contributes its ``n_genes`` most variable genes; the result has the union
    of genes (matched by upper-case symbol) and NaN where a dataset did not measure a gene,
    so a pretrained model knows every dataset's genes without being shown invented zeros.
    ``panels`` fixes a dataset's genes instead (e.g. the genes its benchmark will use).
    Returns ``(X cells x genes, genes, dataset label per cell)``.
    """
    panels = {name: (panels or {}).get(name) or select_panel(a, n_genes) for name, a in adatas.items()}
    genes: list[str] = []
    seen: set[str] = set()
    for panel in panels.values():
        for g in panel:
            if g.upper() not in seen:
                seen.add(g.upper())
                genes.append(g.upper())
    col = {g: i for i, g in enumerate(genes)}
    blocks, labels = [], []
    for name, a in adatas.items():
        block = np.full((a.n_obs, len(genes)), np.nan, dtype=np.float32)
        panel = panels[name]
        block[:, [col[g.upper()] for g in panel]] = dense_matrix(a, panel)
        blocks.append(block)
        labels += [name] * a.n_obs
    return np.concatenate(blocks), genes, np.asarray(labels)


def qc_tables(adata: ad.AnnData, panel: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-cell (``total``, ``genes_detected``) and per-gene (``mean``, ``variance``,
    ``in_panel``) summaries for QC plots. Totals are raw counts when ``layers['counts']``
    holds them (raw input), otherwise sums of the values as given."""
    X = adata.layers["counts"] if "counts" in adata.layers else adata.X
    total = np.asarray(X.sum(axis=1)).ravel()
    detected = np.asarray((X != 0).sum(axis=1)).ravel()
    cells = pd.DataFrame({"total": total, "genes_detected": detected}, index=adata.obs_names)
    L = adata.X
    mean = np.asarray(L.mean(axis=0)).ravel()
    sq = L.multiply(L) if sp.issparse(L) else np.square(L)
    var = np.asarray(sq.mean(axis=0)).ravel() - mean**2
    in_panel = adata.var_names.isin(panel or [])
    genes = pd.DataFrame({"mean": mean, "variance": np.clip(var, 0, None), "in_panel": in_panel}, index=adata.var_names)
    return cells, genes

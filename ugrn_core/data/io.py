"""Read expression data into AnnData: ``.h5ad``, the BEELINE layout, or the demo."""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from ..errors import DataError

DEMO = "demo"
_TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt", ".txt.gz")


MEMORY_FRACTION = 0.3  # of the memory available now, for one dataset's matrix
SUBSAMPLE_NOTE = "ugrn_subsample"  # adata.uns key: what was subsampled and why (shown by the app)


def available_memory() -> int:
    """Bytes of memory available now (Linux), or 8 GiB where that cannot be read."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 << 30


def h5ad_matrix_bytes(path: Path) -> tuple[int, int, int]:
    """(cells, genes, bytes X takes in memory) of an .h5ad, read from its header only."""
    import h5py

    with h5py.File(path, "r") as f:
        X = f["X"]
        if isinstance(X, h5py.Dataset):
            n_obs, n_vars = X.shape
            return n_obs, n_vars, n_obs * n_vars * X.dtype.itemsize
        n_obs, n_vars = (int(v) for v in X.attrs["shape"])
        nnz = X["data"].shape[0]
        return n_obs, n_vars, nnz * (X["data"].dtype.itemsize + X["indices"].dtype.itemsize) + 8 * (n_obs + 1)


def _read_h5ad(path: Path, backed: bool = False, memory_budget: int | None = None) -> ad.AnnData:
    """Whole file when it fits; otherwise a seeded random subset of cells read in backed mode,
    with a note saying so (never an out-of-memory death)."""
    try:
        if backed:
            return ad.read_h5ad(path, backed="r")
        n_obs, n_vars, need = h5ad_matrix_bytes(path)
        budget = memory_budget if memory_budget is not None else int(MEMORY_FRACTION * available_memory())
        if need <= budget or n_obs <= 1:
            return ad.read_h5ad(path)
        keep = max(1, int(n_obs * budget / need))
        idx = np.sort(np.random.default_rng(0).choice(n_obs, keep, replace=False))
        big = ad.read_h5ad(path, backed="r")
        adata = big[idx].to_memory()
        big.file.close()
        adata.uns[SUBSAMPLE_NOTE] = (
            f"{path.name} holds {n_obs:,} cells x {n_vars:,} genes (about {need / 2**30:.1f} GiB in memory), "
            f"more than this machine can hold now (budget {budget / 2**30:.1f} GiB). {keep:,} randomly chosen "
            "cells (seed 0) were read in backed mode. To choose the cells yourself, subsample the file first "
            "(e.g. `sc.pp.subsample(adata, n_obs=...)`)."
        )
        return adata
    except Exception as exc:  # h5py/anndata raise many types for a bad file
        raise DataError(
            f"{path.name} could not be read as an .h5ad file ({type(exc).__name__}: "
            f"{str(exc)[:200]}). Is it truncated or another format? Re-export it with "
            "`adata.write_h5ad(...)`, or give a BEELINE ExpressionData.csv (genes x cells)."
        ) from None


def read_expression_table(path: Path) -> ad.AnnData:
    """BEELINE's ``ExpressionData.csv``: genes as rows, cells as columns, first column = gene."""
    sep = "\t" if ".tsv" in path.name or ".txt" in path.name else ","
    try:
        df = pd.read_csv(path, sep=sep, index_col=0)
    except Exception as exc:
        raise DataError(f"{path.name} is not a readable expression table ({exc}).") from None
    if df.empty:
        raise DataError(f"{path.name} holds no expression values (0 genes or 0 cells).")
    try:
        values = df.to_numpy(dtype=np.float32)
    except ValueError:
        raise DataError(
            f"{path.name} has non-numeric entries. Expected genes as rows, cells as columns, "
            "the first column holding gene names (BEELINE's ExpressionData.csv)."
        ) from None
    adata = ad.AnnData(X=values.T)
    adata.obs_names = [str(c) for c in df.columns]
    adata.var_names = [str(g) for g in df.index]
    return adata


def read_dataset(source: str | Path, backed: bool = False) -> ad.AnnData:
    """Load ``"demo"``, an ``.h5ad`` file, a BEELINE expression table, or a BEELINE folder."""
    if str(source) == DEMO:
        from .simulate import simulate_demo

        return simulate_demo()[0]
    path = Path(source).expanduser()
    if path.is_dir():
        hits = sorted(path.glob("*ExpressionData.csv*"))
        if not hits:
            raise DataError(f"Folder {path} has no ExpressionData.csv (BEELINE layout).")
        path = hits[0]
    if not path.exists():
        raise DataError(f"{path} does not exist. Give an .h5ad file, a BEELINE ExpressionData.csv, or `demo`.")
    if path.stat().st_size == 0:
        raise DataError(f"{path.name} is empty (0 bytes): the copy or upload did not finish. Copy or upload it again.")
    if path.name.endswith(".h5ad"):
        adata = _read_h5ad(path, backed)
    elif path.name.endswith(_TABLE_SUFFIXES):
        adata = read_expression_table(path)
    else:
        raise DataError(
            f"{path.name}: unknown file type. Supported: .h5ad, or a genes x cells "
            ".csv/.tsv (optionally .gz) as in BEELINE."
        )
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError(f"{path.name} is empty: {adata.n_obs} cells x {adata.n_vars} genes. "
                        "Check the filtering that produced it, or give the unfiltered file.")
    return adata


def save_upload(name: str, data: bytes, folder: str | Path | None = None) -> Path:
    """Store uploaded bytes under a content-addressed name and return the path.

    Why: every later step (readers, caches) works on paths; naming the copy by its hash
    makes a re-upload of the same file hit the caches, and a different file never collide.
    The copy is written to a temporary name and renamed, so a half-written file is never read.
    """
    import hashlib

    from ..extract.cache import default_cache_dir
    from ..files import atomic_write

    folder = Path(folder) if folder is not None else default_cache_dir() / "uploads"
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in Path(name).name)[-80:] or "upload"
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}_{safe}"
    if not path.exists():
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
    return path

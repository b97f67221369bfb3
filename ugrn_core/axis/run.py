"""The axis pipeline as the CLI (and later the page) runs it: data -> VAE -> ranked genes.

Counts: the raw counts layer when the input was raw; log-normalised input is turned back
into per-10,000 pseudo-counts (expm1), which the NB likelihood accepts as non-negative
values. Fitted VAEs are cached on disk, keyed by the counts, genes, label and settings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from filelock import FileLock

from ..data.io import read_dataset
from ..data.preprocess import preprocess, select_panel
from ..errors import DataError
from ..extract.cache import content_key, default_cache_dir
from ..files import atomic_write
from .scores import AxisResult, axis_scores, group_mask
from .vae import NBVAE, TrainedVAE, VAEConfig, fit_vae


def axis_counts(adata: ad.AnnData, n_genes: int) -> tuple[np.ndarray, list[str]]:
    """Counts (cells x genes) of the ``n_genes`` most variable genes of a preprocessed AnnData."""
    genes = select_panel(adata, n_genes)
    sub = adata[:, genes]
    if "counts" in sub.layers:
        X = sub.layers["counts"]
        X = X.toarray() if sp.issparse(X) else np.asarray(X)
    else:
        L = sub.X.toarray() if sp.issparse(sub.X) else np.asarray(sub.X)
        X = np.expm1(L)
    return np.asarray(X, dtype=np.float32), genes


def _cache_path(key: str) -> Path:
    return default_cache_dir() / "vae" / f"{key}.pt"


def _load_vae(path: Path, genes, config: VAEConfig, label, label_name) -> TrainedVAE | None:
    """The VAE stored at ``path``, or None if absent or unreadable (then it is refitted)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        module = NBVAE(len(genes), config.n_latent, config.hidden, aux=label is not None)
        module.load_state_dict(state)
        module.eval().requires_grad_(False)
        meta = path.with_suffix(".json")
        history = json.loads(meta.read_text()) if meta.exists() else []
        return TrainedVAE(module, list(genes), config, history, label_name)
    except Exception:  # unreadable entry: refit and overwrite
        return None


def cached_vae(counts, genes, config: VAEConfig, label=None, label_name=None, progress=None,
               use_cache: bool = True, fit: bool = True) -> TrainedVAE | None:
    """Fit, or load the VAE fitted earlier on exactly these inputs (``fit=False``: load or None).

    A file lock per key: when several sessions (or processes) ask for the same VAE at once,
    one fits it and the others wait and load it."""
    key = content_key("nbvae", 1, counts, genes, asdict(config), None if label is None else np.asarray(label, np.float32))
    path = _cache_path(key)
    if not use_cache:
        return fit_vae(counts, genes, config, label, label_name, progress) if fit else None
    vae = _load_vae(path, genes, config, label, label_name)
    if vae is not None or not fit:
        return vae
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        vae = _load_vae(path, genes, config, label, label_name)  # fitted by another session meanwhile
        if vae is not None:
            return vae
        vae = fit_vae(counts, genes, config, label, label_name, progress)
        atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(vae.history)))
        atomic_write(path, lambda tmp: torch.save(vae.module.state_dict(), tmp))
    return vae


def require_column(obs: pd.DataFrame, column: str) -> None:
    if column not in obs.columns:
        raise DataError(f"No obs column {column!r}; columns: {list(obs.columns)[:20]}.")


@dataclass
class AxisData:
    """What the axis reads from a dataset: counts of the modelled genes and the cell metadata."""

    counts: np.ndarray  # cells x genes
    genes: list[str]
    obs: pd.DataFrame

    def groups(self, column: str) -> np.ndarray:
        require_column(self.obs, column)
        return self.obs[column].astype(str).to_numpy()

    def label(self, column: str, source: str, target: str) -> np.ndarray:
        """1 for ``target`` cells, 0 for ``source`` cells, NaN for the rest (the head's label)."""
        groups = self.groups(column)
        label = np.full(len(groups), np.nan, dtype=np.float32)
        label[group_mask(groups, source, f"obs[{column!r}]")] = 0.0
        label[group_mask(groups, target, f"obs[{column!r}]")] = 1.0
        return label


def load_axis_data(data: str | ad.AnnData, n_genes: int = 2000, preprocessed: bool = False) -> AxisData:
    """Read (a path or 'demo'), normalise unless ``preprocessed``, keep the ``n_genes`` most variable."""
    adata = read_dataset(data) if isinstance(data, str) else data
    if not preprocessed:
        adata, _ = preprocess(adata)
    counts, genes = axis_counts(adata, n_genes)
    return AxisData(counts, genes, adata.obs.copy())


def condition_columns(obs: pd.DataFrame, max_values: int = 50) -> dict[str, list[str]]:
    """obs columns that can define an axis (2 to ``max_values`` values, each in >= 2 cells),
    the most cells per value first: the choices offered to the user."""
    out = {}
    for col in obs.columns:
        values = obs[col].astype(str).value_counts()
        values = values[values >= 2]
        if 2 <= len(values) <= max_values and not pd.api.types.is_float_dtype(obs[col]):
            out[col] = values.index.tolist()
    return out


def run_axis(
    data: str | ad.AnnData,
    groupby: str,
    source: str,
    target: str,
    n_genes: int = 2000,
    config: VAEConfig | None = None,
    points: str = "all",
    progress=None,
    use_cache: bool = True,
    label_head: bool = False,
) -> tuple[AxisResult, TrainedVAE]:
    adata = read_dataset(data) if isinstance(data, str) else data
    require_column(adata.obs, groupby)  # before minutes of preprocessing and training
    axd = load_axis_data(adata, n_genes)
    label = axd.label(groupby, source, target)  # checks both groups exist
    vae = cached_vae(axd.counts, axd.genes, config or VAEConfig(), label if label_head else None,
                     f"{groupby}={target}" if label_head else None, progress=progress, use_cache=use_cache)
    return axis_scores(vae, axd.counts, axd.groups(groupby), source, target, points), vae


__all__ = ["AxisData", "load_axis_data", "condition_columns", "axis_counts", "cached_vae", "run_axis"]

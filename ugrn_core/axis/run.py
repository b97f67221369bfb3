"""The axis pipeline as the CLI (and later the page) runs it: data -> VAE -> ranked genes.

Counts: the raw counts layer when the input was raw; log-normalised input is turned back
into per-10,000 pseudo-counts (expm1), which the NB likelihood accepts as non-negative
values. Fitted VAEs are cached on disk, keyed by the counts, genes, label and settings.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import anndata as ad
import numpy as np
import scipy.sparse as sp
import torch

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


def cached_vae(counts, genes, config: VAEConfig, label=None, label_name=None, progress=None, use_cache: bool = True) -> TrainedVAE:
    """Fit, or load the VAE fitted earlier on exactly these inputs."""
    key = content_key("nbvae", 1, counts, genes, asdict(config), None if label is None else np.asarray(label, np.float32))
    path = _cache_path(key)
    if use_cache and path.exists():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            module = NBVAE(len(genes), config.n_latent, config.hidden, aux=label is not None)
            module.load_state_dict(state)
            module.eval().requires_grad_(False)
            return TrainedVAE(module, list(genes), config, [], label_name)
        except Exception:  # unreadable entry: refit and overwrite
            pass
    vae = fit_vae(counts, genes, config, label, label_name, progress)
    if use_cache:
        atomic_write(path, lambda tmp: torch.save(vae.module.state_dict(), tmp))
    return vae


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
) -> tuple[AxisResult, TrainedVAE]:
    adata = read_dataset(data) if isinstance(data, str) else data
    if groupby not in adata.obs.columns:
        raise DataError(f"No obs column {groupby!r}; columns: {list(adata.obs.columns)[:20]}.")
    adata, _ = preprocess(adata)
    groups = adata.obs[groupby].astype(str).to_numpy()
    for g in (source, target):  # before minutes of training
        group_mask(groups, g, f"obs[{groupby!r}]")
    counts, genes = axis_counts(adata, n_genes)
    vae = cached_vae(counts, genes, config or VAEConfig(), progress=progress, use_cache=use_cache)
    return axis_scores(vae, counts, groups, source, target, points), vae


__all__ = ["axis_counts", "cached_vae", "run_axis"]

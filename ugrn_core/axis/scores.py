"""Gene scores along a condition axis, the decoded-means baseline, and perturbation flows.

- axis a = mean z(to) - mean z(from) over the cells of the two groups (posterior means);
- gradient score s_i = mean over latent points z of cos(grad_z y_i(z), a), in [-1, 1]: the
  sign says whether gene i rises (+) or falls (-) when moving along the axis;
- baseline: decoded NB means at each group's median latent, m1 and m0, scored
  (m1 - m0) / ((m1 + m0) / 2) (symmetric relative change);
- flow: z <- z + delta * grad_z log1p(y_g(z)) for n steps (delta < 0 knocks gene g down;
  the log makes genes of a set weigh alike, and only rescales the step for one gene).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..errors import DataError
from .jacobian import iter_jacobians
from .vae import TrainedVAE


def group_mask(groups, value: str, name: str = "group") -> np.ndarray:
    groups = np.asarray(groups).astype(str)
    mask = groups == str(value)
    if not mask.any():
        raise DataError(f"No cell has {name} = {value!r}; values present: {sorted(set(groups))[:20]}.")
    return mask


def condition_axis(Z: np.ndarray, groups, source: str, target: str) -> np.ndarray:
    """a = mean latent of ``target`` cells minus mean latent of ``source`` cells."""
    return Z[group_mask(groups, target)].mean(0) - Z[group_mask(groups, source)].mean(0)


def gradient_scores(vae: TrainedVAE, Z_points: np.ndarray, axis: np.ndarray, chunk: int = 256) -> np.ndarray:
    """s_i = mean_z cos(grad_z y_i(z), a) over ``Z_points``, reduced chunk by chunk."""
    a = torch.as_tensor(axis, dtype=torch.float32)
    a = a / a.norm().clamp(min=1e-12)
    total = torch.zeros(len(vae.genes), dtype=torch.float64)
    for J in iter_jacobians(vae.module.decode, Z_points, chunk):  # [c, G, d]
        cos = (J @ a) / J.norm(dim=-1).clamp(min=1e-12)
        total += cos.double().sum(0)
    return (total / max(len(Z_points), 1)).numpy()


def baseline_scores(vae: TrainedVAE, Z: np.ndarray, groups, source: str, target: str) -> np.ndarray:
    """(m1 - m0) / ((m1 + m0) / 2) of decoded means at the groups' median latents."""
    m0 = vae.decode(np.median(Z[group_mask(groups, source)], axis=0)[None])[0]
    m1 = vae.decode(np.median(Z[group_mask(groups, target)], axis=0)[None])[0]
    return (m1 - m0) / np.clip((m1 + m0) / 2, 1e-12, None)


@dataclass
class AxisResult:
    scores: pd.DataFrame  # gene, score, baseline; sorted by |score|
    axis: np.ndarray
    latent: np.ndarray
    groups: np.ndarray


def axis_scores(vae: TrainedVAE, counts: np.ndarray, groups, source: str, target: str, points: str = "all") -> AxisResult:
    """Rank genes along ``source -> target``; gradients read at ``points``: all cells, or one group."""
    Z = vae.latent(counts)
    groups = np.asarray(groups).astype(str)
    a = condition_axis(Z, groups, source, target)
    at = Z if points == "all" else Z[group_mask(groups, points)]
    s = gradient_scores(vae, at, a)
    b = baseline_scores(vae, Z, groups, source, target)
    table = pd.DataFrame({"gene": vae.genes, "score": s, "baseline": b})
    table = table.iloc[np.argsort(-np.abs(s), kind="stable")].reset_index(drop=True)
    return AxisResult(table, a, Z, groups)


def perturbation_flow(vae: TrainedVAE, Z0: np.ndarray, genes: list[str], delta: float, n_steps: int = 20) -> np.ndarray:
    """Latent paths ``[n_steps + 1, n_cells, d]`` following the summed gradient of ``genes``."""
    index = {g: i for i, g in enumerate(vae.genes)}
    missing = [g for g in genes if g not in index]
    if missing:
        raise DataError(f"Gene(s) {missing[:10]} are not among the VAE's genes.")
    cols = torch.as_tensor([index[g] for g in genes])
    z = torch.as_tensor(np.asarray(Z0, dtype=np.float32)).clone()
    path = [z.clone()]
    for _ in range(n_steps):
        z = z.detach().requires_grad_(True)
        y = torch.log1p(vae.module.decode(z)[:, cols]).sum()
        (grad,) = torch.autograd.grad(y, z)
        z = (z + delta * grad).detach()
        path.append(z.clone())
    return torch.stack(path).numpy()


__all__ = ["condition_axis", "gradient_scores", "baseline_scores", "axis_scores", "AxisResult", "perturbation_flow"]

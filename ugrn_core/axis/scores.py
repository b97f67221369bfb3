"""Gene scores along a condition axis, the decoded-means baseline, and perturbation flows.

- axis a = mean z(to) - mean z(from) over the cells of the two groups (posterior means);
- gradient score s_i = mean over latent points z of cos(grad_z y_i(z), a), in [-1, 1]: the
  sign says whether gene i rises (+) or falls (-) when moving along the axis;
- baseline: decoded NB means at each group's median latent, m1 and m0, scored
  (m1 - m0) / ((m1 + m0) / 2) (symmetric relative change);
- flow: z <- z + delta * grad_z log1p(y_g(z)) for n steps (delta < 0 knocks gene g down;
  the log makes genes of a set weigh alike, and only rescales the step for one gene), or
  along the label head's logit (towards / away from the condition);
- flow map: that gradient field seen in a 2-D principal-axes view of the latent space.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

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

    def group_sizes(self, source: str, target: str) -> tuple[int, int]:
        return int((self.groups == source).sum()), int((self.groups == target).sum())

    def agreement(self) -> float:
        """Spearman correlation of the gradient score with the baseline over the genes."""
        return float(self.scores[["score", "baseline"]].corr(method="spearman").iloc[0, 1])

    def top_genes(self, n: int, by: str = "score") -> list[str]:
        """The ``n`` genes with the largest |score| (or |baseline|)."""
        order = np.argsort(-self.scores[by].abs().to_numpy(), kind="stable")
        return self.scores.gene.iloc[order[:n]].tolist()

    def start_cells(self, group: str, n: int, seed: int = 0) -> np.ndarray:
        """Latent points of up to ``n`` cells of ``group`` (``"all"``: any cell), drawn by seed:
        where in-silico perturbation flows start."""
        pool = np.flatnonzero(np.ones(len(self.groups), bool) if group == "all" else self.groups == group)
        pick = np.random.default_rng(seed).choice(pool, min(n, len(pool)), replace=False)
        return self.latent[pick]

    def group_means(self, groups: tuple[str, ...]) -> dict[str, np.ndarray]:
        return {g: self.latent[self.groups == g].mean(0) for g in groups}


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


def _gene_objective(vae: TrainedVAE, genes: list[str]) -> Callable[[torch.Tensor], torch.Tensor]:
    """log1p of the decoded means of ``genes``, summed per cell (so genes of a set weigh alike)."""
    index = {g: i for i, g in enumerate(vae.genes)}
    missing = [g for g in genes if g not in index]
    if missing:
        raise DataError(f"Gene(s) {missing[:10]} are not among the VAE's {len(index)} genes; "
                        "choose genes from its panel or raise the number of genes it models.")
    if not genes:
        raise DataError("Choose at least one gene to follow.")
    cols = torch.as_tensor([index[g] for g in genes])
    return lambda z: torch.log1p(vae.module.decode(z)[:, cols]).sum(-1)


def _label_objective(vae: TrainedVAE) -> Callable[[torch.Tensor], torch.Tensor]:
    """The auxiliary head's logit of P(label | z)."""
    if vae.module.aux is None:
        raise DataError("This VAE has no label head: refit it with the condition label to follow P(condition).")
    return lambda z: vae.module.aux(z).squeeze(-1)


def _gradient(objective, z: torch.Tensor) -> torch.Tensor:
    z = z.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(z).sum(), z)
    return grad


def _follow(objective, Z0: np.ndarray, delta: float, n_steps: int) -> np.ndarray:
    z = torch.as_tensor(np.asarray(Z0, dtype=np.float32)).clone()
    path = [z.clone()]
    for _ in range(n_steps):
        z = (z + delta * _gradient(objective, z)).detach()
        path.append(z.clone())
    return torch.stack(path).numpy()


def perturbation_flow(vae: TrainedVAE, Z0: np.ndarray, genes: list[str], delta: float, n_steps: int = 20) -> np.ndarray:
    """Latent paths ``[n_steps + 1, n_cells, d]`` following the gradient of ``genes``
    (delta > 0 raises them, delta < 0 knocks them down)."""
    return _follow(_gene_objective(vae, genes), Z0, delta, n_steps)


def label_flow(vae: TrainedVAE, Z0: np.ndarray, delta: float, n_steps: int = 20) -> np.ndarray:
    """Latent paths following the label head's logit (delta > 0 moves towards the label)."""
    return _follow(_label_objective(vae), Z0, delta, n_steps)


def flow_effects(vae: TrainedVAE, path: np.ndarray, pseudo: float = 1.0) -> pd.DataFrame:
    """Decoded change from a flow's start to its end, averaged over its cells; biggest first.

    ``log2fc`` = log2((end + pseudo) / (start + pseudo)) of mean decoded values per 10,000."""
    start, end = vae.decode(path[0]).mean(0), vae.decode(path[-1]).mean(0)
    table = pd.DataFrame({"gene": vae.genes, "start": start, "end": end,
                          "log2fc": np.log2((end + pseudo) / (start + pseudo))})
    return table.iloc[np.argsort(-np.abs(table.log2fc.to_numpy()), kind="stable")].reset_index(drop=True)


@dataclass
class LatentView:
    """A 2-D view of the latent space: its first two principal axes through the cells' mean.

    Points off the plane are shown by their projection; gradients are read on the plane
    (``lift``) and projected back, so streamlines are the gradient field as seen in the view."""

    mean: np.ndarray  # [d]
    components: np.ndarray  # [2, d], orthonormal rows
    explained: np.ndarray  # fraction of latent variance along each

    def project(self, Z: np.ndarray) -> np.ndarray:
        return (np.asarray(Z) - self.mean) @ self.components.T

    def lift(self, U: np.ndarray) -> np.ndarray:
        return self.mean + np.asarray(U) @ self.components


def latent_view(Z: np.ndarray) -> LatentView:
    Z = np.asarray(Z, dtype=np.float64)
    mean = Z.mean(0)
    if Z.shape[1] < 2:
        raise DataError("A 2-D view needs a latent space of at least 2 dimensions.")
    _, sv, vt = np.linalg.svd(Z - mean, full_matrices=False)
    var = sv ** 2
    return LatentView(mean.astype(np.float32), vt[:2].astype(np.float32), var[:2] / max(var.sum(), 1e-12))


def gradient_field(vae: TrainedVAE, view: LatentView, genes: list[str] | None = None, grid: int = 25,
                   extent: tuple[float, float, float, float] | None = None, Z: np.ndarray | None = None):
    """Gradient of the followed genes (or, with ``genes=None``, the label head) on a regular
    grid of the view: ``(x, y, U, V)`` with ``U, V`` of shape ``[len(y), len(x)]``."""
    if extent is None:
        if Z is None:
            raise ValueError("Give the view's extent or the cells' latent points.")
        P = view.project(Z)
        lo, hi = np.percentile(P, 1, axis=0), np.percentile(P, 99, axis=0)
        pad = 0.1 * (hi - lo)
        extent = (lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1])
    x = np.linspace(extent[0], extent[1], grid)
    y = np.linspace(extent[2], extent[3], grid)
    XX, YY = np.meshgrid(x, y)
    points = view.lift(np.column_stack([XX.ravel(), YY.ravel()])).astype(np.float32)
    objective = _label_objective(vae) if genes is None else _gene_objective(vae, genes)
    grad = _gradient(objective, torch.as_tensor(points)).numpy() @ view.components.T
    return x, y, grad[:, 0].reshape(XX.shape), grad[:, 1].reshape(XX.shape)


__all__ = [
    "group_mask", "condition_axis", "gradient_scores", "baseline_scores", "axis_scores", "AxisResult",
    "perturbation_flow", "label_flow", "flow_effects", "LatentView", "latent_view", "gradient_field",
]

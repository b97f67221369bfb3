"""A negative-binomial VAE for one dataset: the decoder whose gradients the axis reads.

Model (as scVI's, kept small): encoder MLP on log1p counts -> q(z|x) = N(mu, sigma);
decoder MLP z -> softmax gene proportions rho; counts ~ NB(mean = library * rho, per-gene
inverse dispersion theta). KL weight warms up linearly; training stops early on the
held-out ELBO. An optional head predicts a binary label (e.g. condition) from z, so its
gradient can be followed too. Seeded; a few thousand cells x ~2,000 genes train on CPU in
a minute or two.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..training import EarlyStopping

SCALE = 1e4  # decoded expression is reported per 10,000 counts (as normalize_total)


@dataclass
class VAEConfig:
    n_latent: int = 10
    hidden: int = 128
    epochs: int = 200
    batch_size: int = 256
    lr: float = 1e-3
    kl_warmup: int = 40  # epochs
    patience: int = 15
    val_fraction: float = 0.1
    aux_weight: float = 1.0
    seed: int = 0


def _mlp(i: int, h: int, o: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(i, h), nn.LayerNorm(h), nn.ReLU(), nn.Linear(h, o))


class NBVAE(nn.Module):
    def __init__(self, n_genes: int, n_latent: int = 10, hidden: int = 128, aux: bool = False):
        super().__init__()
        self.encoder = _mlp(n_genes, hidden, 2 * n_latent)
        self.decoder = _mlp(n_latent, hidden, n_genes)
        self.log_theta = nn.Parameter(torch.zeros(n_genes))
        self.aux = nn.Linear(n_latent, 1) if aux else None
        self.n_latent = n_latent

    def encode(self, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.log1p(counts))
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(-10, 10)

    def proportions(self, z: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.decoder(z), dim=-1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Decoded NB mean per 10,000 counts: the expression whose gradients are read."""
        return self.proportions(z) * SCALE

    def loss(self, counts: torch.Tensor, kl_weight: float, label: torch.Tensor | None = None, aux_weight: float = 1.0):
        mu, logvar = self.encode(counts)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        library = counts.sum(-1, keepdim=True).clamp(min=1.0)
        mean = library * self.proportions(z)
        nll = -nb_log_likelihood(counts, mean, torch.exp(self.log_theta)).sum(-1)
        kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(-1)
        total = nll + kl_weight * kl
        if self.aux is not None and label is not None:
            known = ~torch.isnan(label)  # cells in neither group carry NaN and teach the head nothing
            bce = nn.functional.binary_cross_entropy_with_logits(
                self.aux(z).squeeze(-1), torch.nan_to_num(label), reduction="none")
            total = total + aux_weight * torch.where(known, bce, torch.zeros_like(bce))
        return total.mean(), nll.mean(), kl.mean()


def nb_log_likelihood(x: torch.Tensor, mean: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """log NB(x; mean, theta) elementwise (theta = inverse dispersion)."""
    log_theta_mu = torch.log(theta + mean + eps)
    return (
        theta * (torch.log(theta + eps) - log_theta_mu)
        + x * (torch.log(mean + eps) - log_theta_mu)
        + torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1)
    )


@dataclass
class TrainedVAE:
    """The user-facing wrapper: a fitted module plus what it was fitted on."""

    module: NBVAE
    genes: list[str]
    config: VAEConfig
    history: list[dict] = field(default_factory=list)
    label: str | None = None

    @torch.no_grad()
    def latent(self, counts: np.ndarray) -> np.ndarray:
        """Posterior means mu(x) of each cell (the latent points the axis is read at)."""
        mu, _ = self.module.encode(torch.as_tensor(counts, dtype=torch.float32))
        return mu.numpy()

    @torch.no_grad()
    def decode(self, Z: np.ndarray) -> np.ndarray:
        return self.module.decode(torch.as_tensor(Z, dtype=torch.float32)).numpy()

    def label_probability(self, Z: np.ndarray) -> np.ndarray:
        """P(label = 1 | z) from the auxiliary head (only when trained with a label)."""
        if self.module.aux is None:
            raise ValueError("This VAE was trained without a label head.")
        with torch.no_grad():
            return torch.sigmoid(self.module.aux(torch.as_tensor(Z, dtype=torch.float32))).squeeze(-1).numpy()

    def summary(self) -> dict:
        last = self.history[-1] if self.history else {}
        return {"genes": len(self.genes), "config": asdict(self.config), "epochs_run": len(self.history), **last}


def fit_vae(
    counts: np.ndarray,
    genes: list[str],
    config: VAEConfig | None = None,
    label: np.ndarray | None = None,
    label_name: str | None = None,
    progress=None,
) -> TrainedVAE:
    """Train on raw counts (cells x genes); ``label`` (0/1 per cell, NaN = unlabelled) enables
    the auxiliary head."""
    cfg = config or VAEConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    X = torch.as_tensor(np.asarray(counts, dtype=np.float32))
    y = None if label is None else torch.as_tensor(np.asarray(label, dtype=np.float32))
    n = len(X)
    order = rng.permutation(n)
    n_val = max(1, int(round(cfg.val_fraction * n)))
    val, train = order[:n_val], order[n_val:]
    module = NBVAE(X.shape[1], cfg.n_latent, cfg.hidden, aux=y is not None)
    opt = torch.optim.Adam(module.parameters(), lr=cfg.lr)
    # Before the KL weight reaches 1 the loss is not comparable: those epochs do not count.
    stopper, history = EarlyStopping(cfg.patience, min_delta=1e-3, warmup=max(cfg.kl_warmup, 1) - 1), []
    for epoch in range(1, cfg.epochs + 1):
        module.train()
        kl_w = min(1.0, epoch / max(cfg.kl_warmup, 1))
        perm = train[rng.permutation(len(train))]
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            loss, _, _ = module.loss(X[idx], kl_w, None if y is None else y[idx], cfg.aux_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        module.eval()
        with torch.no_grad():
            v, nll, kl = module.loss(X[val], 1.0, None if y is None else y[val], cfg.aux_weight)
        history.append({"epoch": epoch, "val_loss": float(v), "val_nll": float(nll), "val_kl": float(kl)})
        if progress:
            progress(epoch, cfg.epochs, history[-1])
        if stopper.update(float(v), module):
            break
    stopper.restore(module).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return TrainedVAE(module, list(genes), cfg, history, label_name)


__all__ = ["VAEConfig", "NBVAE", "TrainedVAE", "fit_vae", "nb_log_likelihood", "SCALE"]

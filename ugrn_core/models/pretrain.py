"""Pretrain a small scGPT-architecture model with scGPT's masked-value objective.

A product feature, not a script: users without downloadable weights or a GPU build a model
of their own data in minutes on CPU, and the result is an ordinary scGPT checkpoint folder.
Because a model that learned nothing would make every extractor print noise with
confidence, training ends by scoring held-out cells against two references — each gene's
training mean, and a ridge regression of the masked gene from the same cell's other genes
— and writes them to ``metrics.json`` beside the weights.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import write_checkpoint
from .foundation import CLS_VALUE, resolve_device
from .scgpt import ScGPTConfig, ScGPTModel
from .values import ValueSpec, fit_value_spec, to_model_values
from .vocab import CLS_TOKEN, PAD_TOKEN, GeneVocab


@dataclass
class PretrainConfig:
    epochs: int = 40
    nlayers: int = 4
    d_model: int = 64
    nhead: int = 4
    d_hid: int = 128
    dropout: float = 0.1
    mask_ratio: float = 0.4
    mask_schedule: str = "fixed"  # "fixed": mask_ratio; "uniform": a ratio per batch drawn from U(mask_range)
    mask_range: tuple[float, float] = (0.15, 0.9)
    attention: str = "full"  # "full" (scGPT) or "visible": masked genes are never attended to
    lr_schedule: str = "constant"  # one epoch of warm-up, then "constant" or "cosine" decay (bench/results/recipes.md)
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    value_transform: str = "log1p"
    n_bins: int = 51
    val_fraction: float = 0.1
    patience: int = 8
    seed: int = 0
    baseline_genes: int = 200
    max_seq_len: int = 128  # genes per training sequence (random subset per batch, as scGPT)

    def __post_init__(self) -> None:
        """Refuse an unknown choice here, before any data is prepared or a step is taken."""
        for name, allowed in (("mask_schedule", ("fixed", "uniform")), ("attention", ("full", "visible")),
                              ("lr_schedule", ("constant", "cosine"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}; choose {' or '.join(map(repr, allowed))}.")


@dataclass
class PretrainResult:
    model: ScGPTModel
    vocab: GeneVocab
    value_spec: ValueSpec
    metrics: dict


def _mask(shape, ratio: float, gen: torch.Generator, device) -> torch.Tensor:
    m = torch.rand(shape, generator=gen, device="cpu") < ratio
    return m.to(device)


RIDGE_ALPHAS = np.logspace(-2, 4, 13)


def _batch_mask_ratio(cfg: PretrainConfig, gen: torch.Generator) -> float:
    """Why a schedule: virtual cells read targets with many genes hidden (or few); a model
    trained at one ratio only has never seen those inputs."""
    if cfg.mask_schedule == "fixed":
        return cfg.mask_ratio
    lo, hi = cfg.mask_range
    return lo + (hi - lo) * float(torch.rand((), generator=gen))


def _predict(model: ScGPTModel, ids: torch.Tensor, vals: torch.Tensor, cls_id: int) -> torch.Tensor:
    b = vals.shape[0]
    ids_b = torch.cat([torch.full((b, 1), cls_id, device=ids.device), ids.expand(b, -1)], dim=1)
    vals_b = torch.cat([vals.new_full((b, 1), CLS_VALUE), vals], dim=1)
    return model(ids_b, vals_b)[:, 1:]


@torch.no_grad()
def masked_error(model, ids, V, mask, spec, cls_id, batch_size=256, total: bool = False):
    """Mean squared error of the model at the masked entries of ``V`` (cells x genes).

    With ``total=True`` returns ``(sum of squared errors, count)`` so groups can be pooled.
    """
    model.eval()
    se, n = 0.0, 0
    for s in range(0, len(V), batch_size):
        v, m = V[s:s + batch_size], mask[s:s + batch_size]
        pred = _predict(model, ids, torch.where(m, torch.full_like(v, spec.mask_value), v), cls_id)
        se += float(((pred - v) ** 2)[m].sum())
        n += int(m.sum())
    return (se, n) if total else se / max(n, 1)


def availability_groups(V: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Cells grouped by which genes were measured (NaN = not measured in that dataset).

    Returns the group of each cell and, per group, the indices of its measured genes.
    Training sequences are drawn within one group, so no model input is ever invented.
    """
    measured = ~np.isnan(V)
    keys, group = np.unique(np.packbits(measured, axis=1), axis=0, return_inverse=True)
    genes = [np.flatnonzero(measured[np.flatnonzero(group == g)[0]]) for g in range(len(keys))]
    return group.ravel(), genes


def reference_errors(V_train: np.ndarray, V_val: np.ndarray, mask_val: np.ndarray, genes_idx: np.ndarray) -> dict:
    """Held-out masked-value MSE of the two references on the evaluated genes.

    gene mean: predict each masked value by the gene's training mean.
    ridge: per gene, a ridge regression from the cell's other genes (masked ones replaced
    by their training means, as the model sees them masked) fitted on training cells, its
    penalty chosen by leave-one-out cross-validation so that a small dataset (a few hundred
    cells, as many genes) gets a fair reference rather than an overfitted one.
    """
    from sklearn.linear_model import RidgeCV

    mu = V_train.mean(axis=0)
    Xv = np.where(mask_val, mu[None, :], V_val)
    se_mean = se_ridge = 0.0
    n = 0
    for g in genes_idx:
        rows = mask_val[:, g]
        if not rows.any():
            continue
        truth = V_val[rows, g]
        se_mean += float(((truth - mu[g]) ** 2).sum())
        others = np.delete(np.arange(V_train.shape[1]), g)
        reg = RidgeCV(alphas=RIDGE_ALPHAS).fit(V_train[:, others], V_train[:, g])
        se_ridge += float(((reg.predict(Xv[rows][:, others]) - truth) ** 2).sum())
        n += int(rows.sum())
    return {"mse_gene_mean": se_mean / max(n, 1), "mse_ridge": se_ridge / max(n, 1), "n_masked": n}


def pretrain(
    X_lognorm: np.ndarray,
    genes: list[str],
    config: PretrainConfig | None = None,
    device: str = "auto",
    progress: Callable[[int, int, dict], None] | None = None,
) -> PretrainResult:
    """Train on log-normalised expression ``X_lognorm`` (cells x genes).

    NaN marks a gene not measured in a cell's dataset: several datasets with different
    gene sets can be stacked and pretrained together (see ``stack_datasets``).
    """
    cfg = config or PretrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = resolve_device(device)
    V_all = to_model_values(X_lognorm, ValueSpec(transform=cfg.value_transform, n_bins=cfg.n_bins))
    group, group_genes = availability_groups(V_all)
    order = rng.permutation(len(V_all))
    n_val = max(1, int(round(cfg.val_fraction * len(V_all))))
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    spec = fit_value_spec(np.nan_to_num(V_all[train_idx], nan=0.0), cfg.value_transform, cfg.n_bins)

    vocab = GeneVocab.from_genes(genes)
    mcfg = ScGPTConfig(
        ntoken=len(vocab), d_model=cfg.d_model, nhead=cfg.nhead, d_hid=cfg.d_hid,
        nlayers=cfg.nlayers, dropout=cfg.dropout, pad_idx=vocab.index_of(PAD_TOKEN),
        # "visible": a prediction depends on the visible genes only, so a virtual cell that
        # hides all but its source reads a clean pairwise effect.
        hide_masked_keys=cfg.attention == "visible", mask_value=spec.mask_value,
    )
    model = ScGPTModel(mcfg).to(dev)
    cls_id = vocab.index_of(CLS_TOKEN)
    ids = torch.as_tensor(vocab.ids(genes), device=dev)
    V_t = torch.as_tensor(np.nan_to_num(V_all, nan=0.0), device=dev)
    gen = torch.Generator().manual_seed(cfg.seed)
    # Per group: training cells, validation cells, their measured genes, a fixed validation mask.
    groups = []
    for g, cols in enumerate(group_genes):
        tr = train_idx[group[train_idx] == g]
        va = val_idx[group[val_idx] == g]
        cols_t = torch.as_tensor(cols, device=dev)
        mask = _mask((len(va), len(cols)), cfg.mask_ratio, gen, dev)
        groups.append((tr, va, cols_t, mask))

    def validation_error() -> float:
        se = n = 0.0
        for _, va, cols_t, mask in groups:
            if len(va):
                s_, n_ = masked_error(model, ids[cols_t], V_t[va][:, cols_t], mask, spec, cls_id, total=True)
                se, n = se + s_, n + n_
        return se / max(n, 1)

    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = sum(math.ceil(len(tr) / cfg.batch_size) for tr, *_ in groups)
    total_steps = cfg.epochs * steps_per_epoch
    warmup = max(1, steps_per_epoch)

    def lr_factor(s: int) -> float:
        decay = 1.0 if cfg.lr_schedule == "constant" else 0.5 * (1 + math.cos(math.pi * min(s, total_steps) / total_steps))
        return min(1.0, (s + 1) / warmup) * decay

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
    best, best_state, best_epoch, history, bad = math.inf, None, 0, [], 0
    t0 = time.perf_counter()
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        batches = []
        for g, (tr, _, cols_t, _) in enumerate(groups):
            perm = tr[torch.randperm(len(tr), generator=gen).numpy()]
            batches += [(g, perm[s:s + cfg.batch_size]) for s in range(0, len(perm), cfg.batch_size)]
        losses = []
        for b in torch.randperm(len(batches), generator=gen).tolist():
            g, cells = batches[b]
            cols_t = groups[g][2]
            pick = cols_t[torch.randperm(len(cols_t), generator=gen)[: cfg.max_seq_len].to(dev)]
            v = V_t[torch.as_tensor(cells, device=dev)][:, pick]
            m = _mask(v.shape, _batch_mask_ratio(cfg, gen), gen, dev)
            pred = _predict(model, ids[pick], torch.where(m, torch.full_like(v, spec.mask_value), v), cls_id)
            loss = F.mse_loss(pred[m], v[m])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        val = validation_error()
        history.append({"epoch": epoch, "train_mse": float(np.mean(losses)), "val_mse": val})
        if progress:
            progress(epoch, cfg.epochs, history[-1])
        if val < best - 1e-5:
            best, best_epoch, bad = val, epoch, 0
            best_state = {k: t.detach().clone() for k, t in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
    model.load_state_dict(best_state)
    model.eval().cpu()
    train_seconds = time.perf_counter() - t0

    # References on held-out cells, per group, on a sample of that group's genes.
    se_model = se_mean = se_ridge = 0.0
    n_total = n_eval_genes = 0
    ids_cpu, V_cpu = ids.cpu(), V_t.cpu()
    per_group = max(1, cfg.baseline_genes // len(groups))
    for tr, va, cols_t, mask in groups:
        if not len(va) or not len(tr):
            continue
        cols = cols_t.cpu().numpy()
        pick = rng.choice(len(cols), size=min(per_group, len(cols)), replace=False)
        mask_np = mask.cpu().numpy()
        only = np.zeros_like(mask_np)
        only[:, pick] = mask_np[:, pick]
        s_, n_ = masked_error(model, ids_cpu[cols], V_cpu[va][:, cols], torch.as_tensor(only), spec, cls_id, total=True)
        refs = reference_errors(V_all[tr][:, cols], V_all[va][:, cols], only, pick)
        se_model += s_
        se_mean += refs["mse_gene_mean"] * refs["n_masked"]
        se_ridge += refs["mse_ridge"] * refs["n_masked"]
        n_total += n_
        n_eval_genes += len(pick)
    n_total = max(n_total, 1)
    mse_model, mse_mean, mse_ridge = se_model / n_total, se_mean / n_total, se_ridge / n_total
    metrics = {
        "heldout_cells": int(n_val),
        "train_cells": int(len(train_idx)),
        "genes": len(genes),
        "datasets": len(groups),
        "evaluated_genes": int(n_eval_genes),
        "mask_ratio": cfg.mask_ratio,
        "mse_model": mse_model,
        "mse_gene_mean": mse_mean,
        "mse_ridge": mse_ridge,
        "n_masked": int(n_total),
        "skill_vs_gene_mean": 1.0 - mse_model / max(mse_mean, 1e-12),
        "skill_vs_ridge": 1.0 - mse_model / max(mse_ridge, 1e-12),
        "best_epoch": best_epoch,
        "epochs_run": len(history),
        "train_seconds": round(train_seconds, 1),
        "device": str(dev),
        "config": asdict(cfg),
        "history": history,
    }
    return PretrainResult(model, vocab, spec, metrics)


def save_pretrained(result: PretrainResult, folder: str | Path, data_description: str = "") -> Path:
    """Write the scGPT checkpoint folder plus ``metrics.json``."""
    folder = write_checkpoint(
        folder, result.model, result.vocab, result.value_spec,
        extra_args={"ugrn_pretrain": {**result.metrics["config"], "data": data_description}},
    )
    (Path(folder) / "metrics.json").write_text(json.dumps(result.metrics, indent=2))
    return Path(folder)


def read_metrics(folder: str | Path | None) -> dict | None:
    """The ``metrics.json`` a pretraining run left beside its weights (None for other checkpoints)."""
    path = Path(folder) / "metrics.json" if folder else None
    if path is None or not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def learned_little(m: dict) -> bool:
    """No better than a ridge regression on the same genes: VVP/GT may read mostly noise."""
    return m.get("skill_vs_ridge", 0.0) <= 0.0


def format_metrics(m: dict) -> str:
    return (
        f"Held-out masked-value MSE on {m['heldout_cells']} cells, {m['evaluated_genes']} genes: "
        f"model {m['mse_model']:.4f} | gene mean {m['mse_gene_mean']:.4f} | ridge {m['mse_ridge']:.4f} "
        f"(skill vs mean {m['skill_vs_gene_mean']:+.1%}, vs ridge {m['skill_vs_ridge']:+.1%}; "
        f"best epoch {m['best_epoch']}/{m['epochs_run']}, {m['train_seconds']} s)"
    )

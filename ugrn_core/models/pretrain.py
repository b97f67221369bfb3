"""Pretrain a small scGPT-architecture model with scGPT's masked-value objective.

A product feature, not a script: users without downloadable weights or a GPU build a model
of their own data in minutes on CPU, and the result is an ordinary scGPT checkpoint folder.
Because a model that learned nothing would make every extractor print noise with
confidence, training ends by scoring held-out cells against two references — each gene's
training mean, and a ridge regression of the masked gene from the same cell's other genes
— and writes them to ``metrics.json`` beside the weights. Learning is a contract: training
does not stop early while the model is no better than ridge, and when its time budget is
spent without beating it, :func:`contract_message` says how far it got and what to try.
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

from ..training import EarlyStopping
from .checkpoint import write_checkpoint
from .foundation import CLS_VALUE, resolve_device
from .scgpt import ScGPTConfig, ScGPTModel
from .values import ValueSpec, fit_value_spec, to_model_values
from .vocab import CLS_TOKEN, PAD_TOKEN, GeneVocab


@dataclass
class PretrainConfig:
    """The pretraining recipe (``bench/results/pretrain_family.md`` says how it was chosen).

    Training length is planned in optimiser steps from the data's size (``planned_epochs``
    passes over the cells, at least ``min_steps``, at most ``max_planned_steps``) and bounded
    by a wall-clock ``budget_s``. It never stops early before ``min_steps``, nor while the
    held-out error is above the ridge reference (the learning contract): then it goes on
    until the budget is spent. ``epochs`` fixes the length instead (no plan, no extension);
    ``steps`` fixes it in optimiser steps, so models fitted on data of different sizes can be
    compared at equal training (the recipe's warm-up and check spacing kept).
    """

    epochs: int | None = None
    steps: int | None = None
    budget_s: float = 1200.0
    planned_epochs: float = 60.0
    min_steps: int = 1500
    max_planned_steps: int = 12000
    eval_every: int | None = None  # least steps between held-out checks (default: about one epoch, 50-250; more when checks are slow)
    warmup_steps: int = 100
    lr_reductions: int = 2  # on a plateau after beating the references: halve the LR this many times
    output: str = "plain"  # "residual": gene mean + gene spread x decoder, standardised loss; "plain": scGPT's
    nlayers: int = 4
    d_model: int = 64
    nhead: int = 4
    d_hid: int = 128
    dropout: float = 0.1
    mask_ratio: float = 0.4
    mask_schedule: str = "fixed"  # "fixed": mask_ratio; "uniform": a ratio per batch drawn from U(mask_range)
    mask_range: tuple[float, float] = (0.15, 0.9)
    attention: str = "full"  # "full" (scGPT) or "visible": masked genes are never attended to
    lr_schedule: str = "constant"  # after warm-up, "constant" or "cosine" decay over the planned steps
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    value_transform: str = "log1p"
    n_bins: int = 51
    val_fraction: float = 0.1  # cells for early stopping; as many again, never used for a choice, for the check
    max_eval_cells: int = 256
    patience: int = 8  # evaluations without improvement
    seed: int = 0
    baseline_genes: int = 200
    max_seq_len: int = 128  # genes per training sequence (random subset per batch, as scGPT)
    linear_path: str = "none"  # beside the transformer: "none" (scGPT), "ridge" (the cells' ridge regression, fixed), "learned"
    linear_rank: int = 64  # the path's rank (a ridge path of rank 64 ranks pairs as the full one does)

    def __post_init__(self) -> None:
        """Refuse an unknown choice here, before any data is prepared or a step is taken."""
        for name, allowed in (("mask_schedule", ("fixed", "uniform")), ("attention", ("full", "visible")),
                              ("lr_schedule", ("constant", "cosine")), ("output", ("residual", "plain")),
                              ("linear_path", ("none", "ridge", "learned"))):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Unknown {name} {getattr(self, name)!r}; choose {' or '.join(map(repr, allowed))}.")
        if self.budget_s <= 0:
            raise ValueError(f"budget_s must be positive (got {self.budget_s}).")
        if self.epochs is not None and self.steps is not None:
            raise ValueError("Give epochs or steps, not both: each fixes the training length.")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be at least 1 (got {self.steps}).")


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


def ridge_predictions(V_train: np.ndarray, evals: list[tuple[np.ndarray, np.ndarray]], genes_idx) -> list[dict]:
    """The two references' squared errors on each evaluation set ``(V, mask)``.

    gene mean: predict each masked value by the gene's training mean.
    ridge: per gene, a ridge regression from the cell's other genes (masked ones replaced
    by their training means, as the model sees them masked) fitted once on training cells,
    its penalty chosen by leave-one-out cross-validation so that a small dataset (a few
    hundred cells, as many genes) gets a fair reference rather than an overfitted one.
    Returns, per evaluation set, ``{"se_gene_mean", "se_ridge", "n_masked"}``.
    """
    from sklearn.linear_model import RidgeCV

    mu = V_train.mean(axis=0)
    out = [{"se_gene_mean": 0.0, "se_ridge": 0.0, "n_masked": 0} for _ in evals]
    filled = [np.where(mask, mu[None, :], V) for V, mask in evals]
    for g in genes_idx:
        if not any(mask[:, g].any() for _, mask in evals):
            continue
        others = np.delete(np.arange(V_train.shape[1]), g)
        reg = RidgeCV(alphas=RIDGE_ALPHAS).fit(V_train[:, others], V_train[:, g])
        for res, (V, mask), Xf in zip(out, evals, filled):
            rows = mask[:, g]
            if rows.any():
                truth = V[rows, g]
                res["se_gene_mean"] += float(((truth - mu[g]) ** 2).sum())
                res["se_ridge"] += float(((reg.predict(Xf[rows][:, others]) - truth) ** 2).sum())
                res["n_masked"] += int(rows.sum())
    return out


EVAL_SHARE = 0.15  # most of a budget's time that held-out checks may take


@dataclass
class TrainingPlan:
    """How long pretraining runs, decided from the data before the first step."""

    steps_per_epoch: int
    planned_steps: int
    min_steps: int
    eval_every: int
    budget_s: float
    fixed: bool
    warmup_steps: int

    def describe(self, n_cells: int) -> str:
        if self.fixed:
            return (f"fixed length: {self.planned_steps} steps ({self.planned_steps / max(self.steps_per_epoch, 1):.3g} "
                    f"passes of {self.steps_per_epoch} steps), time budget {self.budget_s:.0f} s")
        return (f"{self.planned_steps} planned steps for {n_cells} training cells "
                f"({self.planned_steps / max(self.steps_per_epoch, 1):.0f} passes of {self.steps_per_epoch} steps; "
                f"at least {self.min_steps}); held-out check every {self.eval_every} steps; no early stop before "
                f"{self.min_steps} steps or while the model does not beat the ridge reference; "
                f"time budget {self.budget_s:.0f} s")


def plan_training(cfg: PretrainConfig, n_train_cells_per_group: list[int]) -> TrainingPlan:
    """Steps scale with the data (``planned_epochs`` passes) within ``[min_steps, max_planned_steps]``:
    a 300-cell dataset gets as many steps as it needs to leave the gene-mean plateau, a
    5,000-cell one is not cut short by an epoch count tuned elsewhere."""
    spe = max(1, sum(math.ceil(n / cfg.batch_size) for n in n_train_cells_per_group))
    if cfg.epochs is not None:
        return TrainingPlan(spe, cfg.epochs * spe, 0, spe, cfg.budget_s, fixed=True, warmup_steps=spe)
    every = cfg.eval_every or int(min(max(spe, 50), 250))
    if cfg.steps is not None:
        return TrainingPlan(spe, cfg.steps, 0, every, cfg.budget_s, fixed=True, warmup_steps=min(cfg.warmup_steps, cfg.steps))
    planned = int(min(max(cfg.planned_epochs * spe, cfg.min_steps), cfg.max_planned_steps))
    return TrainingPlan(spe, planned, min(cfg.min_steps, planned), every, cfg.budget_s, fixed=False,
                        warmup_steps=cfg.warmup_steps)


def _split_cells(n: int, cfg: PretrainConfig, rng: np.random.Generator):
    """Training cells; selection cells (early stopping, best state); check cells (the
    reported comparison with the references, never used for a choice)."""
    if n < 3:
        raise ValueError(f"Pretraining needs at least 3 cells (got {n}).")
    order = rng.permutation(n)
    n_val = min(max(1, int(round(cfg.val_fraction * n))), (n - 1) // 2)
    return np.sort(order[2 * n_val:]), np.sort(order[:n_val]), np.sort(order[n_val:2 * n_val])


@dataclass
class _Group:
    """Cells that measured the same genes (one per stacked dataset)."""

    train: np.ndarray
    select: np.ndarray
    check: np.ndarray
    cols: np.ndarray
    pick: np.ndarray  # genes scored by the held-out comparison
    select_mask: np.ndarray
    check_mask: np.ndarray


def _gene_stats(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and spread over training cells (NaN = not measured), spread floored so
    a near-constant gene does not get an exploding standardised loss."""
    with np.errstate(all="ignore"):
        mean = np.nan_to_num(np.nanmean(V, axis=0), nan=0.0)
        sd = np.nan_to_num(np.nanstd(V, axis=0), nan=1.0)
    return mean.astype(np.float32), np.maximum(sd, 0.05).astype(np.float32)


def _group_errors(model, ids, V_t, groups, which: str, spec, cls_id) -> list[tuple[float, int]]:
    """Per group, the model's summed squared error and count on the ``which`` cells' masks."""
    out = []
    for g in groups:
        cells = getattr(g, which)
        mask = getattr(g, f"{which}_mask")
        if len(cells) and mask.any():
            cols_t = torch.as_tensor(g.cols, device=V_t.device)
            out.append(masked_error(model, ids[cols_t], V_t[torch.as_tensor(cells, device=V_t.device)][:, cols_t],
                                    torch.as_tensor(mask, device=V_t.device), spec, cls_id, total=True))
        else:
            out.append((0.0, 0))
    return out


def _pooled_mse(errors: list[tuple[float, int]]) -> float:
    return sum(float(s) for s, _ in errors) / max(sum(int(n) for _, n in errors), 1)


def _comparison(model, ids, V_t, groups, which: str, spec, cls_id) -> float:
    return _pooled_mse(_group_errors(model, ids, V_t, groups, which, spec, cls_id))


def _per_dataset(errors, groups, references, labels) -> list[dict]:
    """The held-out comparison of each stacked dataset (availability group) on its own, so a
    pooled model shows where it learned and where it did not."""
    rows = []
    for g, (se, n), ref in zip(groups, errors, references):
        if not n or not ref["n_masked"]:
            continue
        mse = float(se) / int(n)
        cells = np.concatenate([g.train, g.select, g.check])
        rows.append({
            "dataset": str(labels[cells[0]]) if labels is not None else f"group {len(rows)}",
            "cells": int(len(cells)), "genes": int(len(g.cols)),
            "mse_model": mse, "mse_gene_mean": ref["mse_gene_mean"], "mse_ridge": ref["mse_ridge"],
            "skill_vs_gene_mean": 1.0 - mse / max(ref["mse_gene_mean"], 1e-12),
            "skill_vs_ridge": 1.0 - mse / max(ref["mse_ridge"], 1e-12),
        })
    return rows


def pretrain(
    X_lognorm: np.ndarray,
    genes: list[str],
    config: PretrainConfig | None = None,
    device: str = "auto",
    progress: Callable[[int, int, dict], None] | None = None,
    announce: Callable[[str], None] | None = None,
    labels: np.ndarray | None = None,
) -> PretrainResult:
    """Train on log-normalised expression ``X_lognorm`` (cells x genes).

    NaN marks a gene not measured in a cell's dataset: several datasets with different
    gene sets can be stacked and pretrained together (see ``stack_datasets``, whose
    per-cell dataset ``labels`` name the per-dataset rows of ``metrics["per_dataset"]``).
    ``progress(step, planned_steps, record)`` is called at every held-out evaluation;
    ``announce(text)`` once before the first step, with the recipe and why.
    """
    cfg = config or PretrainConfig()
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    dev = resolve_device(device)
    V_all = to_model_values(X_lognorm, ValueSpec(transform=cfg.value_transform, n_bins=cfg.n_bins))
    train_idx, select_idx, check_idx = _split_cells(len(V_all), cfg, rng)
    spec = fit_value_spec(np.nan_to_num(V_all[train_idx], nan=0.0), cfg.value_transform, cfg.n_bins)
    groups, references = _prepare_groups(V_all, train_idx, select_idx, check_idx, cfg, rng)
    plan = plan_training(cfg, [len(g.train) for g in groups])

    vocab = GeneVocab.from_genes(genes)
    model = _build_model(cfg, vocab, spec, V_all[train_idx], genes).to(dev)
    cls_id = vocab.index_of(CLS_TOKEN)
    ids = torch.as_tensor(vocab.ids(genes), device=dev)
    V_t = torch.as_tensor(np.nan_to_num(V_all, nan=0.0), device=dev)
    select_ref = references["select"]
    if announce:
        announce(describe_recipe(cfg, plan, len(train_idx), select_ref))
    loop = _train(model, ids, V_t, groups, plan, cfg, spec, cls_id, select_ref, progress)
    model.eval().cpu()

    errors = _group_errors(model, ids.cpu(), V_t.cpu(), groups, "check", spec, cls_id)
    check = _pooled_mse(errors)
    ref = references["check"]
    mse_mean, mse_ridge = ref["mse_gene_mean"], ref["mse_ridge"]
    skill_ridge = 1.0 - check / max(mse_ridge, 1e-12)
    metrics = {
        "heldout_cells": int(len(check_idx)),
        "selection_cells": int(len(select_idx)),
        "train_cells": int(len(train_idx)),
        "genes": len(genes),
        "datasets": len(groups),
        "evaluated_genes": int(sum(len(g.pick) for g in groups)),
        "mask_ratio": cfg.mask_ratio,
        "mse_model": check,
        "mse_gene_mean": mse_mean,
        "mse_ridge": mse_ridge,
        "n_masked": int(ref["n_masked"]),
        "skill_vs_gene_mean": 1.0 - check / max(mse_mean, 1e-12),
        "skill_vs_ridge": skill_ridge,
        "outcome": "beats ridge" if skill_ridge > 0 else "does not beat ridge",
        "plan": plan.describe(len(train_idx)),
        "planned_steps": plan.planned_steps,
        "budget_s": plan.budget_s,
        **loop,
        "device": str(dev),
        "config": asdict(cfg),
    }
    if len(groups) > 1:
        metrics["per_dataset"] = _per_dataset(errors, groups, references["check_groups"], labels)
    return PretrainResult(model, vocab, spec, metrics)


def describe_recipe(cfg: PretrainConfig, plan: TrainingPlan, n_train: int, select_ref: dict) -> str:
    """What pretraining chose and why, in the words the CLI prints."""
    output = ("residual output (each gene's mean + its spread x the decoder, standardised loss: training starts "
              "at the gene-mean level and every gene weighs alike)" if cfg.output == "residual" else "plain scGPT output")
    if cfg.linear_path == "ridge":
        output += (f", beside the transformer the training cells' ridge regression (rank {cfg.linear_rank}, fixed: "
                   "the transformer learns what a linear predictor misses)")
    elif cfg.linear_path == "learned":
        output += f", a learned rank-{cfg.linear_rank} linear path beside the transformer"
    return (f"Recipe: {cfg.nlayers} layers x d={cfg.d_model}, {output}, mask ratio {cfg.mask_ratio}, lr {cfg.lr} "
            f"({cfg.lr_schedule} after {plan.warmup_steps} warm-up steps).\n"
            f"Length: {plan.describe(n_train)}.\n"
            f"To beat on the early-stopping cells: gene mean {select_ref['mse_gene_mean']:.4f}, "
            f"ridge {select_ref['mse_ridge']:.4f} (masked-value MSE).")


def _prepare_groups(V_all, train_idx, select_idx, check_idx, cfg: PretrainConfig, rng):
    """Per availability group: its cells, measured genes, the genes the comparison scores and
    fixed masks; plus both references (gene mean, ridge) on the selection and check cells."""
    group, group_genes = availability_groups(V_all)
    gen = np.random.default_rng(cfg.seed + 1)
    per_group = max(1, cfg.baseline_genes // len(group_genes))
    groups = []
    totals = {"select": [0.0, 0.0, 0], "check": [0.0, 0.0, 0]}
    check_groups = []
    for gi, cols in enumerate(group_genes):
        cells = {k: idx[group[idx] == gi] for k, idx in (("train", train_idx), ("select", select_idx), ("check", check_idx))}
        for k in ("select", "check"):  # a bounded evaluation: a seeded sample of cells
            if len(cells[k]) > cfg.max_eval_cells:
                cells[k] = np.sort(rng.choice(cells[k], cfg.max_eval_cells, replace=False))
        pick = np.sort(gen.choice(len(cols), size=min(per_group, len(cols)), replace=False))
        masks = {}
        for k in ("select", "check"):
            m = np.zeros((len(cells[k]), len(cols)), dtype=bool)
            m[:, pick] = gen.random((len(cells[k]), len(pick))) < cfg.mask_ratio
            masks[k] = m
        groups.append(_Group(cells["train"], cells["select"], cells["check"], cols, pick, masks["select"], masks["check"]))
        own = {"mse_gene_mean": 0.0, "mse_ridge": 0.0, "n_masked": 0}
        if len(cells["train"]) and (len(cells["select"]) or len(cells["check"])):
            Vtr = V_all[cells["train"]][:, cols]
            evals = [(V_all[cells[k]][:, cols], masks[k]) for k in ("select", "check")]
            for k, r in zip(("select", "check"), ridge_predictions(Vtr, evals, pick)):
                t = totals[k]
                t[0] += r["se_gene_mean"]
                t[1] += r["se_ridge"]
                t[2] += r["n_masked"]
                if k == "check" and r["n_masked"]:
                    own = {"mse_gene_mean": r["se_gene_mean"] / r["n_masked"], "mse_ridge": r["se_ridge"] / r["n_masked"],
                           "n_masked": r["n_masked"]}
        check_groups.append(own)
    refs = {k: {"mse_gene_mean": t[0] / max(t[2], 1), "mse_ridge": t[1] / max(t[2], 1), "n_masked": t[2]}
            for k, t in totals.items()}
    refs["check_groups"] = check_groups
    return groups, refs


def ridge_factors(V: np.ndarray, mean: np.ndarray, rank: int, alpha: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Rank-``rank`` factors (u, w) with u_i.w_j ~ B_ij, the coefficient of gene i when gene j is
    regressed on all the others (ridge, penalty ``alpha`` x the mean gene variance), from the
    training cells (NaN, a gene not measured, counts as its mean). Why: the linear path then
    starts where a linear predictor ends, instead of having to find weak co-expression by SGD.
    B = -P_ij / P_jj with P the inverse of the penalised covariance (all regressions at once)."""
    Xc = np.nan_to_num(V - mean[None, :], nan=0.0).astype(np.float64)
    cov = Xc.T @ Xc / max(len(Xc), 1)
    prec = np.linalg.inv(cov + alpha * max(float(np.mean(np.diag(cov))), 1e-8) * np.eye(len(cov)))
    B = -prec / np.diag(prec)[None, :]
    np.fill_diagonal(B, 0.0)
    U, S, Vt = np.linalg.svd(B)
    root = np.sqrt(S[:rank])
    return (U[:, :rank] * root).astype(np.float32), (Vt[:rank].T * root).astype(np.float32)


def _build_model(cfg: PretrainConfig, vocab: GeneVocab, spec: ValueSpec, V_train: np.ndarray, genes) -> ScGPTModel:
    mcfg = ScGPTConfig(
        ntoken=len(vocab), d_model=cfg.d_model, nhead=cfg.nhead, d_hid=cfg.d_hid,
        nlayers=cfg.nlayers, dropout=cfg.dropout, pad_idx=vocab.index_of(PAD_TOKEN),
        # "visible": a prediction depends on the visible genes only, so a virtual cell that
        # hides all but its source reads a clean pairwise effect.
        hide_masked_keys=cfg.attention == "visible", mask_value=spec.mask_value,
        gene_affine=cfg.output == "residual",
        linear_rank=0 if cfg.linear_path == "none" else min(cfg.linear_rank, len(genes)),
    )
    model = ScGPTModel(mcfg)
    mean, sd = _gene_stats(V_train)
    ids = torch.as_tensor(vocab.ids(genes))
    if mcfg.linear_rank:
        model.set_linear_path(ids, torch.as_tensor(mean))
        if cfg.linear_path == "ridge":  # fixed: the transformer learns what a linear predictor misses
            u, w = ridge_factors(V_train, mean, mcfg.linear_rank)
            if cfg.output == "residual":  # the path's term is then in each output gene's spread
                w = w / sd[:, None]
            with torch.no_grad():
                model.ugrn_linear_in.weight[ids] = torch.as_tensor(u)
                model.ugrn_linear_out.weight[ids] = torch.as_tensor(w)
            model.ugrn_linear_in.weight.requires_grad_(False)
            model.ugrn_linear_out.weight.requires_grad_(False)
    if cfg.output == "residual":
        model.set_gene_affine(ids, torch.as_tensor(mean), torch.as_tensor(sd))
    return model


def _train(model, ids, V_t, groups, plan: TrainingPlan, cfg: PretrainConfig, spec, cls_id, select_ref, progress) -> dict:
    """The optimiser loop under the plan and the learning contract; returns what happened."""
    dev = V_t.device
    gen = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scale = getattr(model, "ugrn_gene_scale", None)
    warmup = plan.warmup_steps
    lr_mult = 1.0

    def lr_at(step: int) -> float:
        decay = 1.0
        if cfg.lr_schedule == "cosine":
            decay = max(0.1, 0.5 * (1 + math.cos(math.pi * min(step, plan.planned_steps) / plan.planned_steps)))
        return cfg.lr * lr_mult * min(1.0, (step + 1) / max(warmup, 1)) * decay

    def batches():
        while True:  # epochs of shuffled batches, drawn within one availability group each
            epoch = []
            for gi, g in enumerate(groups):
                perm = g.train[torch.randperm(len(g.train), generator=gen).numpy()]
                epoch += [(gi, perm[s:s + cfg.batch_size]) for s in range(0, len(perm), cfg.batch_size)]
            for b in torch.randperm(len(epoch), generator=gen).tolist():
                yield epoch[b]

    stopper = EarlyStopping(cfg.patience, min_delta=1e-5)
    ridge, gene_mean = select_ref["mse_ridge"], select_ref["mse_gene_mean"]
    history, losses, step, reductions, stopped = [], [], 0, 0, "planned length reached"
    every, eval_seconds, last_eval_step, last_eval_end = plan.eval_every, 0.0, 0, 0.0
    t0 = time.perf_counter()
    model.train()
    for gi, cells in batches():
        cols_t = torch.as_tensor(groups[gi].cols, device=dev)
        pick = cols_t[torch.randperm(len(cols_t), generator=gen)[: cfg.max_seq_len].to(dev)]
        v = V_t[torch.as_tensor(cells, device=dev)][:, pick]
        m = _mask(v.shape, _batch_mask_ratio(cfg, gen), gen, dev)
        pred = _predict(model, ids[pick], torch.where(m, torch.full_like(v, spec.mask_value), v), cls_id)
        err = pred - v
        if scale is not None:  # standardised residuals: every gene weighs alike
            err = err / scale[ids[pick]]
        loss = (err[m] ** 2).mean()
        for group_ in opt.param_groups:
            group_["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(loss.item())
        elapsed = time.perf_counter() - t0
        # check at the spacing, on reaching the plan and when the budget is spent (past the plan, the
        # contract's extension keeps the spacing: it used to check after every step)
        if step - last_eval_step < every and step != plan.planned_steps and elapsed < plan.budget_s:
            continue
        val = _comparison(model, ids, V_t, groups, "select", spec, cls_id)
        model.train()
        eval_s = time.perf_counter() - t0 - elapsed
        eval_seconds += eval_s
        # A check reads every selection cell with its whole panel, which on a wide real panel
        # costs hundreds of training steps: space the checks so they take at most EVAL_SHARE
        # of the time (the budget then buys steps, not evaluations). A fixed length has no
        # budget to protect and keeps its spacing, so the same seed gives the same model.
        step_s = max(elapsed - last_eval_end, 1e-9) / max(step - last_eval_step, 1)
        if not plan.fixed:
            every = max(plan.eval_every, math.ceil(eval_s / (EVAL_SHARE * step_s)))
        last_eval_step, last_eval_end = step, time.perf_counter() - t0
        history.append({"step": step, "epoch": round(step / plan.steps_per_epoch, 2), "train_loss": float(np.mean(losses)),
                        "val_mse": val, "seconds": round(elapsed, 1), "lr": lr_at(step), "eval_seconds": round(eval_s, 2)})
        losses = []
        if progress:
            progress(step, plan.planned_steps, history[-1])
        out_of_patience = stopper.update(val, model)
        # The learning contract: keep going while the model is no better than the references.
        behind = stopper.best >= min(ridge, gene_mean) or step < plan.min_steps
        if elapsed >= plan.budget_s:
            stopped = "time budget spent"
            break
        if step >= plan.planned_steps and (plan.fixed or not behind):
            stopped = "planned length reached"
            break
        if out_of_patience:
            if not plan.fixed and reductions < cfg.lr_reductions and not behind:
                lr_mult, reductions = lr_mult * 0.5, reductions + 1
                stopper.reset_patience()
            elif not plan.fixed and behind:
                stopper.reset_patience()
            else:
                stopped = "no improvement (early stop)"
                break
    stopper.restore(model)
    best_step = history[stopper.best_at - 1]["step"] if stopper.best_at else step
    return {"steps": step, "best_step": best_step, "stopped": stopped, "lr_reductions": reductions,
            "epochs_run": round(step / plan.steps_per_epoch, 2), "best_epoch": round(best_step / plan.steps_per_epoch, 2),
            "train_seconds": round(time.perf_counter() - t0, 1), "eval_seconds": round(eval_seconds, 1),
            "selection_mse": stopper.best,
            "selection_mse_ridge": ridge, "selection_mse_gene_mean": gene_mean, "history": history}


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


def what_vvp_gt_read(m: dict) -> str:
    """What VVP/GT read from a model that learned little: noise, or with a ridge path beside the
    transformer, that path's linear co-expression."""
    if m.get("config", {}).get("linear_path") == "ridge":
        return ("what VVP and GT read from it is mostly the linear co-expression of the ridge regression beside "
                "its transformer, little that the transformer learned")
    return "what VVP and GT read from it may be mostly noise"


def format_metrics(m: dict) -> str:
    length = (f"{m['steps']} steps, best at {m['best_step']}, {m['stopped']}" if "steps" in m
              else f"best epoch {m['best_epoch']}/{m['epochs_run']}")  # metrics.json of older models
    return (
        f"Held-out masked-value MSE on {m['heldout_cells']} cells, {m['evaluated_genes']} genes: "
        f"model {m['mse_model']:.4f} | gene mean {m['mse_gene_mean']:.4f} | ridge {m['mse_ridge']:.4f} "
        f"(skill vs mean {m['skill_vs_gene_mean']:+.1%}, vs ridge {m['skill_vs_ridge']:+.1%}; "
        f"{length}, {m['train_seconds']} s)"
    ) + "".join(
        f"\n  {r['dataset']}: model {r['mse_model']:.4f} | gene mean {r['mse_gene_mean']:.4f} | ridge "
        f"{r['mse_ridge']:.4f} (vs ridge {r['skill_vs_ridge']:+.1%})" for r in m.get("per_dataset", [])
    )


def contract_message(m: dict) -> str | None:
    """What to tell the user when the model did not beat the ridge reference (else None)."""
    if not learned_little(m):
        return None
    budget = f" of the {m['budget_s']:.0f} s budget" if "budget_s" in m else ""
    return (
        f"The model did not beat the ridge reference: after {m.get('steps', '?')} steps "
        f"({m['train_seconds']} s{budget}; {m.get('stopped', 'stopped')}) its held-out masked-value error is "
        f"{m['mse_model']:.4f} against {m['mse_ridge']:.4f} for ridge and {m['mse_gene_mean']:.4f} for the gene mean, "
        f"so {what_vvp_gt_read(m)}. To try: a larger --budget (seconds), more cells, "
        "a wider model (--d-model 128 --lr 1e-3), or a real scGPT checkpoint."
    )

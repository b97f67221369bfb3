"""A seeded single-cell simulator with a known regulatory network (the demo data).

Why a simulator: the app and the tests need expression whose true regulators are known.
The model follows SERGIO's kinetics at steady state: each gene's production is a basal
rate plus Hill terms of its regulators (activating x^n/(K^n+x^n), repressing
K^n/(K^n+x^n)), with K set to the regulator's median level so every edge works in its
sensitive range. Genes are sampled in topological order, each with multiplicative
intrinsic noise, so cell-to-cell variation propagates down the true edges. Master
regulators get state-specific production (cell states), a fraction of cells carries a
knock-down of one regulator (``obs['condition']``: control / perturbed), and counts are
drawn with library-size variation and expression-dependent dropout, like real UMI data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass
class DemoConfig:
    n_genes: int = 300
    n_regulators: int = 30
    n_masters: int = 6
    n_cells: int = 3000
    n_states: int = 4
    max_regulators_per_target: int = 3
    p_activation: float = 0.7
    hill_n: float = 2.0
    master_cv: float = 0.35
    intrinsic_noise: float = 0.3
    basal: float = 0.05
    library_size: float = 4000.0
    dropout_percentile: float = 15.0
    dropout_shape: float = 5.0
    knockdown_fraction: float = 0.5
    knockdown_factor: float = 0.1
    seed: int = 0


def _gene_names(cfg: DemoConfig) -> tuple[list[str], list[str]]:
    regs = [f"TF{i + 1:02d}" for i in range(cfg.n_regulators)]
    targets = [f"G{i + 1:03d}" for i in range(cfg.n_genes - cfg.n_regulators)]
    return regs, targets


def simulate_network(cfg: DemoConfig, rng: np.random.Generator) -> pd.DataFrame:
    """A layered DAG: masters -> other regulators -> targets, with hub regulators."""
    regs, targets = _gene_names(cfg)
    rows = []
    popularity = 1.0 / np.arange(1, cfg.n_regulators + 1) ** 0.7
    rng.shuffle(popularity)
    for k, reg in enumerate(regs[cfg.n_masters:], start=cfg.n_masters):
        n_par = min(k, int(rng.integers(1, 3)))
        for p in rng.choice(k, size=n_par, replace=False):
            rows.append((regs[p], reg))
    for tgt in targets:
        n_par = int(rng.integers(1, cfg.max_regulators_per_target + 1))
        p = popularity / popularity.sum()
        for r in rng.choice(cfg.n_regulators, size=n_par, replace=False, p=p):
            rows.append((regs[r], tgt))
    net = pd.DataFrame(rows, columns=["source", "target"])
    net["sign"] = np.where(rng.random(len(net)) < cfg.p_activation, 1, -1)
    net["weight"] = rng.uniform(1.0, 3.0, len(net)).round(3)
    return net


def _simulate_levels(cfg, net, genes, rng, state, knocked):
    """True expression (cells x genes) by ancestral sampling of the Hill model."""
    n_cells = len(state)
    index = {g: i for i, g in enumerate(genes)}
    X = np.zeros((n_cells, len(genes)))
    master_levels = rng.uniform(0.3, 4.0, size=(cfg.n_states, cfg.n_masters))
    shape = 1.0 / cfg.master_cv**2
    for m in range(cfg.n_masters):
        X[:, m] = master_levels[state, m] * rng.gamma(shape, 1.0 / shape, n_cells)
    parents = net.groupby("target", sort=False)
    for g in genes[cfg.n_masters:]:
        j = index[g]
        prod = np.full(n_cells, cfg.basal)
        if g in parents.groups:
            for _, e in parents.get_group(g).iterrows():
                x = X[:, index[e.source]]
                K = max(np.median(x), 1e-3)
                hx = x**cfg.hill_n / (K**cfg.hill_n + x**cfg.hill_n)
                prod += e.weight * (hx if e.sign > 0 else 1.0 - hx)
        X[:, j] = prod * rng.lognormal(0.0, cfg.intrinsic_noise, n_cells)
        if g == knocked.name:
            X[knocked.values, j] *= cfg.knockdown_factor
    return X


def simulate_demo(cfg: DemoConfig | None = None, **overrides) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate raw UMI counts from a known network. Returns (adata, true_network).

    ``adata.X`` holds raw counts (sparse); ``obs`` has ``cell_state`` and ``condition``;
    ``var['is_regulator']`` marks the regulators; ``uns['true_network']`` repeats the edges.
    """
    cfg = cfg or DemoConfig()
    if overrides:
        cfg = DemoConfig(**{**asdict(cfg), **overrides})
    rng = np.random.default_rng(cfg.seed)
    regs, targets = _gene_names(cfg)
    genes = regs + targets
    net = simulate_network(cfg, rng)

    state = rng.integers(0, cfg.n_states, cfg.n_cells)
    perturbed = rng.random(cfg.n_cells) < cfg.knockdown_fraction
    out_degree = net[net.source.isin(regs[cfg.n_masters:])].source.value_counts()
    knocked_gene = out_degree.index[0] if len(out_degree) else regs[0]
    knocked = pd.Series(perturbed, name=knocked_gene)
    X = _simulate_levels(cfg, net, genes, rng, state, knocked)

    # Technical noise: library size, Poisson sampling, expression-dependent dropout.
    rel = X / X.sum(axis=1, keepdims=True)
    lib = rng.lognormal(np.log(cfg.library_size), 0.35, cfg.n_cells)
    counts = rng.poisson(rel * lib[:, None]).astype(np.float32)
    logx = np.log1p(X)
    mid = np.percentile(logx, cfg.dropout_percentile)
    keep = rng.random(X.shape) < 1.0 / (1.0 + np.exp(-cfg.dropout_shape * (logx - mid)))
    counts *= keep

    obs = pd.DataFrame(
        {
            "cell_state": pd.Categorical([f"state{s + 1}" for s in state]),
            "condition": pd.Categorical(
                np.where(perturbed, "perturbed", "control"), categories=["control", "perturbed"]
            ),
        },
        index=[f"cell{i:05d}" for i in range(cfg.n_cells)],
    )
    direct_targets = set(net.loc[net.source == knocked_gene, "target"])
    var = pd.DataFrame(
        {
            "is_regulator": [g in set(regs) for g in genes],
            "n_targets": [int((net.source == g).sum()) for g in genes],
            "knockdown_target": [g in direct_targets for g in genes],
        },
        index=genes,
    )
    adata = ad.AnnData(X=sp.csr_matrix(counts), obs=obs, var=var)
    adata.layers["counts"] = adata.X.copy()
    adata.uns["true_network"] = net
    adata.uns["ugrn_demo"] = {
        "description": "Simulated by ugrn_core.data.simulate (Hill-function GRN, known truth)",
        "knockdown_gene": knocked_gene,
        "config": {k: v for k, v in asdict(cfg).items()},
    }
    return adata, net

"""A family of simulated datasets that differ on purpose, for choosing and checking recipes.

Why: a pretraining recipe tuned on one simulator (the demo) learns only there. Choosing a
recipe needs datasets that differ in what matters to a model: the kinetics of regulation
(Hill activation/repression, a linear-Gaussian SEM on the log scale, saturating and
switch-like responses, combinatorial AND/OR logic, or a mix), network size and regulator
share, cell count, cell-state structure (discrete clusters, a continuum, a branching
trajectory), intrinsic noise, library-size spread and dropout. Every dataset carries its
true network with signs.

Two fixed lists, drawn by seed: ``DEVELOPMENT`` (used to choose recipes) and
``VALIDATION`` (never used for a choice; reported only at the end). The demo simulator
(:mod:`.simulate`) is separate and unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

KINETICS = ("hill", "linear", "saturating", "threshold", "logic", "mixed")
STRUCTURES = ("clusters", "continuum", "branching")
_HILL_N = {"hill": 2.0, "saturating": 1.0, "threshold": 8.0}


@dataclass(frozen=True)
class FamilySpec:
    """One simulated dataset. ``kinetics`` and ``structure`` take the values above."""

    name: str
    seed: int
    kinetics: str = "hill"
    structure: str = "clusters"
    n_genes: int = 150
    regulator_share: float = 0.15
    n_cells: int = 1000
    n_states: int = 4
    max_parents: int = 3
    p_activation: float = 0.65
    master_cv: float = 0.35
    intrinsic_noise: float = 0.3
    library_size: float = 3000.0
    library_spread: float = 0.35
    dropout_percentile: float = 15.0

    def __post_init__(self) -> None:
        if self.kinetics not in KINETICS:
            raise ValueError(f"Unknown kinetics {self.kinetics!r}; choose one of {', '.join(KINETICS)}.")
        if self.structure not in STRUCTURES:
            raise ValueError(f"Unknown structure {self.structure!r}; choose one of {', '.join(STRUCTURES)}.")
        if self.n_genes < 10 or not 0 < self.regulator_share < 1:
            raise ValueError("A family dataset needs at least 10 genes and a regulator share in (0, 1).")

    @property
    def n_regulators(self) -> int:
        return max(4, int(round(self.regulator_share * self.n_genes)))

    def describe(self) -> str:
        return (f"{self.name}: {self.kinetics} kinetics, {self.structure}, {self.n_cells} cells x "
                f"{self.n_genes} genes ({self.n_regulators} regulators), noise {self.intrinsic_noise:.2f}, "
                f"library {self.library_size:.0f} (spread {self.library_spread:.2f}), dropout p{self.dropout_percentile:.0f}")


def draw_spec(name: str, seed: int, kinetics: str, structure: str) -> FamilySpec:
    """Everything but kinetics and structure drawn from ``seed``: sizes log-uniform over the
    ranges the family covers (50–500 genes, 300–5,000 cells), the rest uniform."""
    rng = np.random.default_rng(seed)

    def log_uniform(lo, hi):
        return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))

    return FamilySpec(
        name=name, seed=seed, kinetics=kinetics, structure=structure,
        n_genes=int(round(log_uniform(50, 500))),
        regulator_share=float(rng.uniform(0.08, 0.3)),
        n_cells=int(round(log_uniform(300, 5000))),
        n_states=int(rng.integers(3, 7)),
        max_parents=int(rng.integers(2, 5)),
        p_activation=float(rng.uniform(0.5, 0.8)),
        intrinsic_noise=float(rng.uniform(0.15, 0.5)),
        library_size=log_uniform(1000, 10000),
        library_spread=float(rng.uniform(0.2, 0.6)),
        dropout_percentile=float(rng.uniform(0, 40)),
    )


def _family_list(prefix: str, base_seed: int, structure_offset: int) -> tuple[FamilySpec, ...]:
    """Six datasets: one per kinetics, structures cycled (offset so the two lists pair them
    differently), the rest drawn by seed."""
    return tuple(
        draw_spec(f"{prefix}-{i}", base_seed + i, kin, STRUCTURES[(i + structure_offset) % len(STRUCTURES)])
        for i, kin in enumerate(KINETICS)
    )


DEVELOPMENT = _family_list("dev", 1000, 0)
VALIDATION = _family_list("val", 2000, 1)


def family_spec(name: str) -> FamilySpec:
    """The spec of a named dataset of either list (``dev-0`` … ``val-5``)."""
    for spec in DEVELOPMENT + VALIDATION:
        if spec.name == name:
            return spec
    names = ", ".join(s.name for s in DEVELOPMENT + VALIDATION)
    raise KeyError(f"No family dataset {name!r}; the lists hold {names}.")


def _gene_names(spec: FamilySpec) -> tuple[list[str], list[str]]:
    """Regulators first, then targets: the order is the DAG's topological order."""
    n_reg = spec.n_regulators
    return [f"TF{i + 1:03d}" for i in range(n_reg)], [f"G{i + 1:03d}" for i in range(spec.n_genes - n_reg)]


def _network(spec: FamilySpec, rng: np.random.Generator) -> pd.DataFrame:
    """A DAG: masters -> other regulators -> targets, with hub regulators (power-law popularity)."""
    regs, targets = _gene_names(spec)
    n_reg = len(regs)
    n_masters = max(2, int(round(0.25 * n_reg)))
    popularity = 1.0 / np.arange(1, n_reg + 1) ** 0.8
    rng.shuffle(popularity)
    rows = []
    for k in range(n_masters, n_reg):
        for p in rng.choice(k, size=min(k, int(rng.integers(1, 3))), replace=False):
            rows.append((regs[p], regs[k]))
    for tgt in targets:
        k = int(rng.integers(1, spec.max_parents + 1))
        for r in rng.choice(n_reg, size=k, replace=False, p=popularity / popularity.sum()):
            rows.append((regs[r], tgt))
    net = pd.DataFrame(rows, columns=["source", "target"])
    net["sign"] = np.where(rng.random(len(net)) < spec.p_activation, 1, -1)
    net["weight"] = rng.uniform(0.5, 2.0, len(net)).round(3)
    net.attrs["n_masters"] = n_masters
    return net


def _cell_programme(spec: FamilySpec, n_masters: int, rng: np.random.Generator):
    """Master-regulator levels per cell (cells x masters) and the cells' annotations."""
    n = spec.n_cells
    lo, hi = 0.3, 4.0
    if spec.structure == "clusters":
        state = rng.integers(0, spec.n_states, n)
        levels = rng.uniform(lo, hi, (spec.n_states, n_masters))[state]
        obs = {"cell_state": [f"state{s + 1}" for s in state]}
    elif spec.structure == "continuum":
        t = rng.uniform(0, 1, n)
        a, b = rng.uniform(lo, hi, (2, n_masters))
        centre = rng.uniform(0.2, 0.8, n_masters)
        levels = a + (b - a) / (1 + np.exp(-8 * (t[:, None] - centre)))
        obs = {"pseudotime": t, "cell_state": [f"t{int(4 * x) + 1}" for x in np.minimum(t, 0.999)]}
    else:  # branching: a shared trunk, then two branches towards different end levels
        t = rng.uniform(0, 1, n)
        branch = rng.integers(0, 2, n)
        start, fork = rng.uniform(lo, hi, (2, n_masters))
        ends = rng.uniform(lo, hi, (2, n_masters))
        t0 = 0.35
        trunk = start + (fork - start) * np.minimum(t / t0, 1)[:, None]
        after = np.clip((t - t0) / (1 - t0), 0, 1)[:, None]
        levels = np.where(t[:, None] < t0, trunk, fork + (ends[branch] - fork) * after)
        obs = {"pseudotime": t, "cell_state": np.where(t < t0, "trunk", np.where(branch == 0, "branchA", "branchB"))}
    shape = 1.0 / spec.master_cv**2
    return levels * rng.gamma(shape, 1.0 / shape, levels.shape), obs


def _gene_kinetics(spec: FamilySpec, rng: np.random.Generator, n_parents: int) -> str:
    kin = spec.kinetics
    if kin == "mixed":
        kin = str(rng.choice([k for k in KINETICS if k != "mixed"]))
    return "hill" if kin == "logic" and n_parents < 2 else kin


def _levels(spec: FamilySpec, net: pd.DataFrame, genes: list[str], rng: np.random.Generator):
    """True expression (cells x genes) by ancestral sampling in topological order."""
    n_masters = net.attrs["n_masters"]
    X = np.zeros((spec.n_cells, len(genes)))
    X[:, :n_masters], obs = _cell_programme(spec, n_masters, rng)
    index = {g: i for i, g in enumerate(genes)}
    parents = {t: df for t, df in net.groupby("target", sort=False)}
    logic = []
    for j in range(n_masters, len(genes)):
        edges = parents.get(genes[j])
        if edges is None:  # a gene without regulators: basal level with noise
            X[:, j] = rng.uniform(0.2, 2.0) * rng.lognormal(0.0, spec.intrinsic_noise, spec.n_cells)
            continue
        kin = _gene_kinetics(spec, rng, len(edges))
        src = X[:, [index[s] for s in edges.source]]
        sign, w = edges.sign.to_numpy(), edges.weight.to_numpy()
        if kin == "linear":  # linear-Gaussian SEM on the log scale
            z = np.log(src + 1e-3)
            z = (z - z.mean(axis=0)) / (z.std(axis=0) + 1e-9)
            eta = (z * (sign * w * 0.6)).sum(axis=1) / np.sqrt(len(edges))
            prod = rng.uniform(0.5, 2.0) * np.exp(eta)
        else:
            u = src / np.maximum(np.median(src, axis=0), 1e-3)
            n_hill = _HILL_N.get(kin, 2.0)
            h = u**n_hill / (1 + u**n_hill)
            terms = np.where(sign > 0, h, 1 - h)
            if kin == "logic":
                gate = str(rng.choice(["and", "or"]))
                logic.append((genes[j], gate))
                combined = terms.prod(axis=1) if gate == "and" else 1 - (1 - terms).prod(axis=1)
                prod = 0.05 + w.sum() * combined
            else:
                prod = 0.05 + (terms * w).sum(axis=1)
        X[:, j] = prod * rng.lognormal(0.0, spec.intrinsic_noise, spec.n_cells)
    return X, obs, logic


def simulate_family(spec: FamilySpec | str) -> tuple[ad.AnnData, pd.DataFrame]:
    """Simulate raw UMI counts for one family dataset. Returns (adata, true_network).

    ``adata.X`` holds raw counts (sparse); ``obs`` has ``cell_state`` (and ``pseudotime``
    for trajectories); ``var['is_regulator']`` marks the regulators; ``uns['true_network']``
    repeats the signed edges and ``uns['ugrn_family']`` the spec.
    """
    if isinstance(spec, str):
        spec = family_spec(spec)
    rng = np.random.default_rng(spec.seed)
    net = _network(spec, rng)
    regs, targets = _gene_names(spec)
    genes = regs + targets
    X, obs, logic = _levels(spec, net, genes, rng)

    rel = X / X.sum(axis=1, keepdims=True)
    lib = rng.lognormal(np.log(spec.library_size), spec.library_spread, spec.n_cells)
    counts = rng.poisson(rel * lib[:, None]).astype(np.float32)
    logx = np.log1p(X)
    mid = np.percentile(logx, spec.dropout_percentile)
    counts *= rng.random(X.shape) < 1.0 / (1.0 + np.exp(-5.0 * (logx - mid)))

    obs_df = pd.DataFrame(obs, index=[f"cell{i:05d}" for i in range(spec.n_cells)])
    obs_df["cell_state"] = pd.Categorical(obs_df["cell_state"])
    var = pd.DataFrame({"is_regulator": [g in set(regs) for g in genes],
                        "n_targets": [int((net.source == g).sum()) for g in genes]}, index=genes)
    adata = ad.AnnData(X=sp.csr_matrix(counts), obs=obs_df, var=var)
    adata.layers["counts"] = adata.X.copy()
    tidy = net[["source", "target", "sign", "weight"]].reset_index(drop=True)
    adata.uns["true_network"] = tidy
    adata.uns["ugrn_family"] = {**asdict(spec), "logic_gates": len(logic)}
    return adata, tidy


def write_family_dataset(spec: FamilySpec | str, folder) -> tuple[str, str]:
    """Write ``<name>.h5ad`` and ``<name>_network.csv`` (source,target,sign) under ``folder``,
    so the CLI reads them like any user's files. Returns the two paths."""
    from pathlib import Path

    from ..files import atomic_write

    if isinstance(spec, str):
        spec = family_spec(spec)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    adata, net = simulate_family(spec)
    data_path, net_path = folder / f"{spec.name}.h5ad", folder / f"{spec.name}_network.csv"
    if not data_path.exists():
        adata.uns["true_network"] = net.to_dict(orient="list")  # h5ad stores dicts of lists, not frames
        atomic_write(data_path, lambda p: adata.write_h5ad(p))
    if not net_path.exists():
        atomic_write(net_path, lambda p: net[["source", "target", "sign"]].to_csv(p, index=False))
    return str(data_path), str(net_path)


__all__ = ["FamilySpec", "KINETICS", "STRUCTURES", "DEVELOPMENT", "VALIDATION", "draw_spec", "family_spec",
           "simulate_family", "write_family_dataset"]

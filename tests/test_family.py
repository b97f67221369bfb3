"""The simulated development / validation family: varied on purpose, seeded, with true signed networks."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import spearmanr

from ugrn_core.data.family import (
    DEVELOPMENT, KINETICS, STRUCTURES, VALIDATION, FamilySpec, family_spec, simulate_family, write_family_dataset,
)


def test_two_fixed_lists_cover_every_kinetics_and_structure():
    for lst in (DEVELOPMENT, VALIDATION):
        assert sorted(s.kinetics for s in lst) == sorted(KINETICS)
        assert {s.structure for s in lst} == set(STRUCTURES)
        for s in lst:
            assert 50 <= s.n_genes <= 500 and 300 <= s.n_cells <= 5000 and 0.08 <= s.regulator_share <= 0.3
    names = [s.name for s in DEVELOPMENT + VALIDATION]
    assert len(set(names)) == 12 and not {s.seed for s in DEVELOPMENT} & {s.seed for s in VALIDATION}
    # The two lists pair kinetics with different structures, so neither is a copy of the other.
    assert [(s.kinetics, s.structure) for s in DEVELOPMENT] != [(s.kinetics, s.structure) for s in VALIDATION]
    assert family_spec("val-3") == VALIDATION[3]
    with pytest.raises(KeyError, match="dev-0"):
        family_spec("nope")
    with pytest.raises(ValueError, match="kinetics"):
        FamilySpec("x", 0, kinetics="cubic")


def _small(spec: FamilySpec) -> FamilySpec:
    return replace(spec, n_cells=400, n_genes=min(spec.n_genes, 80))


@pytest.mark.parametrize("spec", DEVELOPMENT + VALIDATION[:1], ids=lambda s: f"{s.kinetics}-{s.structure}")
def test_datasets_are_raw_counts_from_a_signed_dag_that_shapes_expression(spec):
    spec = _small(spec)
    adata, net = simulate_family(spec)
    again, _ = simulate_family(spec)
    X = adata.X.toarray()
    np.testing.assert_array_equal(X, again.X.toarray())  # seeded
    assert X.shape == (spec.n_cells, spec.n_genes) and (X >= 0).all() and np.allclose(X, np.round(X))
    assert set(net.sign) <= {-1, 1} and not (net.source == net.target).any()
    index = {g: i for i, g in enumerate(adata.var_names)}
    assert all(index[s] < index[t] for s, t in zip(net.source, net.target))  # a DAG in gene order
    assert adata.var.loc[net.source.unique(), "is_regulator"].all()
    assert "cell_state" in adata.obs and adata.uns["ugrn_family"]["kinetics"] == spec.kinetics
    # The planted edges shape expression: true pairs correlate more than random non-edges.
    logx = np.log1p(X / X.sum(1, keepdims=True) * 1e4)
    rng = np.random.default_rng(0)
    edges = set(zip(net.source, net.target))
    true_r = [abs(spearmanr(logx[:, index[s]], logx[:, index[t]])[0]) for s, t in edges]
    genes = list(adata.var_names)
    regs = list(net.source.unique())
    others = [(s, t) for s, t in zip(rng.choice(regs, 400), rng.choice(genes, 400)) if s != t and (s, t) not in edges]
    other_r = [abs(spearmanr(logx[:, index[s]], logx[:, index[t]])[0]) for s, t in others]
    assert np.nanmean(true_r) > np.nanmean(other_r) + 0.02


def test_logic_kinetics_records_its_gates_and_trajectories_carry_pseudotime():
    logic = next(s for s in DEVELOPMENT if s.kinetics == "logic")
    adata, _ = simulate_family(_small(logic))
    assert adata.uns["ugrn_family"]["logic_gates"] > 0
    branching = _small(replace(DEVELOPMENT[0], structure="branching"))
    obs = simulate_family(branching)[0].obs
    assert {"trunk", "branchA", "branchB"} == set(obs.cell_state) and obs.pseudotime.between(0, 1).all()


def test_written_files_read_back_like_any_users_files(tmp_path):
    from ugrn_core.data.io import read_dataset
    from ugrn_core.data.networks import read_network

    spec = _small(DEVELOPMENT[1])
    data_path, net_path = write_family_dataset(spec, tmp_path)
    adata = read_dataset(data_path)
    net = read_network(net_path)
    truth = simulate_family(spec)[1]
    assert adata.shape == (spec.n_cells, spec.n_genes)
    assert len(net) == len(truth) and set(net.columns) >= {"source", "target", "sign"}
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{spec.name}.h5ad", f"{spec.name}_network.csv"]

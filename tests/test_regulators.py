"""The regulator-aware panel: shipped census lists, expressed regulators on top of the most variable genes."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import make_model
from ugrn_core.data.networks import match_network, read_network
from ugrn_core.data.preprocess import select_panel, variability_order
from ugrn_core.data.regulators import expressed_regulators, guess_species, reference_regulators
from ugrn_core.pipeline import prepare_data


def test_shipped_lists_hold_known_transcription_factors():
    human, mouse = reference_regulators("human"), reference_regulators("mouse")
    assert len(human) == 1639 and len(mouse) == 1721  # as PROVENANCE.md states
    assert {"STAT1", "IRF7", "SOX2", "MYC", "GATA1"} <= human and {"SOX2", "POU5F1", "NANOG"} <= mouse
    assert "ACTB" not in human and "GAPDH" not in mouse
    with pytest.raises(ValueError, match="species"):
        reference_regulators("fly")


def test_species_follows_the_symbols_style():
    assert guess_species(["Sox2", "Nanog", "Actb", "Gapdh"]) == "mouse"
    assert guess_species(["SOX2", "NANOG", "ACTB"]) == "human"


def _toy(n_cells=200) -> ad.AnnData:
    """Log-scale data: 3 transcription factors (one detected in 2 cells only), 30 other genes."""
    rng = np.random.default_rng(0)
    genes = ["STAT1", "IRF1", "NANOG"] + [f"G{i:02d}" for i in range(30)]
    X = rng.gamma(1.0, 1.0, (n_cells, len(genes))) * (rng.random((n_cells, len(genes))) < 0.6)
    X[:, 2] = 0
    X[:2, 2] = 1.0  # NANOG: detected in 2 cells, under the 10-cell floor
    return ad.AnnData(np.log1p(X).astype(np.float32), var=pd.DataFrame(index=genes))


def test_expressed_regulators_come_on_top_of_the_most_variable_genes():
    adata = _toy()
    genes = list(adata.var_names)
    regs = expressed_regulators(adata, genes)
    assert regs == ["STAT1", "IRF1"]  # NANOG is too rarely detected
    assert expressed_regulators(adata, genes, extra={"G05"}) == ["STAT1", "IRF1", "G05"]
    panel = select_panel(adata, 5, candidates=genes, regulators=regs)
    assert len(panel) == 7 and set(panel[:2]) == {"STAT1", "IRF1"}
    assert panel[2:] == [g for g in variability_order(adata, genes) if g not in regs][:5]
    assert select_panel(adata, 5, candidates=genes) == variability_order(adata, genes)[:5]
    capped = select_panel(adata, 5, candidates=genes, regulators=regs, max_regulators=1)
    assert len(capped) == 6 and capped[0] in regs


def test_demo_panel_is_unchanged_by_the_regulator_mode(default_model):
    """The demo's genes (TF01…, G001…) are in no census: both modes give the same panel."""
    a = prepare_data("demo", default_model, n_genes=60)
    b = prepare_data("demo", default_model, n_genes=60, panel="hvg")
    assert a.panel == b.panel and a.regulators == [] and a.panel_mode == "regulators+hvg"
    assert "0 expressed" not in a.panel_summary() and "transcription-factor lists" in a.panel_summary()
    with pytest.raises(ValueError, match="panel must be one of"):
        prepare_data("demo", default_model, n_genes=60, panel="tfs")


def test_kang_panel_holds_its_expressed_regulators_and_more_trrust_edges(shared_data):
    kang = ad.read_h5ad(shared_data / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad")
    model = make_model(list(kang.var_names))
    trrust = read_network(str(shared_data / "networks" / "trrust_rawdata.human.tsv"))
    regs = prepare_data(kang, model, n_genes=100)
    hvg = prepare_data(kang, model, n_genes=100, panel="hvg")
    human = reference_regulators("human")
    counts = kang.X.toarray() if hasattr(kang.X, "toarray") else np.asarray(kang.X)
    detected = dict(zip(kang.var_names, (counts > 0).sum(axis=0)))
    expressed = [g for g in kang.var_names if g in human and detected[g] >= 10]  # 600 cells: the 10-cell floor rules
    assert sorted(regs.regulators) == sorted(expressed) and set(expressed) <= set(regs.panel)
    assert len(regs.panel) == 100 + len(regs.regulators)
    with_regs, without = match_network(trrust, regs.panel), match_network(trrust, hvg.panel)
    assert len(with_regs.edges) > len(without.edges) and len(with_regs.regulators) > len(without.regulators)

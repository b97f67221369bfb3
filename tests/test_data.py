"""Data in: readers, raw/log detection, panel choice, gene-ID mapping, the demo simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ugrn_core.data.gene_ids import detect_id_type, map_to_vocab
from ugrn_core.data.io import read_dataset
from ugrn_core.data.preprocess import LOG, RAW, detect_scale, preprocess, select_panel
from ugrn_core.data.simulate import simulate_demo
from ugrn_core.errors import GeneNotFoundError, VocabularyError
from ugrn_core.models.vocab import GeneVocab


@pytest.fixture(scope="module")
def small_demo():
    return simulate_demo(n_genes=60, n_regulators=8, n_masters=3, n_cells=400, seed=1)


def test_simulator_is_seeded_and_carries_truth(small_demo):
    adata, net = small_demo
    again, net2 = simulate_demo(n_genes=60, n_regulators=8, n_masters=3, n_cells=400, seed=1)
    assert (adata.X != again.X).nnz == 0 and net.equals(net2)
    assert adata.shape == (400, 60)
    assert set(net.source) <= set(adata.var_names[adata.var.is_regulator])
    assert set(adata.obs.condition) == {"control", "perturbed"}
    assert detect_scale(adata.X) == RAW
    # Knocked-down regulator really is lower in perturbed cells.
    kd = adata.uns["ugrn_demo"]["knockdown_gene"]
    x = np.asarray(adata[:, kd].X.todense()).ravel()
    pert = (adata.obs.condition == "perturbed").to_numpy()
    assert x[pert].mean() < 0.5 * x[~pert].mean()


def test_true_edges_are_more_correlated_than_non_edges(small_demo):
    adata, net = small_demo
    lg, _ = preprocess(adata)
    C = np.corrcoef(lg.X.toarray().T)
    idx = {g: i for i, g in enumerate(lg.var_names)}
    from sklearn.metrics import roc_auc_score

    truth = set(zip(net.source, net.target))
    regs = list(lg.var_names[lg.var.is_regulator])
    pairs = [(r, t) for r in regs for t in lg.var_names if r != t]
    y = [p in truth for p in pairs]
    s = [abs(C[idx[r], idx[t]]) for r, t in pairs]
    assert roc_auc_score(y, s) > 0.7  # measured 0.76 for this seed


def test_preprocess_normalises_raw_and_keeps_log(small_demo):
    adata, _ = small_demo
    lg, rep = preprocess(adata)
    assert rep.detected == RAW and rep.normalized and "counts" in lg.layers
    again, rep2 = preprocess(lg)
    assert rep2.detected == LOG and not rep2.normalized
    np.testing.assert_allclose(again.X.toarray(), lg.X.toarray())


def test_preprocessing_leaves_torch_thread_count_alone(small_demo):
    """scanpy's numba kernels reset the OpenMP pool torch shares; a one-thread job must stay one."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        sparse = small_demo[0].copy()
        sparse.X = sp.csr_matrix(sparse.X)  # the sparse path runs numba in parallel
        data, _ = preprocess(sparse)
        select_panel(data, 20)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_panel_keeps_requested_genes_and_has_requested_size(small_demo):
    lg, _ = preprocess(small_demo[0])
    panel = select_panel(lg, 20, keep=["G010", "TF02"])
    assert len(panel) == 20 and panel[:2] == ["G010", "TF02"] and len(set(panel)) == 20
    with pytest.raises(GeneNotFoundError):
        select_panel(lg, 20, keep=["NOT_A_GENE"])


def test_id_type_detection():
    assert detect_id_type(["ENSG00000141510", "ENSG00000012048.2"]) == "ensembl"
    assert detect_id_type(["TP53", "BRCA1"]) == "symbol"
    assert detect_id_type(["TP53"] * 5 + ["ENSG00000141510"] * 5) == "mixed"


def test_vocab_mapping_reports_and_refuses_with_both_fixes():
    vocab = GeneVocab.from_genes(["SOX2", "POU5F1", "NANOG", "MYC"])
    m = map_to_vocab(["Sox2", "Pou5f1", "Xyz"], vocab, min_coverage=0.5)
    assert m.mapped == {"Sox2": "SOX2", "Pou5f1": "POU5F1"} and m.dropped == ["Xyz"]
    assert "2 of 3" in m.summary()
    with pytest.raises(VocabularyError) as err:
        map_to_vocab(["ENSG00000141510", "ENSG00000012048"], vocab, data_hint="x.h5ad")
    msg = str(err.value)
    assert "pretrain --data x.h5ad" in msg and "scGPT checkpoint" in msg and "Ensembl" in msg


def test_h5ad_roundtrip_and_sparse(tmp_path, small_demo):
    p = tmp_path / "d.h5ad"
    small_demo[0].write_h5ad(p)
    back = read_dataset(p)
    assert sp.issparse(back.X) and back.shape == small_demo[0].shape


def test_beeline_expression_table(tmp_path):
    df = pd.DataFrame(np.abs(np.random.default_rng(0).normal(size=(4, 6))), index=list("ABCD"),
                      columns=[f"c{i}" for i in range(6)])
    p = tmp_path / "ExpressionData.csv"
    df.to_csv(p)
    adata = read_dataset(tmp_path)  # the folder form
    assert adata.shape == (6, 4) and list(adata.var_names) == list("ABCD")


def test_real_beeline_set_reads_as_log_normalised(shared_data):
    p = shared_data / "benchmark/beeline_genelink/expression/mHSC-L/TFs+500/BL--ExpressionData.csv.gz"
    adata = read_dataset(p)
    assert adata.shape == (847, 560)
    assert detect_scale(adata.X) == LOG


def test_uploads_are_stored_by_content(tmp_path):
    from ugrn_core.data.io import save_upload

    a = save_upload("../../etc/my data.h5ad", b"abc", tmp_path)
    assert a.parent == tmp_path and a.name.endswith("_my_data.h5ad") and a.read_bytes() == b"abc"
    assert save_upload("other.h5ad", b"abc", tmp_path).name.split("_")[0] == a.name.split("_")[0]
    b = save_upload("my data.h5ad", b"abd", tmp_path)
    assert b != a
    other = next(tmp_path.glob("*_other.h5ad"))
    assert sorted(tmp_path.iterdir()) == sorted([a, b, other])  # no temporary file left behind


def test_coverage_is_judged_on_the_most_variable_genes():
    """A model pretrained on a dataset's most variable genes (pretrain --n-genes) opens that
    dataset however many other genes the file holds; one that knows only quiet genes does not."""
    from conftest import make_model

    from ugrn_core.data.preprocess import preprocess, variability_order
    from ugrn_core.data.simulate import simulate_demo
    from ugrn_core.errors import VocabularyError
    from ugrn_core.pipeline import COVERAGE_GENES, prepare_data

    adata = simulate_demo(n_cells=300)[0]
    order = variability_order(preprocess(adata)[0], list(adata.var_names))
    assert len(order) < COVERAGE_GENES  # the demo's 300 genes are all judged: coverage = share of all
    top = make_model(order[:120])  # 40 % of the file's genes, but the 120 most variable
    with pytest.raises(VocabularyError, match="most variable"):
        prepare_data(adata, top, n_genes=100, min_coverage=0.5)
    p = prepare_data(adata, top, n_genes=100, min_coverage=0.35)
    assert p.mapping.coverage == pytest.approx(0.4) and set(p.panel) <= set(order[:120])
    m = map_to_vocab(order, top.vocab, min_coverage=0.9, judged_on=order[:100])  # the top 100: all known
    assert m.judged_coverage == 1.0 and m.coverage == pytest.approx(0.4) and "most variable" in m.summary()
    with pytest.raises(VocabularyError, match=r"Only 0 of the 100 most variable genes"):
        map_to_vocab(order, make_model(order[-120:]).vocab, min_coverage=0.5, judged_on=order[:100])

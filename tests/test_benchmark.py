"""The benchmark CLI contract, both splits, translator reuse, and clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ugrn_core.cli import main
from ugrn_core.data.simulate import simulate_demo

METRIC_COLUMNS = ["method", "split", "negatives", "auroc", "auprc", "auprc_ratio", "epr"]
FAST = ["--n-genes", "80", "--classical", "pearson,spearman"]


def test_gene_split_on_demo_writes_the_contract(tmp_path):
    out = tmp_path / "b"
    rc = main(["benchmark", "--data", "demo", "--network", "demo", "--model", "default", "--split", "genes",
               "--out", str(out), "--n-genes", "80"])
    assert rc == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert list(metrics.columns[:7]) == METRIC_COLUMNS
    required = {"pert_prob", "emb_prob", "vvp_prob", "gt_prob", "ensemble", "pert", "vvp", "pearson", "spearman", "grnboost"}
    assert required <= set(metrics.method)
    assert set(metrics.negatives) == {"balanced", "full"} and (metrics.split == "genes").all()
    assert (metrics.pairs == "unseen").all()  # gene-disjoint: no test pair was a training pair
    assert metrics.groupby("negatives").method.nunique().eq(metrics.method.nunique()).all()
    assert metrics[["auroc", "auprc", "auprc_pr"]].notna().all().all()
    # signs: VVP/GT/Perturbation and correlations call one, the embedding cannot
    sign = metrics[metrics.negatives == "balanced"].set_index("method")
    assert sign.loc[["vvp_prob", "gt_prob", "ensemble", "pert_prob", "pearson"], "sign_accuracy"].notna().all()
    assert pd.isna(sign.loc["emb_prob", "sign_accuracy"]) and sign.loc["vvp_prob", "n_signed_edges"] > 0
    assert sign.loc["gt", "sign_accuracy"] > 0.5  # measured 1.0 on the 11 signed held-out edges
    pred = pd.read_csv(out / "predictions.csv")
    assert list(pred.columns[:3]) == ["source", "target", "label"]
    assert required <= set(pred.columns)
    # gene-disjoint: every predicted pair uses held-out genes only
    held = set(json.loads((out / "report.json").read_text())["held_out_genes"])
    assert set(pred.source) | set(pred.target) <= held
    full = metrics[metrics.negatives == "full"].iloc[0]
    assert full.n_pairs == len(pred) and full.n_edges == pred.label.sum()
    bal = metrics[metrics.negatives == "balanced"].iloc[0]
    assert bal.n_pairs == 2 * pred.label.sum() == 2 * pred[pred.balanced == 1].label.sum()


@pytest.fixture
def second_dataset(tmp_path):
    """A different simulated dataset (another seed: other cells, other network) on the demo genes."""
    adata, net = simulate_demo(seed=7, n_cells=800)
    path = tmp_path / "other.h5ad"
    adata.write_h5ad(path)
    net_path = tmp_path / "other_network.csv"
    net[["source", "target", "sign"]].to_csv(net_path, index=False)
    return path, net_path


def test_dataset_split_and_translator_reuse(tmp_path, second_dataset, capsys):
    data, network = second_dataset
    out1, out2, tr = tmp_path / "d1", tmp_path / "d2", tmp_path / "translator"
    assert main(["benchmark", "--data", str(data), "--network", str(network), "--split", "dataset",
                 "--train-data", "demo", "--train-network", "demo", "--save-translator", str(tr),
                 "--controls", "--out", str(out1), *FAST]) == 0
    assert (tr / "translator.json").is_file()
    m = pd.read_csv(out1 / "metrics.csv")
    assert (m.split == "dataset").all() and "ensemble" in set(m.method)
    # every metric twice: all test pairs, and those the translator never trained or early-stopped on
    assert set(m.pairs) == {"all", "unseen"}
    p = pd.read_csv(out1 / "predictions.csv")
    both = m.set_index(["pairs", "negatives", "method"])
    assert both.loc[("all", "full", "vvp_prob"), "n_pairs"] == len(p)
    assert both.loc[("unseen", "full", "vvp_prob"), "n_pairs"] == (~p.seen_in_training).sum()
    assert 0 < p.seen_in_training.sum() < len(p)  # the demo genes and the other set's share pairs
    for control in ("ensemble_random_model", "pearson_permuted_network", "vvp_prob_permuted_network"):
        assert {"all", "unseen"} <= set(m[m.method == control].pairs), control
    m = m[~m.method.str.endswith(("_random_model", "_permuted_network"))]  # the rest of the test reads the real rows
    # the saved translator scores the other dataset exactly as the freshly trained one did
    assert main(["benchmark", "--data", str(data), "--network", str(network), "--split", "dataset",
                 "--translator", str(tr), "--out", str(out2), *FAST]) == 0
    p1, p2 = pd.read_csv(out1 / "predictions.csv"), pd.read_csv(out2 / "predictions.csv")
    pd.testing.assert_frame_equal(p1, p2)
    # features read in another virtual-cell context mean something else: refused, then allowed on request
    other = ["benchmark", "--data", str(data), "--network", str(network), "--split", "dataset", "--translator", str(tr),
             "--context", "background", "--out", str(tmp_path / "d3"), *FAST]
    assert main(other) == 2
    assert "context: trained with cells, given background" in capsys.readouterr().err
    assert main([*other, "--allow-mismatch"]) == 0
    # --split genes on the data it trained on: every held-out gene was a training gene
    assert main(["benchmark", "--data", "demo", "--network", "demo", "--split", "genes", "--translator", str(tr),
                 "--out", str(tmp_path / "d4"), *FAST]) == 2
    assert "nothing unseen is left" in capsys.readouterr().err


def test_dataset_split_without_training_data_is_refused(tmp_path, capsys):
    rc = main(["benchmark", "--data", "demo", "--network", "demo", "--split", "dataset", "--out", str(tmp_path / "x")])
    assert rc == 2 and "--train-data" in capsys.readouterr().err


def test_network_without_overlap_is_a_clear_error(tmp_path, capsys):
    net = tmp_path / "human.tsv"
    net.write_text("SOX2\tNANOG\tActivation\nPOU5F1\tNANOG\tActivation\n")
    rc = main(["benchmark", "--data", "demo", "--network", str(net), "--out", str(tmp_path / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "shares 0 of its 3 genes" in err and "same organism" in err


def test_controls_read_near_chance(tmp_path):
    out = tmp_path / "c"
    assert main(["benchmark", "--data", "demo", "--network", "demo", "--split", "genes", "--controls",
                 "--methods", "vvp,gt", "--out", str(out), *FAST]) == 0
    m = pd.read_csv(out / "metrics.csv").set_index(["negatives", "method"])
    bal = m.loc["balanced"]
    assert {"vvp_prob_random_model", "ensemble_random_model", "vvp_prob_permuted_network", "pearson_permuted_network"} <= set(bal.index)
    # 80 genes leave ~11 held-out edges, so single rows are noisy; each control family on average reads chance
    for family in ("_random_model", "_permuted_network"):
        rows = bal[bal.index.str.endswith(family)]
        assert abs(rows.auroc.mean() - 0.5) < 0.12, (family, rows.auroc.round(2).to_dict())
    assert bal.loc["pearson", "auroc"] > bal.loc["pearson_permuted_network", "auroc"] + 0.1

"""The CLI contract: `extract` and `pretrain` write what later steps and users read."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ugrn_core.cli import main
from ugrn_core.extract import PairFeatures


def test_extract_demo_default_writes_contract_files(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["extract", "--data", "demo", "--model", "default", "--methods", "pert,emb,vvp,gt",
               "--n-genes", "25", "--genes", "TF16", "--out", str(out)])
    assert rc == 0
    edges = pd.read_csv(out / "edges.csv")
    assert list(edges.columns) == ["source", "target", "pert", "emb", "vvp", "gt"]
    assert len(edges) == 25 * 24 and not (edges.source == edges.target).any()
    assert edges[["pert", "emb", "vvp", "gt"]].notna().all().all()
    for method, dim in [("pert", 1), ("emb", None), ("vvp", 8), ("gt", 8)]:
        with np.load(out / "features" / f"{method}.npz") as npz:
            if method == "emb":  # the two embedding row sets; e_ij = source_rows[i] + target_rows[j]
                assert npz["source_rows"].shape[0] == npz["target_rows"].shape[0] == 25
                assert str(npz["emb_mode"]) == "sum"
            else:
                assert npz["features"].shape == (25, 25, dim)
            assert "TF16" in list(npz["sources"])
        loaded = PairFeatures.load_npz(out / "features" / f"{method}.npz", method)
        assert loaded.features.shape[:2] == (25, 25)
    gt = PairFeatures.load_npz(out / "features" / "gt.npz", "gt")
    row = gt.to_frame().set_index(["source", "target"])["gt"]
    np.testing.assert_allclose(row.loc[list(zip(edges.source, edges.target))].to_numpy(), edges["gt"], rtol=1e-5)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["model"]["name"] == "default" and len(manifest["panel"]) == 25
    ranked = pd.read_csv(out / "rankedEdges.csv", sep="\t")  # BEELINE's reader
    assert list(ranked.columns) == ["Gene1", "Gene2", "EdgeWeight"] and manifest["ranked_edges_by"] == "vvp"
    assert ranked.EdgeWeight.is_monotonic_decreasing and len(ranked) == len(edges)
    best = edges.loc[edges.vvp.idxmax()]
    assert (ranked.Gene1[0], ranked.Gene2[0]) == (best.source, best.target)


def test_pretrain_then_extract_with_own_checkpoint(tmp_path, capsys):
    ck = tmp_path / "mine"
    assert main(["pretrain", "--data", "demo", "--out", str(ck), "--epochs", "1", "--layers", "1",
                 "--d-model", "16", "--heads", "2", "--n-genes", "40", "--max-seq-len", "40"]) == 0
    assert {p.name for p in ck.iterdir()} >= {"args.json", "vocab.json", "best_model.pt", "metrics.json"}
    metrics = json.loads((ck / "metrics.json").read_text())
    assert {"mse_model", "mse_gene_mean", "mse_ridge"} <= set(metrics)
    printed = capsys.readouterr().out
    assert "gene mean" in printed and "ridge" in printed
    # Only 40 of the demo's 300 genes are in this vocabulary: refused with both ways out ...
    assert main(["extract", "--data", "demo", "--model", str(ck), "--methods", "vvp", "--n-genes", "10",
                 "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "13.3%" in err and "pretrain" in err and "scGPT checkpoint" in err
    # ... and accepted when the user lowers the threshold knowingly.
    assert main(["extract", "--data", "demo", "--model", str(ck), "--methods", "vvp,gt", "--n-genes", "10",
                 "--min-coverage", "0.1", "--out", str(tmp_path / "y")]) == 0
    assert len(pd.read_csv(tmp_path / "y" / "edges.csv")) == 90


def test_bad_method_is_a_usage_error():
    with pytest.raises(SystemExit):
        main(["extract", "--data", "demo", "--methods", "vvp,bogus", "--out", "x"])


def test_library_notes_go_through_logging_and_the_cli_sets_the_level(caplog, default_model):
    import logging

    from ugrn_core.cli import _configure_logging, build_parser
    from ugrn_core.data.simulate import simulate_demo
    from ugrn_core.pipeline import prepare_data

    adata = simulate_demo(n_cells=200)[0]
    adata.var_names = [g.lower() for g in adata.var_names]  # matched only case-insensitively, like mouse symbols
    with caplog.at_level(logging.WARNING, logger="ugrn_core"):
        prepare_data(adata, default_model, n_genes=20, panel="hvg")
    assert any("case-insensitively" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    args = build_parser().parse_args(["-vv", "extract", "--data", "demo", "--out", "x"])
    assert args.verbose == 2 and not args.quiet
    for verbosity, level in ((-1, logging.ERROR), (0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG)):
        _configure_logging(verbosity)
        assert logging.getLogger("ugrn_core").level == level
    _configure_logging(0)
    assert sum(getattr(h, "_ugrn", False) for h in logging.getLogger("ugrn_core").handlers) == 1  # never stacked


def test_pretrain_refuses_a_contradictory_recipe_with_a_message_before_reading_data(tmp_path, capsys):
    rc = main(["pretrain", "--data", str(tmp_path / "absent.h5ad"), "--epochs", "2", "--steps", "3",
               "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert rc == 2 and "epochs or steps, not both" in err and "Traceback" not in err and "absent" not in err
    assert not (tmp_path / "m").exists()


def test_pretrain_knows_the_expressed_regulators_not_only_the_most_variable_genes(tmp_path):
    """A model pretrained on a file's most variable genes alone may not know its transcription
    factors, and then scores none of their targets: pretraining's panel adds them, as extract's does."""
    from ugrn_core.data.preprocess import preprocess, variability_order
    from ugrn_core.data.simulate import simulate_demo

    adata = simulate_demo(n_cells=300)[0]
    norm = preprocess(adata)[0]
    detected = set(norm.var_names[np.asarray((norm.X > 0).mean(axis=0)).ravel() > 0.2])
    quiet = [g for g in reversed(variability_order(norm, list(norm.var_names))) if g in detected][:4]
    tfs = ["SOX2", "POU5F1", "NANOG", "KLF4"]  # in the human census list
    adata.var_names = [tfs[quiet.index(g)] if g in quiet else g for g in adata.var_names]
    path = tmp_path / "quiet_tfs.h5ad"
    adata.write_h5ad(path)
    common = ["--data", str(path), "--epochs", "1", "--layers", "1", "--d-model", "16", "--heads", "2",
              "--n-genes", "40", "--max-seq-len", "40"]
    assert main(["pretrain", *common, "--out", str(tmp_path / "regs")]) == 0
    assert main(["pretrain", *common, "--panel", "hvg", "--out", str(tmp_path / "hvg")]) == 0
    vocab = {p: set(json.loads((tmp_path / p / "vocab.json").read_text())) for p in ("regs", "hvg")}
    assert set(tfs) <= vocab["regs"] and not set(tfs) & vocab["hvg"]

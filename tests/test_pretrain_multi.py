"""Joint pretraining on datasets with different genes never shows the model invented values."""

from __future__ import annotations

import math
from pathlib import Path

import anndata as ad
import numpy as np

from ugrn_core.cli import main
from ugrn_core.data.preprocess import stack_datasets
from ugrn_core.models.foundation import load_model
from ugrn_core.models.pretrain import PretrainConfig, availability_groups, format_metrics, pretrain


def _lognorm(genes, n_cells, seed):
    rng = np.random.default_rng(seed)
    a = ad.AnnData(np.log1p(rng.poisson(3.0, (n_cells, len(genes))).astype(np.float32)))
    a.var_names = genes
    a.obs_names = [f"c{seed}_{i}" for i in range(n_cells)]
    return a


def test_stack_marks_unmeasured_genes_and_groups_recover_datasets():
    a = _lognorm(["A", "B", "C"], 20, 0)
    b = _lognorm(["c", "D"], 30, 1)  # "c" is the same gene as "C" in another case
    X, genes, labels = stack_datasets({"a": a, "b": b}, n_genes=10)
    assert genes == ["A", "B", "C", "D"] and X.shape == (50, 4)
    assert np.isnan(X[:20, 3]).all() and np.isnan(X[20:, :2]).all()
    assert not np.isnan(X[:, 2]).any()  # C measured in both
    group, cols = availability_groups(X)
    assert len(cols) == 2 and len(set(group[:20])) == 1 and len(set(group[20:])) == 1
    assert sorted(map(list, cols)) == [[0, 1, 2], [2, 3]]


def test_pretrain_on_stacked_data_trains_and_scores_per_dataset():
    X, genes, labels = stack_datasets({"a": _lognorm(list("ABCDEF"), 60, 0), "b": _lognorm(list("DEFGH"), 90, 1)}, 10)
    res = pretrain(X, genes, PretrainConfig(epochs=2, nlayers=1, d_model=16, nhead=2, d_hid=32, baseline_genes=6),
                   device="cpu", labels=labels)
    m = res.metrics
    assert m["datasets"] == 2 and len(res.vocab.genes) == 8
    assert all(math.isfinite(h["train_loss"]) and math.isfinite(h["val_mse"]) for h in m["history"])
    assert math.isfinite(m["mse_model"]) and m["n_masked"] > 0
    # each set's own check: named by its label, sized by its cells, and pooling back to the overall figures
    rows = {r["dataset"]: r for r in m["per_dataset"]}
    assert set(rows) == {"a", "b"} and rows["a"]["cells"] == 60 and rows["b"]["cells"] == 90
    assert rows["a"]["genes"] == 6 and rows["b"]["genes"] == 5
    lo, hi = sorted(r["mse_model"] for r in rows.values())
    assert lo - 1e-9 <= m["mse_model"] <= hi + 1e-9
    for r in rows.values():
        assert math.isclose(r["skill_vs_ridge"], 1 - r["mse_model"] / r["mse_ridge"])
    assert "  a: model" in format_metrics(m) and "  b: model" in format_metrics(m)


def test_cli_pretrain_accepts_several_datasets(tmp_path, capsys):
    paths = []
    for i, genes in enumerate([list("ABCD"), list("CDEF")]):
        a = _lognorm(genes, 40, i)
        paths.append(str(tmp_path / f"d{i}.h5ad"))
        a.write_h5ad(paths[-1])
    out = tmp_path / "joint"
    assert main(["pretrain", "--data", paths[0], "--data", paths[1], "--out", str(out), "--epochs", "1",
                 "--layers", "1", "--d-model", "16", "--heads", "2"]) == 0
    assert "Stacked 2 datasets" in capsys.readouterr().out
    assert set(load_model(str(out), device="cpu").vocab.genes) >= set("ABCDEF")


def test_metrics_are_read_back_and_judged(tmp_path):
    from ugrn_core.models.pretrain import learned_little, read_metrics

    shipped = read_metrics(Path(__file__).resolve().parents[1] / "ugrn_core" / "models" / "default_model")
    assert shipped is not None and shipped["mse_model"] < shipped["mse_ridge"] and not learned_little(shipped)
    assert read_metrics(tmp_path) is None and read_metrics(None) is None
    (tmp_path / "metrics.json").write_text("{not json")
    assert read_metrics(tmp_path) is None
    assert learned_little({"skill_vs_ridge": -0.09})

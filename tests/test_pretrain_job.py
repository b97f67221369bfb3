"""Pretraining for one dataset in the background: reused by content, cancellable, atomic."""

from __future__ import annotations

import time

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ugrn_core.models.foundation import load_model
from ugrn_core.models.pretrain_job import is_complete, pretrain_for_dataset, recipe_config, start_pretraining


def unknown_genes_data(n_cells=240, n_genes=40, seed=0) -> ad.AnnData:
    """Counts with structure (a few programmes) over genes no built-in model knows."""
    rng = np.random.default_rng(seed)
    programmes = rng.gamma(2.0, 1.0, size=(n_cells, 4))
    loadings = rng.uniform(0, 1.5, size=(4, n_genes))
    counts = rng.poisson(programmes @ loadings + 0.2).astype(np.float32)
    return ad.AnnData(counts, var=pd.DataFrame(index=[f"NOVEL{i}" for i in range(n_genes)]))


def test_quick_recipe_is_shorter_and_the_budget_a_setting(monkeypatch):
    full, quick = recipe_config("full"), recipe_config("quick")
    assert quick.planned_epochs < full.planned_epochs and quick.min_steps < full.min_steps and quick.budget_s < full.budget_s
    monkeypatch.setenv("UGRN_QUICK_BUDGET_S", "7")
    assert recipe_config("quick").budget_s == 7
    with pytest.raises(ValueError, match="quick or full"):
        recipe_config("slow")


def test_a_dataset_gets_its_model_once(tmp_path, monkeypatch):
    monkeypatch.setenv("UGRN_QUICK_BUDGET_S", "4")
    data = unknown_genes_data()
    seen = []
    folder = pretrain_for_dataset(data, "quick", n_genes=40, root=tmp_path, progress=lambda s, t, r: seen.append(s))
    assert is_complete(folder) and seen
    model = load_model(str(folder))
    assert set(model.vocab.genes) >= {f"NOVEL{i}" for i in range(40)}
    t0 = time.perf_counter()
    assert pretrain_for_dataset(data, "quick", n_genes=40, root=tmp_path) == folder  # same content, same recipe
    assert time.perf_counter() - t0 < 3  # read, not trained again
    assert [p.name for p in tmp_path.iterdir()] == [folder.name]  # no temporary folders left


def test_cancelling_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setenv("UGRN_QUICK_BUDGET_S", "60")
    job = start_pretraining(unknown_genes_data(seed=1), "k", "quick", n_genes=40, root=tmp_path)
    job.cancel()
    job.wait(120)
    assert job.status == "cancelled" and "nothing was saved" in job.message
    assert not any(tmp_path.iterdir()) if tmp_path.exists() else True

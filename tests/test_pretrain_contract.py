"""Learning is a contract: data-scaled length, no early stop while behind ridge, a budget, a message."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ugrn_core.models.pretrain as pretrain_module
from ugrn_core.models.checkpoint import read_checkpoint, write_checkpoint
from ugrn_core.models.pretrain import (
    PretrainConfig, contract_message, plan_training, pretrain, save_pretrained,
)
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel
from ugrn_core.models.values import ValueSpec
from ugrn_core.models.vocab import GeneVocab
from ugrn_core.training import EarlyStopping

TINY = dict(nlayers=1, d_model=16, nhead=2, d_hid=32, baseline_genes=6, batch_size=16)


def _noise(n_cells=120, n_genes=6, seed=0):
    """Independent genes: nothing to learn, so no model can beat the references."""
    rng = np.random.default_rng(seed)
    return np.log1p(rng.poisson(3.0, (n_cells, n_genes))).astype(np.float32), [f"G{i}" for i in range(n_genes)]


def test_early_stopping_counts_patience_after_warmup_and_restores_the_best():
    lin = torch.nn.Linear(1, 1)
    stop = EarlyStopping(patience=2, min_delta=0.0, warmup=1)
    assert not stop.update(0.1, lin)  # warm-up: ignored, even though it is the lowest value
    with torch.no_grad():
        lin.weight.fill_(1.0)
    assert not stop.update(5.0, lin)
    with torch.no_grad():
        lin.weight.fill_(2.0)
    assert not stop.update(6.0, lin) and stop.update(7.0, lin)
    assert stop.best == 5.0 and stop.best_at == 2
    stop.restore(lin)
    assert float(lin.weight.detach()) == 1.0
    stop.reset_patience()
    assert not stop.update(8.0, lin)


def test_plan_scales_steps_with_the_data_within_bounds():
    cfg = PretrainConfig()
    small, large = plan_training(cfg, [300]), plan_training(cfg, [5000])
    assert small.planned_steps == cfg.min_steps  # a small set still gets enough steps
    assert large.planned_steps == min(int(cfg.planned_epochs * np.ceil(5000 / cfg.batch_size)), cfg.max_planned_steps)
    assert 50 <= small.eval_every <= 250 and not small.fixed
    fixed = plan_training(PretrainConfig(epochs=3), [320])
    assert fixed.fixed and fixed.planned_steps == 30 and fixed.min_steps == 0


def test_a_step_count_gives_datasets_of_any_size_equal_training():
    cfg = PretrainConfig(steps=700)
    small, large = plan_training(cfg, [300]), plan_training(cfg, [300, 2500, 900])
    assert small.planned_steps == large.planned_steps == 700 and small.fixed and large.fixed
    assert small.warmup_steps == large.warmup_steps == cfg.warmup_steps  # the recipe's warm-up, not an epoch
    with pytest.raises(ValueError, match="not both"):
        PretrainConfig(steps=10, epochs=2)
    with pytest.raises(ValueError, match="at least 1"):
        PretrainConfig(steps=0)
    X, genes = _linear()
    m = pretrain(X, genes, PretrainConfig(steps=7, budget_s=60, **TINY), device="cpu").metrics
    assert m["steps"] == 7 and m["stopped"] == "planned length reached"


def _linear(n_cells=120, n_genes=6, seed=0):
    """Genes that are copies of one another: ridge is nearly exact; a tiny model at a tiny LR is not."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(0.5, 3.0, (n_cells, 1))
    X = base * rng.uniform(0.5, 1.5, (1, n_genes)) + 0.01 * rng.random((n_cells, n_genes))
    return X.astype(np.float32), [f"G{i}" for i in range(n_genes)]


class _SteadyClock:
    """A clock that moves 0.1 s each time it is read: the budget then buys the same steps on
    any machine, however loaded (a real 4 s once bought exactly the plan's 10 steps)."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.1
        return self.now


def test_training_goes_on_past_the_plan_while_behind_ridge_then_stops_at_the_budget_with_the_message(tmp_path, monkeypatch):
    X, genes = _linear()
    monkeypatch.setattr(pretrain_module, "time", _SteadyClock())
    cfg = PretrainConfig(min_steps=10, planned_epochs=1, eval_every=5, patience=1, budget_s=4.0, lr=1e-5, **TINY)
    res = pretrain(X, genes, cfg, device="cpu")
    m = res.metrics
    assert m["planned_steps"] == 10 and m["steps"] > m["planned_steps"]  # not stopped at the plan, nor by patience
    assert m["stopped"] == "time budget spent" and m["train_seconds"] >= 4.0
    assert m["outcome"] == "does not beat ridge" and m["skill_vs_ridge"] <= 0
    msg = contract_message(m)
    assert msg and "--budget" in msg and "ridge" in msg and f"{m['steps']} steps" in msg
    assert "mostly noise" in msg
    ridge_path = {**m, "config": {**m["config"], "linear_path": "ridge"}}  # says what such a model reads instead
    assert "linear co-expression" in contract_message(ridge_path) and "noise" not in contract_message(ridge_path)
    folder = save_pretrained(res, tmp_path / "m")
    saved = json.loads((folder / "metrics.json").read_text())
    assert {"steps", "budget_s", "planned_steps", "outcome", "stopped", "plan"} <= set(saved)


def test_a_fixed_length_is_not_extended():
    X, genes = _noise()
    m = pretrain(X, genes, PretrainConfig(epochs=2, budget_s=60, **TINY), device="cpu").metrics
    assert m["steps"] <= 2 * m["planned_steps"] // 2 and m["stopped"] in ("planned length reached", "no improvement (early stop)")


def test_residual_output_starts_at_the_gene_mean_and_survives_the_checkpoint(tmp_path):
    X, genes = _noise(n_genes=5)
    res = pretrain(X, genes, PretrainConfig(epochs=1, output="residual", **TINY), device="cpu")
    model = res.model
    assert model.cfg.gene_affine
    ids = torch.as_tensor(res.vocab.ids(genes))
    scale = model.ugrn_gene_scale[ids]
    assert (scale >= 0.05).all() and torch.allclose(scale, torch.as_tensor(X.std(0)).clamp_min(0.05), atol=0.05)
    with torch.no_grad():  # a decoder that outputs 0 predicts exactly each gene's mean
        model.decoder.fc[-1].weight.zero_()
        model.decoder.fc[-1].bias.zero_()
        out = model(ids[None], torch.zeros(1, len(genes)))
    torch.testing.assert_close(out[0], model.ugrn_gene_mean[ids])
    folder = write_checkpoint(tmp_path / "c", model, res.vocab, res.value_spec)
    assert json.loads((folder / "args.json").read_text())["ugrn_gene_affine"] is True
    loaded, *_ = read_checkpoint(folder)
    v = torch.rand(2, len(genes))
    torch.testing.assert_close(loaded(ids.expand(2, -1), v), model(ids.expand(2, -1), v))
    plain = write_checkpoint(tmp_path / "p", ScGPTModel(ScGPTConfig(ntoken=5, d_model=8, nhead=2, d_hid=8, nlayers=1)),
                             GeneVocab.from_genes(["A", "B"]), ValueSpec())
    assert "ugrn_gene_affine" not in json.loads((plain / "args.json").read_text())


def test_cli_pretrain_says_what_it_chose_and_warns_when_it_learned_nothing(tmp_path, capsys):
    import anndata as ad

    from ugrn_core.cli import main

    X, genes = _linear(n_cells=80)
    a = ad.AnnData(X)
    a.var_names = genes
    a.write_h5ad(tmp_path / "d.h5ad")
    assert main(["pretrain", "--data", str(tmp_path / "d.h5ad"), "--out", str(tmp_path / "m"), "--budget", "1", "--lr", "1e-5",
                 "--layers", "1", "--d-model", "16", "--heads", "2"]) == 0
    out = capsys.readouterr()
    assert "Recipe:" in out.out and "Length:" in out.out and "ridge" in out.out
    assert "did not beat the ridge reference" in out.err


def test_slow_checks_are_spaced_so_the_budget_buys_steps(monkeypatch):
    """A check that costs many steps (a wide real panel) is run less often, within EVAL_SHARE."""
    import time

    from ugrn_core.models import pretrain as pretrain_module

    real = pretrain_module._comparison

    def slow_check(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(pretrain_module, "_comparison", slow_check)
    X, genes = _linear()
    # a learning rate too small to catch ridge: the contract extends past the plan until the budget
    cfg = PretrainConfig(**TINY, eval_every=5, min_steps=60, max_planned_steps=60, planned_epochs=100.0, budget_s=10,
                         lr=1e-5)
    m = pretrain(X, genes, cfg, device="cpu").metrics
    steps = [h["step"] for h in m["history"]]
    assert m["stopped"] == "time budget spent" and steps[-1] == m["steps"] > 60
    assert steps[0] == 5 and 60 in steps  # the first check at the least spacing; one on reaching the plan
    past = [b - a for a, b in zip(steps, steps[1:]) if a >= 60]
    assert past and min(past[:-1] or past) > 5  # past the plan the checks stay spaced (not after every step)
    assert m["eval_seconds"] <= 0.5 * m["train_seconds"]


def test_a_fixed_length_checks_at_its_spacing_however_slow_the_checks(monkeypatch):
    """Same seed, same model: with --epochs the checks (and so the kept model) do not depend on
    how busy the machine was."""
    import time

    from ugrn_core.models import pretrain as pretrain_module

    real = pretrain_module._comparison

    def slow_check(*args, **kwargs):
        time.sleep(0.2)
        return real(*args, **kwargs)

    X, genes = _noise()
    cfg = PretrainConfig(**TINY, epochs=6, patience=100)
    fast = pretrain(X, genes, cfg, device="cpu").metrics
    monkeypatch.setattr(pretrain_module, "_comparison", slow_check)
    slow = pretrain(X, genes, cfg, device="cpu").metrics
    assert [h["step"] for h in slow["history"]] == [h["step"] for h in fast["history"]]
    assert [h["val_mse"] for h in slow["history"]] == [h["val_mse"] for h in fast["history"]]

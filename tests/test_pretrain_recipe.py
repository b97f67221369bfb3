"""Recipe options of ``pretrain``: attention pattern, mask-ratio range, learning-rate schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ugrn_core.extract import ExtractionParams, extract_features
from ugrn_core.models.checkpoint import write_checkpoint
from ugrn_core.models.foundation import load_model
from ugrn_core.models.pretrain import PretrainConfig, _batch_mask_ratio, pretrain
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel

TINY = dict(epochs=2, nlayers=1, d_model=16, nhead=2, d_hid=32, baseline_genes=4)


def _data(n_cells=80, n_genes=6, seed=0):
    rng = np.random.default_rng(seed)
    return np.log1p(rng.poisson(3.0, (n_cells, n_genes))).astype(np.float32), [f"G{i}" for i in range(n_genes)]


def test_hidden_masked_keys_make_predictions_blind_to_masked_genes():
    torch.manual_seed(0)
    model = ScGPTModel(ScGPTConfig(ntoken=12, d_model=16, nhead=2, d_hid=32, nlayers=2, dropout=0.0,
                                   hide_masked_keys=True, mask_value=-1.0)).eval()
    ids = torch.arange(1, 8)[None].repeat(2, 1)
    vals = torch.tensor([[0.0, 1.2, -1.0, 0.7, -1.0, -1.0, 2.0]] * 2)
    ids[1, 4] = 11  # another gene in a masked slot: nobody may read it ...
    out = model(ids, vals)
    keep = [0, 1, 2, 3, 5, 6]
    torch.testing.assert_close(out[0, keep], out[1, keep])
    vals2 = vals.clone()
    vals2[1, 3] = 0.1  # ... but a visible value is read
    out2 = model(ids, vals2)
    assert (out2[1, keep] - out[1, keep]).abs().max() > 1e-4
    full = ScGPTModel(ScGPTConfig(ntoken=12, d_model=16, nhead=2, d_hid=32, nlayers=2, dropout=0.0)).eval()
    full.load_state_dict(model.state_dict())
    o = full(ids, vals)
    assert (o[0, keep] - o[1, keep]).abs().max() > 1e-4  # scGPT's full attention reads them


def test_attention_pattern_survives_the_checkpoint_and_masked_context_reads_one_source(tmp_path):
    X, genes = _data()
    res = pretrain(X, genes, PretrainConfig(attention="visible", **TINY), device="cpu")
    assert res.model.cfg.hide_masked_keys and res.metrics["config"]["attention"] == "visible"
    from ugrn_core.models.checkpoint import HIDE_MASKED_KEYS
    from ugrn_core.models.pretrain import save_pretrained

    folder = save_pretrained(res, tmp_path / "m")
    model = load_model(str(folder), device="cpu")
    assert model.module.cfg.hide_masked_keys and model.args[HIDE_MASKED_KEYS] is True
    # In the masked context every non-source gene is hidden, so with this attention pattern a
    # target's prediction depends on the source alone: the same for two panels sharing the pair.
    a = extract_features("vvp", model, genes, sources=["G0"], params=ExtractionParams(scale="none", context="masked"))
    b = extract_features("vvp", model, ["G0", "G3", "G1"], sources=["G0"], params=ExtractionParams(scale="none", context="masked"))
    np.testing.assert_allclose(a.features[0, 3], b.features[0, 1], rtol=1e-4, atol=1e-5)


def test_default_checkpoints_stay_scgpt_shaped(tmp_path):
    model = ScGPTModel(ScGPTConfig(ntoken=5, d_model=8, nhead=2, d_hid=8, nlayers=1))
    from ugrn_core.models.values import ValueSpec
    from ugrn_core.models.vocab import GeneVocab

    import json

    folder = write_checkpoint(tmp_path / "c", model, GeneVocab.from_genes(["A", "B"]), ValueSpec())
    args = json.loads((folder / "args.json").read_text())
    assert "ugrn_hide_masked_keys" not in args


def test_mask_range_and_lr_schedule_are_honoured():
    gen = torch.Generator().manual_seed(0)
    cfg = PretrainConfig(mask_schedule="uniform", mask_range=(0.5, 1.0))
    draws = [_batch_mask_ratio(cfg, gen) for _ in range(200)]
    assert 0.5 <= min(draws) and max(draws) <= 1.0 and max(draws) > 0.95
    X, genes = _data()
    res = pretrain(X, genes, PretrainConfig(lr_schedule="constant", mask_schedule="uniform", mask_range=(0.3, 1.0), **TINY),
                   device="cpu")
    assert all(math.isfinite(h["val_mse"]) for h in res.metrics["history"])
    with pytest.raises(ValueError, match="lr_schedule"):
        pretrain(X, genes, PretrainConfig(lr_schedule="step", **TINY), device="cpu")
    with pytest.raises(ValueError, match="attention"):
        pretrain(X, genes, PretrainConfig(attention="sparse", **TINY), device="cpu")


def test_cli_pretrain_defaults_are_the_library_recipe():
    """One recipe, not two: `ugrn pretrain` with no options trains what PretrainConfig says."""
    from ugrn_core.cli import build_parser

    a = build_parser().parse_args(["pretrain", "--data", "demo", "--out", "x"])
    cfg = PretrainConfig()
    assert (a.epochs, a.layers, a.d_model, a.heads, a.mask_ratio, a.mask_schedule, tuple(a.mask_range),
            a.lr_schedule, a.attention, a.max_seq_len, a.lr, a.batch_size, a.values, a.linear_path, a.linear_rank) == (
        cfg.epochs, cfg.nlayers, cfg.d_model, cfg.nhead, cfg.mask_ratio, cfg.mask_schedule, cfg.mask_range,
        cfg.lr_schedule, cfg.attention, cfg.max_seq_len, cfg.lr, cfg.batch_size, cfg.value_transform,
        cfg.linear_path, cfg.linear_rank)


def test_stack_datasets_keeps_given_panels():
    """Pooled pretraining on the genes each benchmark will use, not each set's own HVGs."""
    import anndata as ad

    from ugrn_core.data.preprocess import stack_datasets

    rng = np.random.default_rng(0)
    sets = {}
    for name, genes in (("a", ["A", "B", "C", "D"]), ("b", ["c", "d", "E"])):
        sets[name] = ad.AnnData(np.log1p(rng.poisson(2.0, (10, len(genes)))).astype(np.float32))
        sets[name].var_names = genes
    X, genes, labels = stack_datasets(sets, n_genes=10, panels={"a": ["B", "C"]})
    assert genes[:2] == ["B", "C"] and sorted(genes) == ["B", "C", "D", "E"] and X.shape == (20, 4)
    col = {g: i for i, g in enumerate(genes)}
    assert np.isnan(X[:10, [col["D"], col["E"]]]).all()  # "a" contributes its given panel only
    assert not np.isnan(X[10:, [col["C"], col["D"], col["E"]]]).any() and np.isnan(X[10:, col["B"]]).all()

"""The optional linear path beside the transformer: what it reads, that it survives the
checkpoint, and that pretraining with it finds linear structure the data has."""

from __future__ import annotations

import json

import numpy as np
import torch

from ugrn_core.extract import ExtractionParams, extract_features
from ugrn_core.models.foundation import load_model
from ugrn_core.models.pretrain import PretrainConfig, pretrain, save_pretrained
from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel


def _model(rank=3) -> ScGPTModel:
    torch.manual_seed(0)
    model = ScGPTModel(ScGPTConfig(ntoken=14, d_model=8, nhead=2, d_hid=16, nlayers=1, dropout=0.0, pad_idx=13,
                                   linear_rank=rank)).double().eval()
    model.set_linear_path(torch.arange(1, 11), torch.linspace(0.5, 1.5, 10))  # token 0 (a <cls>), 11-13 not read
    torch.nn.init.normal_(model.ugrn_linear_out.weight)
    return model


def _naive_term(model, ids, values, padded):
    """The path's definition written out, one output at a time."""
    u, w = model.ugrn_linear_in.weight, model.ugrn_linear_out.weight
    centre, read = model.ugrn_linear_centre, model.ugrn_linear_gene
    out = torch.zeros_like(values)
    for b in range(ids.shape[0]):
        visible = [i for i in range(ids.shape[1])
                   if read[ids[b, i]] > 0 and values[b, i] != model.cfg.mask_value and not padded[b, i]]
        for j in range(ids.shape[1]):
            out[b, j] = sum((values[b, i] - centre[ids[b, i]]) * (u[ids[b, i]] @ w[ids[b, j]]) for i in visible if i != j)
    return out


def test_the_path_reads_visible_genes_but_not_itself_masked_padded_or_unknown_tokens():
    model = _model()
    ids = torch.tensor([[0, 1, 2, 3, 4, 11, 5, 13], [0, 6, 7, 8, 9, 10, 12, 13]])
    values = torch.tensor([[9.0, 0.2, 1.7, -1.0, 3.0, 2.0, 0.9, 0.0],
                           [9.0, 1.1, -1.0, -1.0, 0.4, 2.2, 5.0, 0.0]], dtype=torch.float64)
    padded = torch.zeros_like(ids, dtype=torch.bool)
    padded[:, -1] = True
    term = model.linear_path(ids, values, padded)
    torch.testing.assert_close(term, _naive_term(model, ids, values, padded), rtol=1e-12, atol=1e-12)
    silent = _model()
    torch.nn.init.zeros_(silent.ugrn_linear_out.weight)
    torch.testing.assert_close(model(ids, values, padded) - silent(ids, values, padded), term)
    # a gene's own value does not enter its output through the path
    v2 = values.clone()
    v2[0, 1] += 1.0
    assert torch.equal(model.linear_path(ids, v2, padded)[0, 1], term[0, 1])
    assert not torch.equal(model.linear_path(ids, v2, padded)[0, 2], term[0, 2])


def test_the_path_survives_the_checkpoint_and_reads_the_data_it_was_trained_on(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    driver = rng.gamma(2.0, 1.0, n)
    X = np.column_stack([rng.poisson(1.0 + 6.0 * driver * (k % 2 == 0)) for k in range(8)]).astype(np.float32)
    genes = [f"G{i}" for i in range(8)]  # the even genes share a driver, the odd ones are noise
    cfg = PretrainConfig(epochs=25, nlayers=1, d_model=16, nhead=2, d_hid=32, baseline_genes=8, linear_path="learned",
                         linear_rank=4, value_transform="log1p")
    res = pretrain(np.log1p(X), genes, cfg, device="cpu")
    assert res.model.cfg.linear_rank == 4 and res.metrics["config"]["linear_path"] == "learned"
    assert res.metrics["skill_vs_gene_mean"] > 0  # it learned something (the shared driver: below)
    folder = save_pretrained(res, tmp_path / "m")
    assert json.loads((folder / "args.json").read_text())["ugrn_linear_path"] == {"rank": 4}
    model = load_model(str(folder), device="cpu")
    assert model.describe()["linear_path_rank"] == 4  # the app's Model panel says it is not scGPT's architecture
    ids = model.token_ids(genes)
    vals = torch.rand(3, len(genes)) * 2
    torch.testing.assert_close(model.module(ids.expand(3, -1), vals), res.model.cpu().eval()(ids.expand(3, -1), vals))
    # VVP reads the shared driver: the effect of G0 on G2 stands out from its effect on G1
    feats = extract_features("vvp", model, genes, sources=["G0"], params=ExtractionParams(scale="none", context="background"))
    effect = np.abs(feats.features[0]).sum(-1)
    assert effect[2] > 2 * effect[1] and effect[4] > 2 * effect[3]


def test_ridge_start_puts_each_genes_ridge_regression_in_the_path():
    """With every gene visible and full rank, the path's term for gene j is the ridge
    regression of j on all the other genes (sklearn's, same penalty), fitted on the cells."""
    from sklearn.linear_model import Ridge

    from ugrn_core.models.pretrain import _build_model, ridge_factors
    from ugrn_core.models.values import ValueSpec
    from ugrn_core.models.vocab import GeneVocab

    rng = np.random.default_rng(1)
    n_cells, n_genes = 300, 7
    V = rng.normal(size=(n_cells, n_genes)) @ rng.normal(size=(n_genes, n_genes)) * 0.3 + 2.0
    genes = [f"G{i}" for i in range(n_genes)]
    vocab = GeneVocab.from_genes(genes)
    cfg = PretrainConfig(nlayers=1, d_model=8, nhead=2, d_hid=16, linear_path="ridge", linear_rank=n_genes)
    model = _build_model(cfg, vocab, ValueSpec(), V.astype(np.float32), genes).double().eval()
    ids = torch.as_tensor(vocab.ids(genes))[None]
    x = torch.as_tensor(V[:5])
    term = model.linear_path(ids.expand(5, -1), x).detach().numpy()
    cov = np.cov(V.T, bias=True)
    penalty = float(np.mean(np.diag(cov))) * n_cells  # ridge_factors' alpha=1 in sklearn's units
    for j in range(n_genes):
        others = [i for i in range(n_genes) if i != j]
        reg = Ridge(alpha=penalty).fit(V[:, others], V[:, j])
        np.testing.assert_allclose(term[:, j], (V[:5, others] - V[:, others].mean(0)) @ reg.coef_, rtol=1e-4, atol=1e-5)
    assert ridge_factors(V, V.mean(0), 2)[0].shape == (n_genes, 2)
    assert not model.ugrn_linear_in.weight.requires_grad  # fixed: pretraining trains the transformer around it


def test_pretraining_leaves_the_ridge_path_as_fitted(monkeypatch):
    import ugrn_core.models.pretrain as pretrain_mod

    built = {}
    original = pretrain_mod._build_model

    def build_and_remember(*args, **kwargs):
        model = original(*args, **kwargs)
        built["in"], built["out"] = model.ugrn_linear_in.weight.clone(), model.ugrn_linear_out.weight.clone()
        built["decoder"] = model.decoder.fc[0].weight.clone()
        return model

    monkeypatch.setattr(pretrain_mod, "_build_model", build_and_remember)
    rng = np.random.default_rng(2)
    X = np.log1p(rng.poisson(3.0, (120, 6))).astype(np.float32)
    res = pretrain(X, [f"G{i}" for i in range(6)], PretrainConfig(epochs=2, nlayers=1, d_model=8, nhead=2, d_hid=16,
                   baseline_genes=6, linear_path="ridge", linear_rank=3), device="cpu")
    assert torch.count_nonzero(built["out"]) > 0  # fitted, not silent
    assert torch.equal(res.model.ugrn_linear_in.weight.cpu(), built["in"])
    assert torch.equal(res.model.ugrn_linear_out.weight.cpu(), built["out"])
    assert not torch.equal(res.model.decoder.fc[0].weight.cpu(), built["decoder"])  # the transformer trained

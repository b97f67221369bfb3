"""Decoder gradient flows: Jacobian vs finite differences, recall on the demo knock-down,
signs, flows that move the followed gene, and the CLI contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ugrn_core.axis import VAEConfig, axis_scores, decoder_jacobian, fit_vae, perturbation_flow
from ugrn_core.axis.run import AxisData, axis_counts, condition_columns, load_axis_data
from ugrn_core.axis.scores import gradient_field, label_flow, latent_view
from ugrn_core.cli import main
from ugrn_core.data.io import read_dataset
from ugrn_core.data.preprocess import preprocess
from ugrn_core.errors import DataError


@pytest.fixture(scope="module")
def demo():
    adata, _ = preprocess(read_dataset("demo"))
    counts, genes = axis_counts(adata, 300)
    vae = fit_vae(counts, genes, VAEConfig(epochs=80, kl_warmup=20, patience=10))
    return adata, counts, vae


def test_jacobian_matches_finite_differences():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    counts = rng.poisson(3, (64, 12)).astype(np.float32)
    vae = fit_vae(counts, [f"g{i}" for i in range(12)], VAEConfig(n_latent=3, hidden=16, epochs=3, kl_warmup=1))
    Z = rng.normal(size=(5, 3)).astype(np.float32)
    J = decoder_jacobian(vae.module.decode, Z, chunk=2)
    assert J.shape == (5, 12, 3)
    h = 1e-3
    for k in range(3):
        e = np.zeros(3, np.float32)
        e[k] = h
        with torch.no_grad():
            fd = (vae.module.decode(torch.as_tensor(Z + e, dtype=torch.float64).float())
                  - vae.module.decode(torch.as_tensor(Z - e).float())).numpy() / (2 * h)
        np.testing.assert_allclose(J[:, :, k], fd, rtol=2e-2, atol=2e-2 * np.abs(fd).max())


def test_knocked_down_genes_rank_first_with_the_right_sign(demo):
    adata, counts, vae = demo
    res = axis_scores(vae, counts, adata.obs.condition, "control", "perturbed")
    kd = adata.uns["ugrn_demo"]["knockdown_gene"]
    truth = set(adata.var_names[adata.var.knockdown_target]) | {kd}
    top = set(res.scores.gene.head(len(truth)))
    recall = len(top & truth) / len(truth)
    assert recall >= 0.8, recall  # measured 0.95 with 150 epochs
    assert res.scores.gene.iloc[0] == kd and res.scores.score.iloc[0] < 0
    net = adata.uns["true_network"]
    sign = dict(zip(net[net.source == kd].target, net[net.source == kd].sign))
    s = res.scores.set_index("gene").score
    strong = [g for g in sign if abs(s[g]) > 0.3]
    agree = np.mean([np.sign(s[g]) == -sign[g] for g in strong])  # knock-down: activated targets fall
    assert len(strong) >= 20 and agree >= 0.9, (len(strong), agree)
    assert set(res.scores.columns) == {"gene", "score", "baseline"} and res.scores.score.between(-1, 1).all()


def test_flow_moves_the_followed_gene_up_or_down(demo):
    adata, counts, vae = demo
    Z0 = vae.latent(counts[:20])
    gene = "G137" if "G137" in vae.genes else vae.genes[0]
    j = vae.genes.index(gene)
    start = vae.decode(Z0)[:, j]
    up = vae.decode(perturbation_flow(vae, Z0, [gene], +0.05, 10)[-1])[:, j]
    down = vae.decode(perturbation_flow(vae, Z0, [gene], -0.05, 10)[-1])[:, j]
    assert (up > start).all() and (down < start).all()
    with pytest.raises(DataError, match="not among"):
        perturbation_flow(vae, Z0, ["NOPE"], 0.1)


def test_axis_cli_writes_sorted_gene_scores(tmp_path):
    from ugrn_core.data.networks import read_network
    from ugrn_core.pathways import regulon_gene_sets

    gmt = tmp_path / "regulons.gmt"
    gmt.write_text("".join(f"{k}\tdemo\t" + "\t".join(v) + "\n" for k, v in regulon_gene_sets(read_network("demo")).items()))
    rc = main(["axis", "--data", "demo", "--groupby", "condition", "--from", "control", "--to", "perturbed",
               "--out", str(tmp_path), "--n-genes", "120", "--epochs", "30", "--label-head", "--gmt", str(gmt), "--top", "40"])
    assert rc == 0
    for name in ("gradient", "baseline"):
        ora = pd.read_csv(tmp_path / f"enrichment_{name}.csv")
        assert ora.gene_set.iloc[0] == "TF16_TARGETS"  # the knocked-down regulator's regulon
    t = pd.read_csv(tmp_path / "gene_scores.csv")
    assert list(t.columns) == ["gene", "score", "baseline"] and len(t) == 120
    assert t.score.abs().is_monotonic_decreasing
    assert main(["axis", "--data", "demo", "--groupby", "condition", "--from", "control", "--to", "nope",
                 "--out", str(tmp_path), "--epochs", "1"]) != 0


def test_label_head_learns_the_condition_and_its_flow_moves_cells_there():
    adata, _ = preprocess(read_dataset("demo"))
    axd = load_axis_data(adata, 150, preprocessed=True)
    label = axd.label("condition", "control", "perturbed")
    assert set(np.unique(label)) == {0.0, 1.0}
    vae = fit_vae(axd.counts, axd.genes, VAEConfig(epochs=40, kl_warmup=10, patience=10), label, "perturbed")
    Z = vae.latent(axd.counts)
    p = vae.label_probability(Z)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(label, p) > 0.95 and p[label == 1].mean() > p[label == 0].mean() + 0.5
    ctrl = Z[label == 0][:25]
    assert vae.label_probability(label_flow(vae, ctrl, 0.5, 15)[-1]).mean() > 0.8
    # a gradient field seen in the 2-D view points uphill: a small step along it raises the gene
    view = latent_view(Z)
    x, y, U, V = gradient_field(vae, view, ["TF16"], grid=6, Z=Z)
    j, eps = vae.genes.index("TF16"), 1e-2
    for r, c in [(1, 1), (3, 4), (5, 2)]:
        u = np.array([x[c], y[r]])
        d = np.array([U[r, c], V[r, c]]) / np.hypot(U[r, c], V[r, c])
        before, after = (vae.decode(view.lift(v)[None].astype(np.float32))[0, j] for v in (u, u + eps * d))
        assert after > before
    assert view.explained.sum() <= 1 and np.allclose(view.components @ view.components.T, np.eye(2), atol=1e-5)


def test_cells_outside_both_groups_leave_the_label_head_alone():
    obs = pd.DataFrame({"g": ["a", "b", "c", "a"], "x": [0.1, 0.2, 0.3, 0.4], "one": ["k"] * 4})
    axd = AxisData(np.ones((4, 3), np.float32), ["A", "B", "C"], obs)
    np.testing.assert_array_equal(axd.label("g", "a", "b"), [0, 1, np.nan, 0])
    assert condition_columns(obs, max_values=5) == {}  # each value needs >= 2 cells; floats and constants are out
    obs["g"] = ["a", "b", "a", "b"]
    assert condition_columns(obs) == {"g": ["a", "b"]}


def test_ifn_beta_axis_on_real_pbmc_recovers_interferon_genes(shared_data):
    """Kang et al. 2018 (IFN-beta stimulated PBMC, 600 cells x 249 genes, raw counts)."""
    from ugrn_core.axis.run import run_axis
    from ugrn_core.pathways import enrichment, read_gmt

    path = shared_data / "datasets" / "kang2018_ifnb_liger_subsample" / "kang2018_ifnb_subsample_counts.h5ad"
    gmt = shared_data / "genesets" / "h.all.v7.0.symbols.gmt"
    if not path.exists() or not gmt.exists():
        pytest.skip("Kang 2018 subsample or hallmark GMT absent")
    res, vae = run_axis(str(path), "condition", "ctrl", "stim", use_cache=False)
    s = res.scores.set_index("gene").score
    assert s["ISG15"] > 0.5 and "ISG15" in res.scores.gene.head(5).tolist()  # measured +0.87, rank 1
    ora = enrichment(res.scores.gene.head(50).tolist(), vae.genes, read_gmt(gmt))
    assert ora.gene_set.iloc[0] == "HALLMARK_INTERFERON_ALPHA_RESPONSE" and ora.fdr.iloc[0] < 0.05  # measured 0.0015


def test_axis_result_helpers_the_page_uses():
    from ugrn_core.axis.scores import AxisResult

    scores = pd.DataFrame({"gene": ["a", "b", "c"], "score": [0.9, -0.5, 0.1], "baseline": [0.2, -0.8, 0.05]})
    groups = np.array(["x", "x", "y", "y", "y"])
    r = AxisResult(scores, np.ones(2), np.arange(10, dtype=float).reshape(5, 2), groups)
    assert r.group_sizes("x", "y") == (2, 3)
    assert r.top_genes(2) == ["a", "b"] and r.top_genes(2, "baseline") == ["b", "a"]
    assert r.agreement() == pytest.approx(1.0)
    starts = r.start_cells("y", 10)
    assert len(starts) == 3 and {tuple(z) for z in starts} == {(4.0, 5.0), (6.0, 7.0), (8.0, 9.0)}
    assert np.array_equal(r.start_cells("all", 2, seed=1), r.start_cells("all", 2, seed=1))
    assert np.allclose(r.group_means(("x",))["x"], [1.0, 2.0])


def test_sessions_asking_for_the_same_vae_at_once_fit_it_once(monkeypatch):
    """One session fits, the others wait on the key's lock and load what it saved."""
    import threading
    import time

    import ugrn_core.axis.run as run_mod

    rng = np.random.default_rng(0)
    counts, genes = rng.poisson(2.0, (60, 8)).astype(np.float32), [f"G{i}" for i in range(8)]
    config = VAEConfig(n_latent=2, epochs=2)
    fits, real = [], run_mod.fit_vae

    def slow_fit(*a, **k):
        fits.append(1)
        time.sleep(0.5)
        return real(*a, **k)

    monkeypatch.setattr(run_mod, "fit_vae", slow_fit)
    got = []
    threads = [threading.Thread(target=lambda: got.append(run_mod.cached_vae(counts, genes, config))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(fits) == 1 and len(got) == 3 and all(v is not None for v in got)

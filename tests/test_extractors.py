"""Batched extractors against naive references on small inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_model
from ugrn_core.errors import GeneNotFoundError
from ugrn_core.extract import ExtractionParams, extract_features
from ugrn_core.models.foundation import FoundationModel
from ugrn_core.models.scgpt import ScGPTModel


def _forward(model: FoundationModel, genes, cell: np.ndarray) -> np.ndarray:
    ids = model.token_ids(genes)
    with torch.no_grad():
        return model.predict(ids, torch.as_tensor(cell, dtype=next(model.module.parameters()).dtype)[None])[0].numpy()


def _context_base(model: FoundationModel, n: int, context: str, folds: int, j: int, dtype=np.float32,
                  visible: np.ndarray | None = None) -> np.ndarray:
    """The naive virtual cell in which target j is read, written out for one target."""
    bg, mask = model.value_spec.background, model.value_spec.mask_value
    visible = np.full(n, bg) if visible is None else visible
    if context == "background":
        return visible.astype(dtype)
    if context == "masked":
        return np.full(n, mask, dtype)
    fold = np.random.default_rng(0).permutation(n) % folds
    return np.where(fold == fold[j], mask, visible).astype(dtype)


@pytest.mark.parametrize("context,fill", [("background", "constant"), ("masked", "constant"),
                                          ("partition", "constant"), ("partition", "mean"), ("background", "mean")])
def test_vvp_equals_per_pair_loop(tiny_model, genes, context, fill):
    mean = np.linspace(0.2, 3.0, len(genes)).astype(np.float32)
    params = ExtractionParams(scale="none", vvp_values=5, batch_size=4, chunk_sources=3, context=context, mask_folds=3, fill=fill)
    feats = extract_features("vvp", tiny_model, genes, mean_values=mean, params=params)
    grid = tiny_model.value_spec.grid(5)
    visible = mean if fill == "mean" else np.full(len(genes), tiny_model.value_spec.background, np.float32)
    assert feats.features.shape == (len(genes), len(genes), 5)
    for i in range(len(genes)):
        for j in range(len(genes)):
            base = _context_base(tiny_model, len(genes), context, 3, j, visible=visible)
            for m, v in enumerate(grid):
                cell, ref_cell = base.copy(), base.copy()
                cell[i], ref_cell[i] = v, visible[i]  # reference: source at its visible value
                expected = _forward(tiny_model, genes, cell)[j] - _forward(tiny_model, genes, ref_cell)[j]
                assert feats.features[i, j, m] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("context", ["background", "partition"])
def test_gt_equals_central_finite_differences(genes, context):
    model = make_model(genes, dtype=torch.float64, seed=3)
    params = ExtractionParams(scale="none", gt_values=4, batch_size=5, context=context, mask_folds=2)
    feats = extract_features("gt", model, genes, params=params)
    grid = model.value_spec.grid(4).astype(np.float64)
    h = 1e-5
    worst = 0.0
    for i in range(len(genes)):
        for j in range(len(genes)):
            base = _context_base(model, len(genes), context, 2, j, np.float64)
            for t, v in enumerate(grid):
                plus, minus = base.copy(), base.copy()
                plus[i], minus[i] = v + h, v - h
                fd = (_forward(model, genes, plus)[j] - _forward(model, genes, minus)[j]) / (2 * h)
                worst = max(worst, abs(float(feats.features[i, j, t]) - fd))
    # float64 model, central differences with h=1e-5: truncation + rounding stay below 1e-6.
    assert worst < 1e-6, worst


def _real_cells(n_cells: int, n_genes: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n_cells, n_genes)) * 4 * (rng.random((n_cells, n_genes)) > 0.3)).astype(np.float32)


def test_cells_context_vvp_equals_loop_over_cells(tiny_model, genes):
    cells = _real_cells(3, len(genes))
    mean = cells.mean(axis=0) + 0.1  # the reference value: the dataset mean, not the sample's
    params = ExtractionParams(scale="none", vvp_values=4, batch_size=5, chunk_sources=2, context="cells", n_cells=3)
    feats = extract_features("vvp", tiny_model, genes, mean_values=mean, params=params, cell_values=cells)
    grid = tiny_model.value_spec.grid(4)
    for i in range(len(genes)):
        for m, v in enumerate(grid):
            diffs = []
            for c in cells:
                cell, ref = c.copy(), c.copy()
                cell[i], ref[i] = v, mean[i]
                diffs.append(_forward(tiny_model, genes, cell) - _forward(tiny_model, genes, ref))
            np.testing.assert_allclose(feats.features[i, :, m], np.mean(diffs, axis=0), atol=1e-5)


def test_cells_context_gt_equals_finite_differences_averaged_over_cells(genes):
    model = make_model(genes, dtype=torch.float64, seed=3)
    cells = _real_cells(2, len(genes)).astype(np.float64)
    params = ExtractionParams(scale="none", gt_values=3, batch_size=4, context="cells", n_cells=2)
    feats = extract_features("gt", model, genes, params=params, cell_values=cells)
    h, worst = 1e-5, 0.0
    for i in range(len(genes)):
        for t, v in enumerate(model.value_spec.grid(3).astype(np.float64)):
            fd = []
            for c in cells:
                plus, minus = c.copy(), c.copy()
                plus[i], minus[i] = v + h, v - h
                fd.append((_forward(model, genes, plus) - _forward(model, genes, minus)) / (2 * h))
            worst = max(worst, float(np.abs(feats.features[i, :, t] - np.mean(fd, axis=0)).max()))
    assert worst < 1e-6, worst


def test_cells_context_reads_a_fixed_sample_and_keys_the_cache_by_it(tiny_model, genes, tmp_path):
    from ugrn_core.extract import FeatureCache, sample_cells

    many = _real_cells(40, len(genes))
    a, b = sample_cells(many, 6), sample_cells(many, 6)
    np.testing.assert_array_equal(a, b)  # reproducible: a rerun reads the same cells
    assert len(a) == 6 and len(sample_cells(many[:4], 6)) == 4
    cache = FeatureCache(tmp_path)
    params = ExtractionParams(scale="none", vvp_values=3, context="cells", n_cells=6)
    first = extract_features("vvp", tiny_model, genes, params=params, cache=cache, cell_values=many)
    other = extract_features("vvp", tiny_model, genes, params=params, cache=cache, cell_values=many[::-1] + 0.5)
    again = extract_features("vvp", tiny_model, genes, params=params, cache=cache, cell_values=many)
    assert not np.allclose(first.features, other.features)  # other cells: not a stale cache hit
    np.testing.assert_array_equal(first.features, again.features)
    with pytest.raises(ValueError, match="needs the dataset's cells: pass cell_values"):
        extract_features("gt", tiny_model, genes, params=params)


def test_perturbation_equals_two_explicit_forwards(tiny_model, genes):
    mean = np.linspace(0.5, 2.5, len(genes)).astype(np.float32)
    feats = extract_features("pert", tiny_model, genes, mean_values=mean, params=ExtractionParams(scale="none", batch_size=3))
    base = _forward(tiny_model, genes, mean)
    for i in range(len(genes)):
        zeroed = mean.copy()
        zeroed[i] = 0.0
        np.testing.assert_allclose(feats.features[i, :, 0], base - _forward(tiny_model, genes, zeroed), atol=1e-5)


def test_embedding_features_sum_and_concat(tiny_model, genes):
    E = tiny_model.gene_embeddings(tiny_model.token_ids(genes)).numpy()
    s = extract_features("emb", tiny_model, genes, sources=["G2", "G5"])
    np.testing.assert_allclose(s.features[1, 3], E[5] + E[3], atol=1e-6)
    c = extract_features("emb", tiny_model, genes, sources=["G2"], params=ExtractionParams(scale="none", emb_mode="concat"))
    np.testing.assert_allclose(c.features[0, 4], np.concatenate([E[2], E[4]]), atol=1e-6)
    cos = E[2] @ E[4] / np.linalg.norm(E[2]) / np.linalg.norm(E[4])
    assert s.score[0, 4] == pytest.approx(cos, abs=1e-5)


class PlantedModel(ScGPTModel):
    """A real scGPT module plus a planted edge: target's output += 3*tanh(source's value)."""

    def __init__(self, cfg, src: int, tgt: int):
        super().__init__(cfg)
        self.src, self.tgt = src + 1, tgt + 1  # +1: the prepended <cls> position

    def forward(self, gene_ids, values, key_padding_mask=None):
        out = super().forward(gene_ids, values, key_padding_mask)
        bump = torch.zeros_like(out)
        bump[:, self.tgt] = 3.0 * torch.tanh(values[:, self.src])
        return out + bump


@pytest.mark.parametrize("context", ["cells", "background"])
@pytest.mark.parametrize("method", ["gt", "vvp"])
def test_planted_dependency_is_the_strongest_pair(genes, method, context):
    base = make_model(genes, seed=1)
    planted = PlantedModel(base.module.cfg, src=2, tgt=5)
    planted.load_state_dict(base.module.state_dict())
    model = FoundationModel(planted, base.vocab, base.value_spec, digest="planted")
    params = ExtractionParams(scale="none", context=context, n_cells=4)
    score = extract_features(method, model, genes, params=params, cell_values=_real_cells(10, len(genes))).score.copy()
    np.fill_diagonal(score, -np.inf)
    assert np.unravel_index(np.argmax(score), score.shape) == (2, 5)


def test_sources_outside_panel_are_refused(tiny_model, genes):
    with pytest.raises(GeneNotFoundError, match="not in the gene panel"):
        extract_features("vvp", tiny_model, genes, sources=["NOPE"])


def test_progress_reports_reach_total(tiny_model, genes):
    seen = []
    extract_features("gt", tiny_model, genes, params=ExtractionParams(scale="none", gt_values=3, batch_size=4, context="background"),
                     progress=lambda d, t: seen.append((d, t)))
    assert seen[-1][0] == seen[-1][1] == len(genes) * 3
    assert all(b[0] >= a[0] for a, b in zip(seen, seen[1:]))


def test_out_of_memory_halves_the_batch_and_completes(tiny_model, genes):
    from ugrn_core.extract.base import ExtractionContext, run_in_batches

    ctx = ExtractionContext(tiny_model, genes, 1.0, batch_size=8)

    def fn(start, stop):
        if stop - start > 2:
            raise torch.cuda.OutOfMemoryError("simulated")
        return torch.arange(start, stop, dtype=torch.float32)[:, None]

    out = run_in_batches(fn, 7, ctx, lambda d, t: None, 0, 7)
    assert out.ravel().tolist() == list(range(7)) and ctx.batch_size == 2


@pytest.mark.parametrize("mode", ["sum", "concat"])
def test_embedding_pairs_index_like_the_full_array_without_building_it(mode):
    from ugrn_core.extract.emb import PairEmbedding

    rng = np.random.default_rng(0)
    Es, Et = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(5, 3)).astype(np.float32)
    lazy = PairEmbedding(Es, Et, mode)
    a, b = np.broadcast_to(Es[:, None], (4, 5, 3)), np.broadcast_to(Et[None], (4, 5, 3))
    full = a + b if mode == "sum" else np.concatenate([a, b], axis=-1)  # the naive reference
    si, ti = np.array([0, 3, 2]), np.array([4, 1, 1])
    for key in [(si, ti), 1, (1, slice(None)), (slice(1, 3), slice(None)), (slice(None), 2), (2, 3), (si, slice(None))]:
        np.testing.assert_allclose(lazy[key], full[key])
    assert lazy.shape == full.shape and np.asarray(lazy).shape == full.shape
    # scGPT size: 1,200 genes at d = 512 would be 2.9 GB as [S, T, D]; the lazy form holds two [1200, 512] blocks
    big = PairEmbedding(np.zeros((1200, 512), np.float32), np.zeros((1200, 512), np.float32))
    assert big.shape == (1200, 1200, 512) and big.source_rows.nbytes + big.target_rows.nbytes < 5e6

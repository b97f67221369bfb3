"""The hand-written forward-mode pass equals torch's generic jvp on every model variant."""

from __future__ import annotations

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from ugrn_core.models.scgpt import ScGPTConfig, ScGPTModel
import ugrn_core.models.tangent as tangent_mod
from ugrn_core.models.tangent import forward_with_tangent


def _model(**variant) -> ScGPTModel:
    torch.manual_seed(0)
    model = ScGPTModel(ScGPTConfig(ntoken=30, d_model=16, nhead=4, d_hid=24, nlayers=2, dropout=0.1, max_value=3.0,
                                   **variant)).double().eval()
    if variant.get("gene_affine"):
        model.set_gene_affine(torch.arange(30), torch.linspace(0, 2, 30), torch.linspace(0.5, 1.5, 30))
    if variant.get("linear_rank"):
        model.set_linear_path(torch.arange(1, 28), torch.linspace(0, 2, 27))  # tokens 0, 28, 29 not read
        torch.nn.init.normal_(model.ugrn_linear_out.weight)  # a trained path is not silent
    return model


@pytest.fixture(params=["whole-batch", "within-cells", "within-cells-2-heads"])
def block_layout(request, monkeypatch):
    """Short sequences take whole-batch blocks; long ones (forced here by a small budget) take
    blocks within a cell, read from strided views, all heads or two at a time. All must agree."""
    heads_per_block = {"within-cells": 4, "within-cells-2-heads": 2}.get(request.param)
    if heads_per_block:
        monkeypatch.setitem(tangent_mod.ATTENTION_BLOCK_ELEMENTS, "cpu", heads_per_block * 12 * 12)
    return request.param


VARIANTS = [{}, {"pre_norm": True}, {"hide_masked_keys": True}, {"gene_affine": True},
            {"linear_rank": 3, "gene_affine": True}]
VARIANT_IDS = ["post-norm", "pre-norm", "hidden-masked-keys", "gene-affine", "linear-path"]


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("last_cell", ["one-hot", "zero"])
def test_one_hot_tangents_take_the_sparse_first_layer_and_equal_torch_jvp(variant, last_cell, block_layout):
    """GT's tangents (one source per cell) use the first layer's row-and-column rule."""
    model = _model(**variant)
    gen = torch.Generator().manual_seed(2)
    ids = torch.randint(0, 30, (6, 12), generator=gen)
    values = torch.rand(6, 12, generator=gen, dtype=torch.float64) * 4
    values[:, 3] = -1.0
    tangent = torch.zeros_like(values)
    tangent[torch.arange(6), torch.tensor([0, 2, 5, 7, 11, 4])] = torch.tensor([1.0, 1.0, 1.0, -2.5, 1.0, 0.5], dtype=torch.float64)
    if last_cell == "zero":
        tangent[5] = 0.0
    assert tangent_mod._one_hot_rows(tangent) is not None  # the sparse path is the one under test
    out, d_out = forward_with_tangent(model, ids, values, tangent)
    with sdpa_kernel(SDPBackend.MATH):
        ref_out, ref_d = torch.func.jvp(lambda v: model(ids, v), (values,), (tangent,))
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(d_out, ref_d, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("variant", VARIANTS, ids=VARIANT_IDS)
def test_forward_with_tangent_equals_torch_jvp(variant, block_layout):
    model = _model(**variant)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 30, (5, 12), generator=gen)
    values = torch.rand(5, 12, generator=gen, dtype=torch.float64) * 4  # some above max_value: clamped
    values[:, 3] = -1.0  # a masked gene (hidden when the variant hides masked keys)
    tangent = torch.zeros_like(values)
    tangent[torch.arange(5), torch.tensor([0, 2, 5, 7, 11])] = 1.0  # one source per cell, as GT uses it
    tangent[4] = torch.randn(12, generator=gen, dtype=torch.float64)  # and any direction
    out, d_out = forward_with_tangent(model, ids, values, tangent)
    with sdpa_kernel(SDPBackend.MATH):  # the fused kernels have no forward-mode rule
        ref_out, ref_d = torch.func.jvp(lambda v: model(ids, v), (values,), (tangent,))
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(d_out, ref_d, rtol=1e-9, atol=1e-10)
    assert d_out.abs().max() > 1e-3  # a real derivative, not zeros


def test_training_mode_is_refused():
    model = _model().train()
    with pytest.raises(RuntimeError, match="eval mode"):
        forward_with_tangent(model, torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.float64),
                             torch.zeros(1, 3, dtype=torch.float64))


def test_the_wrapper_adds_cls_and_matches_jvp_of_predict():
    from ugrn_core.models.foundation import load_model

    model = load_model("default", device="cpu")
    genes = model.vocab.genes[:20]
    ids = model.token_ids(genes)
    values = torch.rand(3, 20, generator=torch.Generator().manual_seed(2)) * 3
    tangent = torch.zeros_like(values)
    tangent[torch.arange(3), torch.tensor([1, 4, 9])] = 1.0
    out, slope = model.predict_with_tangent(ids, values, tangent)
    with sdpa_kernel(SDPBackend.MATH):
        ref_out, ref_slope = torch.func.jvp(lambda v: model.predict(ids, v), (values,), (tangent,))
    torch.testing.assert_close(out, ref_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(slope, ref_slope, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tangent_rows", ["one-hot", "dense"])
def test_bf16_autocast_with_softmax_in_fp32_as_cuda_runs_it(monkeypatch, tangent_rows, block_layout):
    """CUDA autocast runs softmax in fp32 while the products around it are bf16; the pass
    (with its ``out=`` and in-place products, which autocast does not cast) must still run,
    close to fp32. Seen first on an H200; simulated here with CPU autocast."""
    model = _model().float()
    gen = torch.Generator().manual_seed(3)
    ids = torch.randint(0, 30, (4, 12), generator=gen)
    values = torch.rand(4, 12, generator=gen) * 3
    tangent = torch.zeros_like(values)
    tangent[torch.arange(4), torch.tensor([0, 2, 5, 7])] = 1.0
    if tangent_rows == "dense":
        tangent[3] = torch.randn(12, generator=gen)
    ref_out, ref_d = forward_with_tangent(model, ids, values, tangent)
    # CUDA autocast's policy for two ops of its fp32 list, which CPU autocast leaves alone
    softmax, tensor_sum = torch.softmax, torch.Tensor.sum
    on = lambda: torch.is_autocast_enabled("cpu")  # noqa: E731
    monkeypatch.setattr(torch, "softmax", lambda x, dim, **kw: softmax(x.float() if on() else x, dim=dim, **kw))
    monkeypatch.setattr(torch.Tensor, "sum", lambda x, *a, **kw: tensor_sum(x.float() if on() else x, *a, **kw))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out, d_out = forward_with_tangent(model, ids, values, tangent)
    torch.testing.assert_close(out.float(), ref_out, rtol=0.05, atol=0.05)
    torch.testing.assert_close(d_out.float(), ref_d, rtol=0.1, atol=0.05)


def test_attention_blocks_cover_every_slice_and_a_gpu_takes_big_ones(monkeypatch):
    """Block size changes speed, never the answer; a GPU gets few big blocks (launch-bound otherwise)."""
    model = _model().float()
    gen = torch.Generator().manual_seed(4)
    ids = torch.randint(0, 30, (5, 12), generator=gen)
    values = torch.rand(5, 12, generator=gen) * 3
    tangent = torch.zeros_like(values)
    tangent[torch.arange(5), torch.tensor([0, 2, 5, 7, 9])] = 1.0
    whole = forward_with_tangent(model, ids, values, tangent)
    monkeypatch.setitem(tangent_mod.ATTENTION_BLOCK_ELEMENTS, "cpu", 3 * 13 * 13)  # 3 slices a block, the last short
    blocked = forward_with_tangent(model, ids, values, tangent)  # within cells: 3 heads, then 1
    blocks = tangent_mod._blocks(20, 13, torch.device("cpu"))
    assert len(blocks) == 7 and [i for s in blocks for i in range(20)[s]] == list(range(20))
    monkeypatch.setitem(tangent_mod.ATTENTION_BLOCK_ELEMENTS, "cpu", 7 * 12 * 12)
    across = forward_with_tangent(model, ids, values, tangent)  # whole-batch blocks of 7 slices, across cells
    for a, b, c in zip(whole, blocked, across):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c)
    assert len(tangent_mod._blocks(32 * 8, 1201, torch.device("cuda"))) <= 2  # scGPT size, batch 32


def _gt_batch(n_contexts: int = 3, sources=(2, 7), grid=(0.0, 1.5, 3.5), dtype=torch.float64):
    """GT's batches: each source at several values in each context cell, the rest untouched."""
    gen = torch.Generator().manual_seed(5)
    contexts = torch.rand(n_contexts, 12, generator=gen, dtype=dtype) * 2.5
    ids = torch.randint(0, 30, (12,), generator=gen)
    cells, pos = [], []
    for s in sources:
        for context in contexts:
            for value in grid:
                cell = context.clone()
                cell[s] = value
                cells.append(cell)
                pos.append(s)
    values = torch.stack(cells)
    tangent = torch.zeros_like(values)
    tangent[torch.arange(len(values)), torch.tensor(pos)] = 1.0
    return ids.expand(len(values), -1), values, tangent


def _spy_shared(monkeypatch) -> list:
    """What each call of the shared-context rule returned (None: it declined)."""
    calls, rule = [], tangent_mod._attention_shared_context
    monkeypatch.setattr(tangent_mod, "_attention_shared_context", lambda *a: calls.append(rule(*a)) or calls[-1])
    return calls


@pytest.mark.parametrize("variant", [v for v in VARIANTS if not v.get("hide_masked_keys")],
                         ids=[i for i in VARIANT_IDS if i != "hidden-masked-keys"])
def test_cells_sharing_a_context_reuse_its_attention_and_equal_torch_jvp(variant, monkeypatch):
    """A GT batch (sources x values x context cells) computes each context's first-layer attention
    once and every cell's from it; the answer is torch's jvp all the same."""
    model = _model(**variant)
    ids, values, tangent = _gt_batch()
    groups = tangent_mod._shared_context_groups(ids, values, tangent_mod._one_hot_rows(tangent))
    assert groups is not None and len(set(groups.tolist())) == 6  # 2 sources x 3 contexts
    calls = _spy_shared(monkeypatch)
    out, d_out = forward_with_tangent(model, ids, values, tangent)
    assert len(calls) == 1 and calls[0] is not None  # the shared rule ran, and did not decline
    with sdpa_kernel(SDPBackend.MATH):
        ref_out, ref_d = torch.func.jvp(lambda v: model(ids, v), (values,), (tangent,))
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(d_out, ref_d, rtol=1e-9, atol=1e-10)


def test_shared_context_declines_rows_that_lose_their_mass_and_fp32_agrees(monkeypatch):
    """Where the update would divide rounding error by a small normaliser it declines and the
    whole computation runs; in fp32 both routes agree to rounding."""
    model = _model().float()
    ids, values, tangent = _gt_batch(dtype=torch.float32)
    calls = _spy_shared(monkeypatch)
    shared = forward_with_tangent(model, ids, values, tangent)
    monkeypatch.setattr(tangent_mod, "SHARED_CONTEXT_MIN_MASS", 2.0)  # every row "loses" mass
    whole = forward_with_tangent(model, ids, values, tangent)
    assert calls[0] is not None and calls[1] is None
    for a, b in zip(shared, whole):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_cells_without_a_shared_context_take_the_whole_computation():
    """Different gene panels, or one cell per context, share nothing: no groups."""
    ids, values, tangent = _gt_batch(n_contexts=1, grid=(1.0,))  # one cell per (source, context)
    assert tangent_mod._shared_context_groups(ids, values, tangent_mod._one_hot_rows(tangent)) is None
    ids, values, tangent = _gt_batch(n_contexts=1, sources=(2,), grid=(0.0, 1.0, 2.0, 3.0))
    rows = tangent_mod._one_hot_rows(tangent)
    assert tangent_mod._shared_context_groups(ids, values, rows).tolist() == [0, 0, 0, 0]
    ids = ids.clone()
    ids[2:, 0] = 29  # two cells read another gene at token 0: another context
    assert sorted(tangent_mod._shared_context_groups(ids, values, rows).tolist()) == [0, 0, 1, 1]

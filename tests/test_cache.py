"""Feature cache: hits, misses on every changed input, damaged files, resumable chunks."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import make_model
from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features
import ugrn_core.extract as extract_mod


@pytest.fixture
def counting(monkeypatch):
    calls = []
    real = extract_mod.compute_method

    def wrapped(method, ctx, pos, *a, **k):
        calls.append((method, tuple(pos)))
        return real(method, ctx, pos, *a, **k)

    monkeypatch.setattr(extract_mod, "compute_method", wrapped)
    return calls


def _run(model, genes, cache, **kw):
    params = ExtractionParams(scale="none", vvp_values=kw.pop("M", 4), chunk_sources=3, background=kw.pop("bg", None), context="background")
    return extract_features(kw.pop("method", "vvp"), model, genes, params=params, cache=cache, **kw)


def test_hit_after_first_run(tmp_path, genes, counting):
    cache, model = FeatureCache(tmp_path), make_model(genes)
    first = _run(model, genes, cache)
    n = len(counting)
    second = _run(model, genes, cache)
    assert len(counting) == n  # nothing recomputed
    np.testing.assert_array_equal(first.features, second.features)


@pytest.mark.parametrize("change", ["genes", "params", "model", "background", "mean"])
def test_miss_on_any_changed_input(tmp_path, genes, counting, change):
    cache, model = FeatureCache(tmp_path), make_model(genes)
    method = "pert" if change == "mean" else "vvp"
    mean = np.ones(len(genes), np.float32)
    _run(model, genes, cache, method=method, mean_values=mean)
    n = len(counting)
    kw = {"method": method, "mean_values": mean}
    if change == "genes":
        genes = genes[:-1]
        kw["mean_values"] = mean[:-1]
    elif change == "params":
        kw["M"] = 5
    elif change == "model":
        model = make_model(genes, seed=9)
    elif change == "background":
        kw["bg"] = 2.0
    else:
        kw["mean_values"] = mean * 2
    _run(model, genes, cache, **kw)
    assert len(counting) > n


def test_corrupt_entry_is_detected_and_recomputed(tmp_path, genes, counting):
    cache, model = FeatureCache(tmp_path), make_model(genes)
    ref = _run(model, genes, cache)
    files = sorted(tmp_path.glob("*/*.npz"))
    assert files
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated
    n = len(counting)
    again = _run(model, genes, cache)
    assert len(counting) == n + 1
    np.testing.assert_allclose(again.features, ref.features)


def test_altered_entry_fails_checksum(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.save("ab" * 32, {"features": np.arange(6.0)})
    p = cache.path("ab" * 32)
    with np.load(p) as npz:
        arrays = dict(npz)
    arrays["features"] = arrays["features"] + 1  # same checksum field, different data
    np.savez(p, **arrays)
    assert cache.load("ab" * 32) is None and not p.exists()


def test_interrupted_run_resumes_from_finished_chunks(tmp_path, genes, counting, monkeypatch):
    cache, model = FeatureCache(tmp_path), make_model(genes)
    reference = _run(model, genes, None)
    real = extract_mod.compute_method
    state = {"n": 0}

    def dies_on_third_chunk(*a, **k):
        state["n"] += 1
        if state["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(extract_mod, "compute_method", dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        _run(model, genes, cache)
    monkeypatch.setattr(extract_mod, "compute_method", real)
    calls = []
    monkeypatch.setattr(extract_mod, "compute_method", lambda *a, **k: calls.append(1) or real(*a, **k))
    resumed = _run(model, genes, cache)
    assert len(calls) == 1  # 7 sources / 3 per chunk = 3 chunks; 2 came from the cache
    np.testing.assert_allclose(resumed.features, reference.features, atol=1e-6)


@pytest.mark.parametrize("context", ["background", "cells", "partition"])
def test_gt_leaves_vvp_in_the_cache_equal_to_a_vvp_pass(tmp_path, genes, counting, context):
    """GT's pass computes VVP's response curves: with a cache, VVP after GT runs no pass of its own."""
    from conftest import rand_values

    model, cells = make_model(genes), rand_values(20, len(genes))
    params = ExtractionParams(context=context, n_cells=3, vvp_values=4, gt_values=4, chunk_sources=3)
    kw = dict(mean_values=cells.mean(axis=0), params=params, cell_values=cells)
    alone = extract_features("vvp", model, genes, **kw)  # no cache: VVP's own forward passes
    cache = FeatureCache(tmp_path)
    extract_features("gt", model, genes, cache=cache, **kw)
    counting.clear()
    shared = extract_features("vvp", model, genes, cache=cache, **kw)
    assert counting == []  # every VVP chunk came from GT's pass
    np.testing.assert_allclose(shared.features, alone.features, atol=1e-5)
    np.testing.assert_allclose(shared.score, alone.score, atol=1e-5)


def test_run_extraction_orders_gt_first_and_keeps_the_callers_order():
    from ugrn_core.extract import extraction_order

    assert extraction_order(["pert", "emb", "vvp", "gt"]) == ["pert", "emb", "gt", "vvp"]
    assert extraction_order(["gt", "vvp"]) == ["gt", "vvp"] and extraction_order(["vvp"]) == ["vvp"]

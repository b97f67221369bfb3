"""bf16: the same answers as fp32 within a stated tolerance, and only where the machine runs it natively."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

import ugrn_core.models.precision as precision_mod
from ugrn_core.extract import ExtractionParams, extract_features
from ugrn_core.models.foundation import load_model
from ugrn_core.pipeline import prepare_data


@pytest.mark.parametrize("method", ["pert", "vvp", "gt"])
def test_bf16_on_cpu_matches_fp32_within_the_documented_tolerance(default_model, method):
    prepared = prepare_data("demo", default_model, n_genes=30)
    bf16 = copy.deepcopy(default_model)
    bf16.precision = "bf16"  # forced, whatever this CPU's speed: this checks the numbers
    run = lambda m: extract_features(method, m, prepared.panel, prepared.panel[:8], prepared.mean_values,  # noqa: E731
                                     ExtractionParams(), None, cell_values=prepared.model_values).score
    with torch.no_grad():
        a, b = run(default_model), run(bf16)
    assert precision_mod.within_bf16_tolerance(method, np.abs(a - b).max(), np.abs(a).max(),
                                               spearmanr(a.ravel(), b.ravel())[0])
    assert not np.array_equal(a, b)  # bf16 really ran


def test_bf16_is_kept_only_where_it_is_faster(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(precision_mod, "cpu_bf16_speedup", lambda: 0.01)  # an AVX2-only CPU
    precision, note = precision_mod.resolve_precision("bf16", cpu)
    assert precision == "fp32" and "100x slower" in note
    monkeypatch.setattr(precision_mod, "cpu_bf16_speedup", lambda: 2.0)  # AMX
    assert precision_mod.resolve_precision("bf16", cpu)[0] == "bf16"
    assert precision_mod.resolve_precision("fp32", cpu) == ("fp32", "")
    with pytest.raises(ValueError, match="choose from fp32, bf16"):
        precision_mod.resolve_precision("fp8", cpu)


def test_load_model_reports_the_precision_it_runs_in(monkeypatch):
    monkeypatch.setattr(precision_mod, "cpu_bf16_speedup", lambda: 0.01)
    model = load_model("default", device="cpu", precision="bf16")
    assert model.precision == "fp32" and "running fp32" in model.precision_note  # the cache key follows


def test_the_tolerance_verdict_on_the_h200_figures():
    """bench/results/gpu_h200.md: CUDA bf16 GT stayed within the documented tolerance, VVP did not."""
    assert precision_mod.within_bf16_tolerance("gt", 5.85e-3, 0.414, 0.9999)
    assert not precision_mod.within_bf16_tolerance("vvp", 3.00e-2, 0.702, 0.9701)
    assert not precision_mod.within_bf16_tolerance("vvp", 0.001, 0.702, 0.99)  # small differences, ranks reordered

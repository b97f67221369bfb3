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

# The documented tolerance (README, "bf16"): per method, the largest score difference as a
# fraction of the largest score, and the rank correlation of all pair scores.
TOLERANCE = {"pert": (0.05, 0.98), "vvp": (0.02, 0.995), "gt": (0.05, 0.995)}


@pytest.mark.parametrize("method", ["pert", "vvp", "gt"])
def test_bf16_on_cpu_matches_fp32_within_the_documented_tolerance(default_model, method):
    prepared = prepare_data("demo", default_model, n_genes=30)
    bf16 = copy.deepcopy(default_model)
    bf16.precision = "bf16"  # forced, whatever this CPU's speed: this checks the numbers
    run = lambda m: extract_features(method, m, prepared.panel, prepared.panel[:8], prepared.mean_values,  # noqa: E731
                                     ExtractionParams(), None, cell_values=prepared.model_values).score
    with torch.no_grad():
        a, b = run(default_model), run(bf16)
    max_rel, min_rho = TOLERANCE[method]
    assert np.abs(a - b).max() <= max_rel * np.abs(a).max()
    assert spearmanr(a.ravel(), b.ravel())[0] >= min_rho
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

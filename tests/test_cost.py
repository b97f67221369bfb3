"""The cost estimate counts the same forwards the extractors run, and times them here."""

from __future__ import annotations

from ugrn_core.extract import ExtractionParams, forwards_needed
from ugrn_core.extract.cost import estimate_cost, eta_seconds, format_seconds


def test_estimate_counts_forwards_and_scales_with_sources(tiny_model, genes):
    est = estimate_cost(tiny_model, genes, ["pert", "vvp", "gt"], n_sources=50, params=ExtractionParams(vvp_values=4))
    t = est.table.set_index("method")
    assert t.loc["vvp", "forwards"] == forwards_needed("vvp", 50, ExtractionParams(vvp_values=4)) == 201
    assert (t.seconds > 0).all() and est.total_seconds == t.seconds.sum()
    assert "virtual-cell forwards" in est.summary() and "cpu" in est.summary()


def test_eta_and_formatting():
    assert eta_seconds(10.0, 0.5) == 10.0
    assert eta_seconds(1.0, 0.0) is None
    assert format_seconds(0.2) == "under 1 s" and format_seconds(30) == "30 s" and format_seconds(600) == "10 min"

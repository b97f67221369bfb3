"""The cost estimate counts the same forwards the extractors run, and times them here."""

from __future__ import annotations

from ugrn_core.extract import ExtractionParams, forwards_needed
from ugrn_core.extract.cost import estimate_cost, eta_seconds, format_seconds


def test_estimate_counts_forwards_and_scales_with_sources(tiny_model, genes):
    est = estimate_cost(tiny_model, genes, ["pert", "vvp", "gt"], n_sources=50, params=ExtractionParams(vvp_values=4, context="background"))
    t = est.table.set_index("method")
    assert t.loc["vvp", "forwards"] == forwards_needed("vvp", 50, ExtractionParams(vvp_values=4, context="background")) == 201
    assert (t.seconds > 0).all() and est.total_seconds == t.seconds.sum()
    assert "virtual-cell forwards" in est.summary() and "cpu" in est.summary()


def test_eta_and_formatting():
    assert eta_seconds(10.0, 0.5) == 10.0
    assert eta_seconds(1.0, 0.0) is None
    assert format_seconds(0.2) == "under 1 s" and format_seconds(30) == "30 s" and format_seconds(600) == "10 min"


def test_cells_context_costs_one_input_per_cell_and_is_timed_without_data(tiny_model, genes):
    cells = ExtractionParams(context="cells", n_cells=4, gt_values=3, vvp_values=3)
    assert forwards_needed("gt", 10, cells) == 4 * forwards_needed("gt", 10, ExtractionParams(gt_values=3, context="background"))
    assert forwards_needed("vvp", 10, cells) == 10 * (3 * 4 + 4)  # plus each source's reference in every cell
    est = estimate_cost(tiny_model, genes, ["vvp", "gt"], params=cells)  # stand-in cells: time is value-blind
    assert (est.table.seconds > 0).all()

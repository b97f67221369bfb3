"""Scanpy-shaped AnnData: scaled X with counts in a layer or in .raw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ugrn_core.cli import main
from ugrn_core.data.matrix import matrix_choices, suggested_matrix, use_matrix
from ugrn_core.data.simulate import simulate_demo
from ugrn_core.errors import DataError, ScaledDataError
from ugrn_core.pipeline import prepare_data


@pytest.fixture(scope="module")
def scanpy_like():
    """The demo as scanpy leaves it: counts in layers['counts'] and .raw, scaled values in X."""
    import scanpy as sc

    adata = simulate_demo(n_cells=300)[0]
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    adata.raw = adata.copy()
    sc.pp.scale(adata)
    return adata


def test_choices_and_suggestion(scanpy_like):
    assert matrix_choices(scanpy_like) == ["X", "counts", "raw"]
    assert suggested_matrix(scanpy_like) == "counts"
    dense = lambda m: m.toarray() if hasattr(m, "toarray") else np.asarray(m)  # noqa: E731
    np.testing.assert_array_equal(dense(use_matrix(scanpy_like, layer="counts").X), dense(scanpy_like.layers["counts"]))
    assert use_matrix(scanpy_like) is scanpy_like
    with pytest.raises(DataError, match="no such layer.*X, counts, raw"):
        use_matrix(scanpy_like, layer="spliced")
    with pytest.raises(DataError, match="either a layer or raw"):
        use_matrix(scanpy_like, layer="counts", use_raw=True)


def test_scaled_x_is_refused_naming_the_option_and_the_layer_works(scanpy_like, default_model):
    with pytest.raises(ScaledDataError, match=r"--layer counts"):
        prepare_data(scanpy_like, default_model, n_genes=40)
    from_counts = prepare_data(scanpy_like, default_model, n_genes=40, layer="counts")
    from_raw = prepare_data(scanpy_like, default_model, n_genes=40, use_raw=True)
    assert from_counts.report.normalized and not from_raw.report.normalized  # counts normalised; raw is log already
    assert from_counts.panel == from_raw.panel  # the same log-normalised expression either way
    np.testing.assert_allclose(from_counts.model_values, from_raw.model_values, rtol=1e-5, atol=1e-5)


def test_extract_layer_on_the_command_line(scanpy_like, tmp_path, capsys):
    path = tmp_path / "scaled.h5ad"
    scanpy_like.write_h5ad(path)
    base = ["extract", "--data", str(path), "--methods", "pert", "--n-genes", "30", "--out"]
    assert main([*base, str(tmp_path / "x")]) == 2
    assert "--layer counts" in capsys.readouterr().err
    assert main([*base, str(tmp_path / "ok"), "--layer", "counts"]) == 0
    edges = pd.read_csv(tmp_path / "ok" / "edges.csv")
    assert len(edges) == 30 * 29 and edges.pert.notna().all()


def test_a_matrix_choice_names_its_layer_or_raw():
    from ugrn_core.data.matrix import matrix_arguments

    assert matrix_arguments("X") == (None, False)
    assert matrix_arguments("raw") == (None, True)
    assert matrix_arguments("counts") == ("counts", False)

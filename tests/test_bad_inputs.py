"""The bad-input corpus (tests/corpus.py), each case asserted in the library and in the app,
odd-but-valid inputs that must give the clean answer, and faults (concurrent extraction)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import started
from corpus import CASES, odd_matrix
from ugrn_core.data import io as data_io
from ugrn_core.data.gene_ids import map_to_vocab
from ugrn_core.data.networks import match_network, read_network
from ugrn_core.errors import GeneNotFoundError
from ugrn_core.extract import ExtractionParams, FeatureCache, extract_features
from ugrn_core.models.foundation import load_model
from ugrn_core.models.vocab import GeneVocab
from ugrn_core.pipeline import prepare_data

ROOT = Path(__file__).resolve().parents[1]
DEMO_PANEL = [f"TF{i:02d}" for i in range(1, 31)] + [f"G{i:03d}" for i in range(1, 271)]


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


@pytest.fixture
def warm_cache(tmp_path, default_model):
    """A cache holding an earlier result, to check that bad input leaves it alone."""
    cache = FeatureCache(tmp_path / "cache")
    extract_features("vvp", default_model, DEMO_PANEL[:12], params=ExtractionParams(scale="none", context="background"), cache=cache)
    return cache


def _library_call(case, path: Path, default_model):
    if case.kind == "data":
        return prepare_data(str(path), default_model, n_genes=50)
    if case.kind == "checkpoint":
        return load_model(str(path), device="cpu")
    return match_network(read_network(str(path)), DEMO_PANEL, what="the gene panel")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_library_names_the_problem_and_the_fix(case, tmp_path, default_model, warm_cache):
    before = _snapshot(warm_cache.root)
    path = case.build(tmp_path)
    with pytest.raises(case.error) as info:
        _library_call(case, path, default_model)
    message = str(info.value)
    for fragment in case.says:
        assert fragment in message, (case.name, fragment, message)
    assert _snapshot(warm_cache.root) == before  # nothing cached was touched


def test_the_app_shows_every_message_and_keeps_the_earlier_result(tmp_path):
    at = started(AppTest.from_file(str(ROOT / "app.py"), default_timeout=600).run())
    assert not at.exception and any("Features ready" in s.value for s in at.success)
    inputs = {"data": ("w_data_kind", "Path on this machine", "w_data_path", "Demo"),
              "checkpoint": ("w_model_kind", "scGPT checkpoint folder", "w_model_path", "Built-in default"),
              "network": ("w_net_kind", "Path on this machine", "w_net_path", "Automatic (the demo's truth; a saved result's own)")}
    shown = 0
    for case in CASES:
        kind_key, kind_value, path_key, reset = inputs[case.kind]
        folder = tmp_path / case.name
        folder.mkdir()
        path = case.build(folder)
        at.radio(key=kind_key).set_value(kind_value).run()
        at.text_input(key=path_key).set_value(str(path)).run()
        assert not at.exception, (case.name, [e.value for e in at.exception])
        messages = " ".join(e.value for e in at.error) + " ".join(w.value for w in at.warning)
        assert all(f in messages for f in case.says), (case.name, messages)
        shown += 1
        at.radio(key=kind_key).set_value(reset).run()  # back to the good input: the earlier result is intact
        assert not at.exception and any("Features ready" in s.value for s in at.success), case.name
    assert shown == len(CASES)


def test_requested_genes_outside_panel_or_vocabulary(default_model):
    with pytest.raises(GeneNotFoundError, match="not usable in this dataset"):
        prepare_data("demo", default_model, n_genes=50, keep_genes=["NOT_A_GENE"])
    with pytest.raises(GeneNotFoundError, match="not in the gene panel"):
        extract_features("vvp", default_model, DEMO_PANEL[:10], sources=[DEMO_PANEL[20]])


def test_odd_but_valid_matrices_give_the_clean_answer(tmp_path, default_model):
    clean, odd = odd_matrix()
    a = prepare_data(clean, default_model, n_genes=60)
    b = prepare_data(odd, default_model, n_genes=60)
    assert b.panel == a.panel and "ALLZERO_GENE" not in b.adata.var_names and "allzero_cell" not in b.adata.obs_names
    np.testing.assert_allclose(b.model_values, a.model_values, rtol=1e-5, atol=1e-5)


def test_self_loops_and_duplicate_edges_are_dropped(tmp_path):
    path = tmp_path / "net.csv"
    pd.DataFrame({"source": ["TF01", "TF01", "TF01", "tf02"], "target": ["G001", "G001", "TF01", "G002"]}).to_csv(path, index=False)
    net = read_network(str(path))
    assert sorted(zip(net.source, net.target)) == [("TF01", "G001"), ("TF02", "G002")]


def test_mouse_symbols_and_mixed_ids_are_accepted_with_a_note():
    human = GeneVocab.from_genes(["ACTB", "GAPDH", "SOX2", "POU5F1", "NANOG"])
    mouse = map_to_vocab(["Actb", "Gapdh", "Sox2", "Pou5f1", "Nanog"], human)
    assert mouse.coverage == 1.0 and "mouse symbols" in mouse.summary()
    mixed = map_to_vocab(["ACTB", "GAPDH", "SOX2", "ENSG00000204531", "NANOG"], human, min_coverage=0.5)
    assert "mixed" in mixed.summary()


def test_a_dataset_over_the_memory_budget_is_subsampled_with_a_note(tmp_path, monkeypatch):
    clean, _ = odd_matrix()
    path = tmp_path / "big.h5ad"
    clean.write_h5ad(path)
    n_obs, _, need = data_io.h5ad_matrix_bytes(path)
    monkeypatch.setattr(data_io, "available_memory", lambda: int(need / data_io.MEMORY_FRACTION / 3))
    adata = data_io.read_dataset(str(path))
    assert 0 < adata.n_obs < n_obs / 2 and "randomly chosen" in adata.uns[data_io.SUBSAMPLE_NOTE]
    monkeypatch.undo()
    assert data_io.read_dataset(str(path)).n_obs == n_obs  # fits: read whole, no note


def test_two_sessions_extracting_the_same_key_compute_once(tmp_path, default_model, monkeypatch):
    import ugrn_core.extract as extract

    calls, real = [], extract.compute_method
    monkeypatch.setattr(extract, "compute_method", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache, out = FeatureCache(tmp_path / "shared"), {}

    def session(name: str) -> None:
        out[name] = extract_features("vvp", default_model, DEMO_PANEL[:16], cache=cache,
                                     params=ExtractionParams(scale="none", context="background"))

    threads = [threading.Thread(target=session, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1  # one chunk of 16 sources: computed by one session, read by the other
    np.testing.assert_array_equal(out["a"].features, out["b"].features)
    assert not list((tmp_path / "shared").rglob("*.tmp"))  # no torn files left behind

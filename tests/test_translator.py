"""The translator learns what is learnable, saves and loads exactly, and refuses mismatches."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from ugrn_core.errors import CheckpointError, DataError, TranslatorMismatchError
from ugrn_core.evaluate import auroc
from ugrn_core.extract.base import PairFeatures
from ugrn_core.translator import Translator, TranslatorConfig, TranslatorSet, pair_features


def planted(n=600, dim=4, seed=0):
    """Edges are exactly the pairs whose feature 2 lies in a band: separable, but not linearly."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, dim)).astype(np.float32)
    y = (np.abs(X[:, 2]) < 0.6).astype(np.float32)
    return X, y


def test_mlp_learns_a_planted_nonlinear_feature():
    X, y = planted(seed=0)
    Xv, yv = planted(seed=1)
    Xt, yt = planted(seed=2)
    t = Translator("vvp", "mlp", TranslatorConfig(epochs=200, patience=40)).fit(X, y, Xv, yv)
    assert auroc(yt, t.proba(Xt)) > 0.95
    # the linear sanity baseline cannot represent a band: that is the point of the MLP
    lr = Translator("vvp", "logreg").fit(X, y)
    assert auroc(yt, lr.proba(Xt)) < 0.7


def test_logreg_learns_a_planted_linear_feature():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    y = (X[:, 1] > 0).astype(np.float32)
    t = Translator("gt", "logreg").fit(X, y)
    assert auroc(y, t.proba(X)) > 0.99


def _features(method, S, T, D, seed):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(len(S), len(T), D)).astype(np.float32)
    return PairFeatures(method, f, S, T, np.abs(f).mean(-1))


def test_save_load_round_trip_gives_identical_predictions(tmp_path):
    S, T = ["A", "B", "C"], ["A", "B", "C", "D", "E"]
    feats = {m: _features(m, S, T, d, i) for i, (m, d) in enumerate([("vvp", 8), ("gt", 8), ("pert", 1)])}
    pairs = pd.DataFrame([(s, t) for s in S for t in T if s != t], columns=["source", "target"])
    pairs["label"] = (np.arange(len(pairs)) % 3 == 0).astype(int)
    ts = TranslatorSet.fit(feats, pairs, pairs, TranslatorConfig(epochs=5), info={"trained_on": "x"})
    before = ts.predict(feats, pairs)
    assert {"vvp", "gt", "pert", "ensemble", "vvp_logreg"} <= set(before.columns)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    np.testing.assert_allclose(logit(before["ensemble"]), (logit(before["vvp"]) + logit(before["gt"])) / 2, rtol=1e-6)
    ts.save(tmp_path / "tr")
    after = TranslatorSet.load(tmp_path / "tr").predict(feats, pairs)
    pd.testing.assert_frame_equal(before, after)
    assert TranslatorSet.load(tmp_path / "tr").info["trained_on"] == "x"


def test_wrong_feature_width_and_damaged_files_are_refused(tmp_path):
    S, T = ["A", "B"], ["A", "B", "C"]
    feats = {"vvp": _features("vvp", S, T, 8, 0)}
    pairs = pd.DataFrame({"source": ["A", "A", "B", "B"], "target": ["B", "C", "A", "C"], "label": [1, 0, 1, 0]})
    ts = TranslatorSet.fit(feats, pairs, None, TranslatorConfig(epochs=2), kinds=("mlp",))
    with pytest.raises(DataError, match="expects 8 features per pair, got 4"):
        ts.predict({"vvp": _features("vvp", S, T, 4, 0)}, pairs)
    with pytest.raises(DataError, match="features are missing"):
        pair_features(feats["vvp"], pd.DataFrame({"source": ["Z"], "target": ["A"]}))
    folder = ts.save(tmp_path / "tr")
    (folder / "vvp.pt").write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError, match="could not be loaded"):
        TranslatorSet.load(folder)
    (folder / "translator.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        TranslatorSet.load(folder)
    with pytest.raises(CheckpointError, match="no translator.json"):
        TranslatorSet.load(tmp_path)


def test_provenance_refuses_other_models_and_settings_and_records_training_genes(tmp_path):
    S, T = ["A", "B", "C"], ["A", "B", "C", "D"]
    params = {"context": "cells", "n_cells": 8, "vvp_values": 8, "value_grid": [0.0, 1.0, 2.0], "batch_size": 64}
    feats = {"vvp": _features("vvp", S, T, 8, 0)}
    feats["vvp"].params = params
    pairs = pd.DataFrame({"source": ["A", "A", "B"], "target": ["B", "C", "D"], "label": [1, 0, 1]})
    val = pd.DataFrame({"source": ["C"], "target": ["D"], "label": [0]})
    ts = TranslatorSet.fit(feats, pairs, val, TranslatorConfig(epochs=2), kinds=("mlp",), info={"model_digest": "abc123"})
    ts = TranslatorSet.load(ts.save(tmp_path / "tr"))
    assert ts.training_genes == {"A", "B", "C", "D"}  # training and early-stopping pairs
    ts.predict(feats, pairs, model_digest="abc123")  # same model, same settings: fine
    # a batch size does not change what a feature means
    same = _features("vvp", S, T, 8, 0)
    same.params = {**params, "batch_size": 8}
    ts.predict({"vvp": same}, pairs, model_digest="abc123")
    with pytest.raises(TranslatorMismatchError, match="model: trained on features of model abc123"):
        ts.predict(feats, pairs, model_digest="fff999")
    other = _features("vvp", S, T, 8, 0)
    other.params = {**params, "context": "background", "value_grid": [0.0, 1.5, 3.0]}
    with pytest.raises(TranslatorMismatchError, match="context: trained with cells, given background.*allow_mismatch"):
        ts.predict({"vvp": other}, pairs, model_digest="abc123")
    assert any("value_grid" in d for d in ts.differences({"vvp": other}))
    out = ts.predict({"vvp": other}, pairs, model_digest="abc123", allow_mismatch=True)  # the user means it
    assert out["vvp"].between(0, 1).all()

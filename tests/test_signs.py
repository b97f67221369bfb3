"""Predicted signs against hand-made features, and the sign accuracy by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ugrn_core.extract.base import PairFeatures
from ugrn_core.signs import ensemble_signs, pair_signs, predicted_sign, sign_accuracy


def _feats(method, rows, grid=None):
    f = np.asarray(rows, dtype=np.float32)[None]  # one source, len(rows) targets
    params = {} if grid is None else {"value_grid": list(grid)}
    return PairFeatures(method, f, ["S"], [f"T{i}" for i in range(f.shape[1])], np.abs(f).mean(-1), params)


def test_vvp_sign_is_the_slope_of_the_response_curve():
    # rising, falling, flat; and a curve that dips then rises steeply (net slope +)
    curves = [[-1, 0, 1, 2], [2, 1, 0, -1], [0.5, 0.5, 0.5, 0.5], [0, -0.2, 0, 3]]
    np.testing.assert_array_equal(predicted_sign(_feats("vvp", curves, grid=[0, 1, 2, 3]))[0], [1, -1, 0, 1])
    # the slope is against the sweep values: the same responses over a reversed grid flip sign
    np.testing.assert_array_equal(predicted_sign(_feats("vvp", curves, grid=[3, 2, 1, 0]))[0], [-1, 1, 0, -1])


def test_gt_pert_and_embedding_signs():
    np.testing.assert_array_equal(predicted_sign(_feats("gt", [[0.2, 0.1, -0.1], [-0.3, -0.1, 0.0]]))[0], [1, -1])
    np.testing.assert_array_equal(predicted_sign(_feats("pert", [[0.4], [-0.2]]))[0], [1, -1])
    assert not predicted_sign(_feats("emb", [[0.4, 1.0], [-0.2, 3.0]])).any()


def test_pair_signs_ensemble_and_accuracy_by_hand():
    vvp = _feats("vvp", [[-1, 0, 1], [1, 0, -1], [-1, 0, 1]], grid=[0, 1, 2])
    gt = _feats("gt", [[0.1, 0.2, 0.1], [0.1, 0.1, 0.1], [0.3, 0.1, 0.2]])
    pairs = pd.DataFrame({"source": ["S", "S", "S"], "target": ["T2", "T0", "T1"]})
    np.testing.assert_array_equal(pair_signs(vvp, pairs), [1, 1, -1])
    np.testing.assert_array_equal(ensemble_signs({"vvp": vvp, "gt": gt}, pairs), [1, 1, 0])  # disagree -> 0
    assert ensemble_signs({"vvp": vvp}, pairs) is None
    # known signs +1, +1, -1, 0 (unsigned, ignored); an abstention (0) counts as wrong
    assert sign_accuracy([1, 1, -1, 0], [1, -1, 0, 1]) == pytest.approx(1 / 3)
    assert np.isnan(sign_accuracy([0, 0], [1, 1]))

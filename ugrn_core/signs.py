"""Predicted sign of a regulation: does raising the source raise (+1) or lower (-1) the target?

Why: VVP, GT and Perturbation features are signed, and a biologist reads an edge as
activation or repression; TRRUST, DoRothEA, CollecTRI and the simulators carry signs to
check it against. Definitions (0 = no call):

- ``vvp``: sign of the least-squares slope of the response curve ``e_ij[m]`` against the
  sweep values ``v_m`` (the reference value cancels out of a slope).
- ``gt``: sign of the mean of the slopes ``d M_j / d v_i`` over the sweep.
- ``pert``: sign of ``M(x̄)_j - M(x̄ with i at 0)_j``: positive when removing the source
  lowers the target.
- ``ensemble``: the sign VVP and GT agree on; 0 where they disagree.
- correlation baselines: the sign of r.
The embedding has no sign. A translator's probability says *whether*, never *which way*,
so its rows in a table take the sign of the features it read.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .extract.base import PairFeatures

SIGNED_METHODS = ("vvp", "gt", "pert")
ENSEMBLE_SIGN_OF = ("vvp", "gt")


def predicted_sign(feats: PairFeatures) -> np.ndarray:
    """``[sources, targets]`` of -1 / 0 / +1 for a signed feature type (all 0 for others)."""
    if feats.method not in SIGNED_METHODS:
        return np.zeros(feats.features.shape[:2], dtype=np.int8)
    f = np.asarray(feats.features, dtype=np.float64)
    if feats.method == "vvp":
        grid = feats.params.get("value_grid")
        v = np.asarray(grid, dtype=np.float64) if grid is not None and len(grid) == f.shape[2] else np.arange(f.shape[2], dtype=np.float64)
        slope = ((f - f.mean(axis=2, keepdims=True)) * (v - v.mean())).sum(axis=2)
        return np.sign(slope).astype(np.int8)
    if feats.method in ("gt", "pert"):
        return np.sign(f.mean(axis=2)).astype(np.int8)
    return np.zeros(f.shape[:2], dtype=np.int8)


def pair_signs(feats: PairFeatures, pairs: pd.DataFrame) -> np.ndarray:
    """The predicted sign of each ``(source, target)`` row of ``pairs``."""
    from .translator import _pair_index

    si, ti = _pair_index(feats, pairs)
    return predicted_sign(feats)[si, ti]


def ensemble_signs(features: dict[str, PairFeatures], pairs: pd.DataFrame) -> np.ndarray | None:
    """Where VVP and GT agree, their sign; else 0. None unless both were extracted."""
    if not all(m in features for m in ENSEMBLE_SIGN_OF):
        return None
    a, b = (pair_signs(features[m], pairs) for m in ENSEMBLE_SIGN_OF)
    return np.where(a == b, a, 0).astype(np.int8)


def predicted_pair_signs(features: dict[str, PairFeatures], pairs: pd.DataFrame) -> np.ndarray:
    """The one predicted sign a table shows per pair: where VVP and GT were both extracted,
    the sign they agree on (0 where they disagree); else the first signed feature type's; 0
    when none was extracted."""
    signs = ensemble_signs(features, pairs)
    if signs is not None:
        return signs
    first = next((m for m in SIGNED_METHODS if m in features), None)
    return pair_signs(features[first], pairs) if first else np.zeros(len(pairs), dtype=np.int8)


SIGN_WORDS = {1: "activates", -1: "represses", 0: "regulates"}


def sign_word(sign) -> str:
    """``activates`` / ``represses`` / ``regulates`` (no call): Cytoscape's interaction names."""
    return SIGN_WORDS.get(int(sign), "regulates")


def network_signs(network_edges: pd.DataFrame, pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``pairs``: is it an edge of the network, and its known sign (0 = unsigned or no edge)."""
    sign = {(a, b): int(v) for a, b, v in network_edges[["source", "target", "sign"]].itertuples(index=False)}
    keys = list(zip(pairs.source, pairs.target))
    return np.array([k in sign for k in keys], dtype=bool), np.array([sign.get(k, 0) for k in keys], dtype=int)


def sign_accuracy(known, predicted) -> float:
    """Among pairs with a known sign (non-zero), the fraction predicted with that sign.

    A pair without a call (0) counts as wrong, so abstaining never raises the score.
    """
    k = np.asarray(known)
    p = np.asarray(predicted)
    signed = k != 0
    return float((p[signed] == k[signed]).mean()) if signed.any() else float("nan")


__all__ = [
    "SIGNED_METHODS", "SIGN_WORDS", "predicted_sign", "pair_signs", "ensemble_signs", "predicted_pair_signs", "sign_word",
    "network_signs", "sign_accuracy",
]

"""How expression becomes model input values, and the virtual-value defaults.

A model sees one number per gene. scGPT whole-human was pretrained on per-cell binned
values (0 = not expressed, 1..n_bins-1 = quantile bin among the cell's expressed genes);
the models this project pretrains may instead see log-normalised expression. The
:class:`ValueSpec` stored with a checkpoint records which, plus the input range that the
virtual-cell extractors (VVP, GT) sweep and the background value of a virtual cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class ValueSpec:
    """Input units of a model.

    transform: ``"log1p"`` (log-normalised expression as is) or ``"binned"`` (scGPT per-cell
        quantile bins).
    value_range: (low, high) of inputs seen in pretraining; the VVP / GT grids span it.
    background: the value every gene of a virtual cell carries (default: the median
        *expressed* input value, i.e. a typical expressed gene).
    """

    transform: str = "log1p"
    n_bins: int = 51
    value_range: tuple[float, float] = (0.0, 5.0)
    background: float = 1.5
    mask_value: float = -1.0
    pad_value: float = -2.0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["value_range"] = list(self.value_range)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ValueSpec":
        d = dict(d)
        if "value_range" in d:
            d["value_range"] = tuple(float(v) for v in d["value_range"])
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    @classmethod
    def for_scgpt_args(cls, args: dict) -> "ValueSpec":
        """Defaults for a real scGPT checkpoint: binned inputs 0..n_bins-1, background at the
        middle bin (the median expressed gene of a cell, since bins are per-cell quantiles)."""
        n_bins = int(args.get("n_bins", 51))
        style = args.get("input_style", "binned")
        transform = "binned" if style == "binned" else "log1p"
        hi = float(n_bins - 1) if transform == "binned" else 5.0
        return cls(
            transform=transform,
            n_bins=n_bins,
            value_range=(0.0, hi),
            background=hi / 2,
            mask_value=float(args.get("mask_value", -1)),
            pad_value=float(args.get("pad_value", -2)),
        )

    def grid(self, n: int) -> np.ndarray:
        """``n`` evenly spaced values over the input range (the VVP / GT sweep)."""
        lo, hi = self.value_range
        return np.linspace(lo, hi, n, dtype=np.float32)


def bin_per_cell(X: np.ndarray, n_bins: int) -> np.ndarray:
    """scGPT's value binning: per cell, expressed values -> quantile bins 1..n_bins-1.

    Zeros stay 0. Bin edges are quantiles of that cell's non-zero values, so the result
    does not depend on sequencing depth or the dataset's scale.
    """
    X = np.asarray(X, dtype=np.float32)
    out = np.zeros_like(X)
    qs = np.linspace(0, 1, n_bins - 1)
    for r in range(X.shape[0]):
        row = X[r]
        nz = row > 0
        if not nz.any():
            continue
        edges = np.quantile(row[nz], qs)
        out[r, nz] = np.digitize(row[nz], edges)
    out[np.isnan(X)] = np.nan  # unmeasured stays unmeasured (multi-dataset pretraining)
    return out


def to_model_values(X_lognorm: np.ndarray, spec: ValueSpec) -> np.ndarray:
    """Convert log-normalised expression (cells x genes) to the model's input units."""
    X = np.asarray(X_lognorm, dtype=np.float32)
    if spec.transform == "binned":
        return bin_per_cell(X, spec.n_bins)
    return X


def fit_value_spec(V: np.ndarray, transform: str, n_bins: int = 51) -> ValueSpec:
    """Measure the range and background of model inputs ``V`` (cells x genes)."""
    expressed = V[V > 0]
    if transform == "binned":
        hi = float(n_bins - 1)
    else:
        hi = float(np.quantile(expressed, 0.99)) if expressed.size else 1.0
    background = float(np.median(expressed)) if expressed.size else hi / 2
    return ValueSpec(transform=transform, n_bins=n_bins, value_range=(0.0, hi), background=background)

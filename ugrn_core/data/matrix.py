"""Which matrix of an AnnData holds the expression: ``X``, a layer, or ``raw``.

Why: a typical scanpy object keeps scaled values in ``X`` (``sc.pp.scale``) and the counts in
``layers['counts']`` or ``adata.raw``. The model needs counts or log-normalised values, so the
user names the matrix (``layer=`` / ``use_raw=``, CLI ``--layer`` / ``--use-raw``, the app's
*Expression matrix*), and when ``X`` looks scaled the message says which to name.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import scipy.sparse as sp

from ..errors import DataError

X_MATRIX, RAW_MATRIX = "X", "raw"


def matrix_choices(adata: ad.AnnData) -> list[str]:
    """``X``, then each layer's name, then ``raw`` when present."""
    return [X_MATRIX, *adata.layers.keys(), *([RAW_MATRIX] if adata.raw is not None else [])]


def _has_negatives(X) -> bool:
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool((values < 0).any())


def looks_scaled(X) -> bool:
    """Many negative values (``sc.pp.scale`` leaves about half): a scaled matrix, not a stray
    bad entry, which must be reported rather than worked around."""
    values = X.data if sp.issparse(X) else np.asarray(X)
    return bool(values.size) and float((values < 0).mean()) > 0.01


def suggested_matrix(adata: ad.AnnData) -> str:
    """``X`` unless it looks scaled: then ``counts`` if that layer exists, else ``raw``, else
    the first layer without negative values."""
    if not looks_scaled(adata.X):
        return X_MATRIX
    for choice in ("counts", *adata.layers.keys(), RAW_MATRIX):
        if choice == RAW_MATRIX and adata.raw is not None and not _has_negatives(adata.raw.X):
            return RAW_MATRIX
        if choice in adata.layers and not _has_negatives(adata.layers[choice]):
            return choice
    return X_MATRIX


def how_to_choose(adata: ad.AnnData) -> str:
    """The sentence that tells a user with scaled ``X`` what to name instead."""
    others = [c for c in matrix_choices(adata) if c != X_MATRIX]
    if not others:
        return ("This AnnData has no other matrix: give raw counts or log-normalised expression in X "
                "(keep counts with `adata.layers['counts'] = adata.X.copy()` before scaling).")
    names = ", ".join(f"'{c}'" for c in others)
    hint = suggested_matrix(adata)
    if hint == X_MATRIX:  # X is not scaled as a whole (a stray negative): still name the likeliest other matrix
        hint = "counts" if "counts" in adata.layers else others[0]
    pick = ("`--use-raw` (API `use_raw=True`)" if hint == RAW_MATRIX else
            f"`--layer {hint}` (API `layer='{hint}'`)")
    return f"It also holds {names}: use {pick}, or choose it under *Expression matrix* in the app."


def matrix_arguments(choice: str) -> tuple[str | None, bool]:
    """A choice of :func:`matrix_choices` (``"X"``, a layer's name or ``"raw"``) as the
    ``(layer, use_raw)`` that :func:`use_matrix` and ``prepare_data`` take."""
    return (None if choice in (X_MATRIX, RAW_MATRIX) else choice), choice == RAW_MATRIX


def use_matrix(adata: ad.AnnData, layer: str | None = None, use_raw: bool = False) -> ad.AnnData:
    """An AnnData whose ``X`` is the chosen matrix (the same object when that is ``X``)."""
    if layer is not None and use_raw:
        raise DataError("Choose either a layer or raw, not both (--layer or --use-raw).")
    if use_raw:
        if adata.raw is None:
            raise DataError(f"--use-raw: this AnnData has no .raw. Its matrices: {', '.join(matrix_choices(adata))}.")
        raw = adata.raw
        return ad.AnnData(raw.X, obs=adata.obs.copy(), var=raw.var.copy(), uns=dict(adata.uns))
    if layer is None or layer == X_MATRIX:
        return adata
    if layer not in adata.layers:
        raise DataError(f"--layer {layer!r}: no such layer. Its matrices: {', '.join(matrix_choices(adata))}.")
    return ad.AnnData(adata.layers[layer], obs=adata.obs.copy(), var=adata.var.copy(), uns=dict(adata.uns))


__all__ = ["X_MATRIX", "RAW_MATRIX", "matrix_choices", "looks_scaled", "suggested_matrix", "how_to_choose", "matrix_arguments", "use_matrix"]

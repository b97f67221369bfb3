"""Example data, as AnnData: what a tutorial or a quick check starts from."""

from __future__ import annotations

import anndata as ad
import pandas as pd


def demo() -> ad.AnnData:
    """The demo: 3,000 simulated cells x 300 genes (raw UMI counts in ``X``) from a known
    regulatory network of 30 regulators, the same data the app opens first.

    ``obs``: ``cell_state``, ``condition``; ``var['is_regulator']``;
    ``uns['true_network']``: the planted edges (``source, target, sign``), also
    :func:`demo_network`.
    """
    from .data.simulate import simulate_demo

    return simulate_demo()[0]


def demo_network() -> pd.DataFrame:
    """The demo's planted regulations: ``source, target, sign`` (+1 activates, -1 represses)."""
    from .data.networks import demo_network as planted

    return planted()


__all__ = ["demo", "demo_network"]

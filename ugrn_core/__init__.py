"""UGRN Explorer: read gene regulatory networks out of frozen single-cell foundation models.

``import ugrn_core as ug``, then::

    adata = ug.datasets.demo()
    grn = ug.tl.extract(adata, model="default", n_genes=60, network="demo")   # -> ug.GRN
    grn.targets("TF01")                  # ranked tables; also grn.regulators_of, grn.edges
    ug.pl.targets(grn, "TF01")           # figures
    grn.save("result/"); ug.GRN.load("result/")

The result object is :class:`ugrn_core.grn.GRN`. Submodules load on first use, so the command
line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the lazy names below are
    from . import datasets, models, pl, tl  # noqa: F401
    from .grn import GRN  # noqa: F401

_SUBMODULES = ("datasets", "models", "pl", "tl")


def __getattr__(name: str):
    if name == "GRN":
        from .grn import GRN

        return GRN
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ugrn_core' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "GRN", *_SUBMODULES])


__all__ = ["GRN", "datasets", "models", "pl", "tl", "__version__"]

"""The run manifest: what someone needs to reproduce or audit a result.

Package versions, the checkpoint's content hash, data and panel, extraction parameters,
seeds and timings, as one JSON-able dict written next to every export.
"""

from __future__ import annotations

import datetime as _dt
import platform
from dataclasses import asdict
from importlib import metadata

from . import __version__

PACKAGES = ("torch", "numpy", "pandas", "scipy", "scikit-learn", "anndata", "scanpy", "networkx", "plotly", "pyvis", "streamlit")


def package_versions(packages=PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def run_manifest(grn, **extra) -> dict:
    """Everything that determined ``grn`` (a :class:`~ugrn_core.grn.GRN`)."""
    model = grn.model
    about = model.describe() if hasattr(model, "describe") else {}
    manifest = {
        "tool": "ugrn-explorer",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": package_versions(),
        "model": {**about, "digest": grn.model_digest, "precision": getattr(model, "precision", None),
                  "device": str(getattr(model, "device", None) or "")},
        "data": {
            "source": grn.data_label,
            "preprocessing": grn.data_info.get("preprocessing"),
            "vocabulary": grn.data_info.get("vocabulary"),
            "matrix": grn.data_info.get("matrix"),
            "panel": list(grn.panel),
        },
        "methods": list(grn.features),
        "extraction": asdict(grn.params),
        "network": grn.network.summary() if grn.network is not None else None,
        "translator": grn.translators.info if grn.translators is not None else None,
        "out_of_fold": {"k": grn.crossfit.k, "seed": grn.crossfit.seed} if grn.crossfit is not None else None,
        "seeds": {
            "demo_simulator": 0 if grn.data_label.startswith("demo") else None,
            "translator": (grn.translators.info.get("seed") if grn.translators is not None else None),
        },
        "timings_s": {k: round(float(v), 3) for k, v in grn.timings.items()},
    }
    manifest.update(extra)
    return manifest


__all__ = ["run_manifest", "package_versions"]

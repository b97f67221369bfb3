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


def run_manifest(analysis, **extra) -> dict:
    """Everything that determined ``analysis`` (an :class:`~ugrn_core.explore.Analysis`)."""
    model, prepared = analysis.model, analysis.prepared
    manifest = {
        "tool": "ugrn-explorer",
        "version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": package_versions(),
        "model": {**model.describe(), "digest": model.digest, "precision": model.precision, "device": str(model.device)},
        "data": {
            "source": analysis.data_label,
            "preprocessing": prepared.report.__dict__,
            "vocabulary": prepared.mapping.summary(),
            "panel": list(prepared.panel),
        },
        "methods": list(analysis.results),
        "extraction": asdict(analysis.params),
        "network": analysis.network.summary() if analysis.network is not None else None,
        "translator": analysis.translators.info if analysis.translators is not None else None,
        "seeds": {
            "demo_simulator": 0 if analysis.data_label.startswith("demo") else None,
            "translator": (analysis.translators.info.get("seed") if analysis.translators is not None else None),
        },
        "timings_s": {k: round(float(v), 3) for k, v in analysis.timings.items()},
    }
    manifest.update(extra)
    return manifest


__all__ = ["run_manifest", "package_versions"]

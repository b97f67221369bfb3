"""One download with everything a result needs to travel: tables, networks, manifest.

Files inside the bundle: ``rankedEdges.csv`` (BEELINE: tab-separated Gene1, Gene2, EdgeWeight),
``edges_all_methods.csv`` (every score, one row per pair), ``network.graphml`` and
``network.sif`` (the top edges, for Cytoscape, each ``activates`` / ``represses`` /
``regulates`` by its predicted sign), ``regulon.csv`` (the same top edges as decoupler's
``source, target, weight`` with a signed weight) and ``manifest.json``.

Tables meant for spreadsheets go through :func:`spreadsheet_csv`: a text cell that begins
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run as a formula in Excel
or LibreOffice (CSV injection), so it is written with a leading ``'`` (OWASP's convention;
spreadsheets show the text as typed). Numbers are never changed.
"""

from __future__ import annotations

import io
import json
import zipfile

import pandas as pd

from .graph import ranked_edges_text, regulon_table, to_graphml, to_sif, top_edges_graph
from .manifest import run_manifest


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot start a spreadsheet formula (see the module's docstring)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v)
    return out


def spreadsheet_csv(df: pd.DataFrame, **kwargs) -> str:
    """``df.to_csv(index=False)`` with formula-leading text neutralised."""
    return spreadsheet_safe(df).to_csv(index=False, **kwargs)


def export_files(analysis, method: str, n_edges: int = 500) -> dict[str, str]:
    """File name -> text for every export of ``analysis`` (a :class:`~ugrn_core.grn.GRN`) ranked by ``method``."""
    edges = analysis.edges()
    G = top_edges_graph(edges, method, n_edges, analysis.known_pairs)
    manifest = run_manifest(analysis, export={"ranked_by": method, "network_edges": G.number_of_edges()})
    return {
        "rankedEdges.csv": ranked_edges_text(edges, method),
        "edges_all_methods.csv": spreadsheet_csv(edges),
        "network.graphml": to_graphml(G),
        "network.sif": to_sif(G),
        **({"regulon.csv": spreadsheet_csv(regulon_table(edges, method, n_edges))} if "predicted_sign" in edges else {}),
        "manifest.json": json.dumps(manifest, indent=2, default=str),
    }


def zip_bundle(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


__all__ = ["export_files", "zip_bundle"]

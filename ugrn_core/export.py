"""One download with everything a result needs to travel: tables, networks, manifest.

Files inside the bundle: ``rankedEdges.csv`` (BEELINE: tab-separated Gene1, Gene2, EdgeWeight),
``edges_all_methods.csv`` (every score, one row per pair), ``network.graphml`` and
``network.sif`` (the top edges, for Cytoscape, each ``activates`` / ``represses`` /
``regulates`` by its predicted sign), ``regulon.csv`` (the same top edges as decoupler's
``source, target, weight`` with a signed weight) and ``manifest.json``.
"""

from __future__ import annotations

import io
import json
import zipfile

from .graph import ranked_edges_text, regulon_table, to_graphml, to_sif, top_edges_graph
from .manifest import run_manifest


def export_files(analysis, method: str, n_edges: int = 500) -> dict[str, str]:
    """File name -> text for every export of ``analysis`` (a :class:`~ugrn_core.grn.GRN`) ranked by ``method``."""
    edges = analysis.edges()
    G = top_edges_graph(edges, method, n_edges, analysis.known_pairs)
    manifest = run_manifest(analysis, export={"ranked_by": method, "network_edges": G.number_of_edges()})
    return {
        "rankedEdges.csv": ranked_edges_text(edges, method),
        "edges_all_methods.csv": edges.to_csv(index=False),
        "network.graphml": to_graphml(G),
        "network.sif": to_sif(G),
        **({"regulon.csv": regulon_table(edges, method, n_edges).to_csv(index=False)} if "predicted_sign" in edges else {}),
        "manifest.json": json.dumps(manifest, indent=2, default=str),
    }


def zip_bundle(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


__all__ = ["export_files", "zip_bundle"]

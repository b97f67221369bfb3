"""Pathway check: are a regulator's top predicted targets enriched in known gene sets?

Over-representation analysis: for each gene set, the hypergeometric probability of seeing
at least the observed overlap between the query genes and the set when drawing the query
from the universe (the genes that could have been predicted, i.e. the panel), then
Benjamini-Hochberg FDR across sets. Matching is case-insensitive (mouse and human symbols).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, hypergeom

from .errors import DataError

ENRICHMENT_COLUMNS = ["gene_set", "set_size", "overlap", "expected", "fold", "p_value", "fdr", "genes"]


def parse_gmt(text: str, name: str = "GMT") -> dict[str, list[str]]:
    """``name <tab> description <tab> gene…`` per line (MSigDB/Enrichr GMT)."""
    sets: dict[str, list[str]] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.rstrip("\n").split("\t")]
        if len(parts) < 3:
            raise DataError(
                f"{name} line {n} has {len(parts)} tab-separated field(s); a GMT line is "
                "`set name<TAB>description<TAB>gene1<TAB>gene2…`."
            )
        genes = [g.split(",")[0] for g in parts[2:] if g]  # Enrichr may append ",weight"
        if genes:
            sets[parts[0]] = list(dict.fromkeys(genes))
    if not sets:
        raise DataError(f"{name} holds no gene sets. Is it a GMT file?")
    return sets


def read_gmt(source: str | Path | bytes, name: str | None = None) -> dict[str, list[str]]:
    """Read a ``.gmt`` / ``.gmt.gz`` file (path or raw bytes of an upload)."""
    if isinstance(source, bytes):
        raw, label = source, name or "upload"
    else:
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(f"{path} does not exist. Give a GMT file (MSigDB or Enrichr format).")
        raw, label = path.read_bytes(), name or path.name
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{label} is not a text GMT file (not UTF-8).") from None
    return parse_gmt(text, label)


def regulon_gene_sets(network: pd.DataFrame, min_size: int = 3) -> dict[str, list[str]]:
    """Each regulator's known targets as a gene set (``<TF>_TARGETS``): built-in sets for any
    reference network, e.g. the demo's planted network, so the check runs out of the box."""
    sets = {}
    for reg, grp in network.groupby("source", sort=True):
        targets = list(dict.fromkeys(grp.target))
        if len(targets) >= min_size:
            sets[f"{reg}_TARGETS"] = targets
    return sets


def enrichment(
    genes: list[str],
    universe: list[str],
    gene_sets: dict[str, list[str]],
    min_size: int = 3,
    max_size: int = 1000,
) -> pd.DataFrame:
    """Over-representation of ``genes`` in each set, within ``universe``; best first."""
    uni = {g.upper() for g in universe}
    query = {g.upper() for g in genes} & uni
    if not query:
        raise DataError("None of the query genes is in the universe; nothing to test.")
    N, n = len(uni), len(query)
    rows = []
    for name, members in gene_sets.items():
        s = {g.upper() for g in members} & uni
        if not (min_size <= len(s) <= max_size):
            continue
        hits = sorted(query & s)
        k, K = len(hits), len(s)
        expected = n * K / N
        rows.append({
            "gene_set": name, "set_size": K, "overlap": k, "expected": expected,
            "fold": k / expected if expected else np.nan,
            "p_value": float(hypergeom.sf(k - 1, N, K, n)), "genes": ", ".join(hits),
        })
    if not rows:
        return pd.DataFrame(columns=ENRICHMENT_COLUMNS)
    out = pd.DataFrame(rows)
    out["fdr"] = false_discovery_control(out.p_value.to_numpy(), method="bh")
    out = out.sort_values(["p_value", "gene_set"], kind="stable").reset_index(drop=True)
    return out[ENRICHMENT_COLUMNS]


def gene_set_coverage(gene_sets: dict[str, list[str]], universe: list[str], min_size: int = 3) -> str:
    """One line on how many sets are testable here, so zero-overlap files are explained."""
    uni = {g.upper() for g in universe}
    usable = sum(len({g.upper() for g in m} & uni) >= min_size for m in gene_sets.values())
    return f"{usable} of {len(gene_sets)} gene sets have at least {min_size} genes in the panel ({len(uni)} genes)."


__all__ = ["parse_gmt", "read_gmt", "regulon_gene_sets", "enrichment", "gene_set_coverage", "ENRICHMENT_COLUMNS"]
